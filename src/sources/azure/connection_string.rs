//! Azure Storage connection strings: `Key=Value;…` as the portal and emulators give them.
//!
//! Only what a blob reader needs is kept: the blob endpoint and either an account key or a SAS.
//! The key and SAS are [`Secret`]s, so neither a `Debug` print nor an error message shows them.

use azure_core::credentials::Secret;
use url::Url;

/// The account of the storage emulator, and its published, well-known key.
pub const EMULATOR_ACCOUNT: &str = "devstoreaccount1";
pub const EMULATOR_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const EMULATOR_BLOB_ENDPOINT: &str = "http://127.0.0.1:10000/devstoreaccount1";

/// How requests to the account are authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StorageKey {
    AccountKey {
        account: String,
        key: Secret,
    },
    /// A SAS token (the query string, without `?`).
    Sas(Secret),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionString {
    pub blob_endpoint: Url,
    pub key: Option<StorageKey>,
}

/// Parses a connection string; errors name the missing or bad part, never a secret.
pub fn parse(text: &str) -> Result<ConnectionString, String> {
    let mut account = None;
    let mut key = None;
    let mut sas = None;
    let mut blob_endpoint = None;
    let mut protocol = "https".to_owned();
    let mut suffix = "core.windows.net".to_owned();
    let mut development = false;
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, value)) = part.split_once('=') else {
            return Err("a part of the connection string is not `Name=Value`".to_owned());
        };
        match name.trim() {
            "AccountName" => account = Some(value.to_owned()),
            "AccountKey" => key = Some(Secret::new(value.to_owned())),
            "SharedAccessSignature" => {
                sas = Some(Secret::new(value.trim_start_matches('?').to_owned()))
            }
            "BlobEndpoint" => blob_endpoint = Some(value.to_owned()),
            "DefaultEndpointsProtocol" => protocol = value.to_owned(),
            "EndpointSuffix" => suffix = value.to_owned(),
            "UseDevelopmentStorage" => development = value.eq_ignore_ascii_case("true"),
            // Other services' endpoints and unknown keys do not concern blob reading.
            _ => {}
        }
    }
    if development {
        account.get_or_insert_with(|| EMULATOR_ACCOUNT.to_owned());
        key.get_or_insert_with(|| Secret::new(EMULATOR_KEY));
        blob_endpoint.get_or_insert_with(|| EMULATOR_BLOB_ENDPOINT.to_owned());
    }
    let endpoint = match (blob_endpoint, &account) {
        (Some(endpoint), _) => endpoint,
        (None, Some(account)) => format!("{protocol}://{account}.blob.{suffix}"),
        (None, None) => {
            return Err(
                "the connection string has neither BlobEndpoint nor AccountName".to_owned(),
            );
        }
    };
    let blob_endpoint =
        Url::parse(&endpoint).map_err(|e| format!("BlobEndpoint is not a URL: {e}"))?;
    let key = match (key, sas, account) {
        (_, Some(sas), _) => Some(StorageKey::Sas(sas)),
        (Some(key), None, Some(account)) => Some(StorageKey::AccountKey { account, key }),
        (Some(_), None, None) => {
            return Err("the connection string has an AccountKey but no AccountName".to_owned());
        }
        (None, None, _) => None,
    };
    Ok(ConnectionString { blob_endpoint, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_key_form() {
        let c = parse("DefaultEndpointsProtocol=https;AccountName=logs;AccountKey=a2V5;EndpointSuffix=core.windows.net").unwrap();
        assert_eq!(
            c.blob_endpoint.as_str(),
            "https://logs.blob.core.windows.net/"
        );
        assert_eq!(
            c.key,
            Some(StorageKey::AccountKey {
                account: "logs".into(),
                key: Secret::new("a2V5")
            })
        );
    }

    #[test]
    fn emulator_and_sas_forms() {
        let dev = parse("UseDevelopmentStorage=true").unwrap();
        assert_eq!(dev.blob_endpoint.port(), Some(10000));
        assert!(
            matches!(dev.key, Some(StorageKey::AccountKey { ref account, .. }) if account == EMULATOR_ACCOUNT)
        );
        let sas = parse(
            "BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature=?sv=1&sig=abc",
        )
        .unwrap();
        assert_eq!(sas.key, Some(StorageKey::Sas(Secret::new("sv=1&sig=abc"))));
    }

    #[test]
    fn errors_never_show_secrets() {
        let e = parse("AccountKey=c2VjcmV0").unwrap_err();
        assert!(!e.contains("c2VjcmV0"), "{e}");
        assert!(parse("garbage").is_err());
        let debug = format!("{:?}", parse("AccountName=a;AccountKey=c2VjcmV0").unwrap());
        assert!(!debug.contains("c2VjcmV0"), "{debug}");
    }
}
