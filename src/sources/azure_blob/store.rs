//! The storage calls the blob source makes: list blobs by prefix, read a byte range of one.
//!
//! azure_storage_blob's clients do the requests; this wrapper gives them the source's
//! authorization policy and retry options, and turns every failure into a classified
//! [`SourceError`] whose text never holds a SAS.

use std::ops::Range;

use azure_core::http::{ClientOptions, Etag, RetryOptions, StatusCode, Url};
use azure_storage_blob::models::{BlobClientDownloadOptions, BlobContainerClientListBlobsOptions};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use futures::TryStreamExt;

use super::access::BlobAccess;
use crate::sources::SourceError;
use crate::sources::azure::failure::{self, AzureApi};
use crate::telemetry::metrics;

const ACCESS_HINT: &str = "the Storage Blob Data Reader role on the storage account or container";
const NOT_FOUND_HINT: &str =
    "check `account_url` and that diagnostic settings archive kube-audit logs to this account";

/// A listed blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    pub container: String,
    pub name: String,
    pub size: u64,
    pub etag: Option<String>,
    pub created_ms: Option<i64>,
}

impl BlobInfo {
    /// The key of the blob in the cursor.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container, self.name)
    }
}

/// What a ranged read found.
pub enum Read {
    Bytes(Vec<u8>),
    /// The blob changed or shrank since it was listed: list again next poll.
    Changed,
}

pub struct BlobStore {
    source: String,
    containers: Vec<(String, BlobContainerClient)>,
    api: AzureApi,
}

impl BlobStore {
    pub fn new(
        source: &str,
        account_url: &Url,
        containers: &[String],
        access: &BlobAccess,
        retry: RetryOptions,
    ) -> Result<Self, SourceError> {
        let policy = access.policy()?;
        let mut clients = Vec::new();
        for container in containers {
            let options = BlobContainerClientOptions {
                client_options: ClientOptions {
                    retry: retry.clone(),
                    per_try_policies: policy.iter().cloned().collect(),
                    ..Default::default()
                },
                ..Default::default()
            };
            let url = access.container_url(account_url, container)?;
            let client = BlobContainerClient::new(url, None, Some(options)).map_err(|e| {
                SourceError::fatal(failure::scrub(&format!("container {container}: {e}")))
            })?;
            clients.push((container.clone(), client));
        }
        Ok(BlobStore {
            source: source.to_owned(),
            containers: clients,
            api: AzureApi {
                service: "Azure Blob Storage",
                endpoint: failure::scrub(account_url.as_str()),
                access_hint: ACCESS_HINT,
                not_found_hint: NOT_FOUND_HINT,
            },
        })
    }

    pub fn containers(&self) -> impl Iterator<Item = &str> {
        self.containers.iter().map(|(name, _)| name.as_str())
    }

    fn client(&self, container: &str) -> Result<&BlobContainerClient, SourceError> {
        self.containers
            .iter()
            .find(|(name, _)| name == container)
            .map(|(_, c)| c)
            .ok_or_else(|| SourceError::fatal(format!("unknown container {container}")))
    }

    /// The blobs of `container` whose name starts with `prefix` and that `keep` accepts; `limit`
    /// stops after one page of at most that many (for healthchecks). `keep` sees every listed
    /// blob page by page, so a container of many blobs (months of hourly archives) costs one
    /// page of memory plus what is kept, not the whole listing.
    pub async fn list(
        &self,
        container: &str,
        prefix: &str,
        limit: Option<i32>,
        mut keep: impl FnMut(&BlobInfo) -> bool,
    ) -> Result<Vec<BlobInfo>, SourceError> {
        let what = format!("listing {container}/{prefix}");
        let fail = |e: azure_core::Error| self.api.error(&e, &what);
        let options = BlobContainerClientListBlobsOptions {
            prefix: Some(prefix.to_owned()),
            maxresults: limit,
            ..Default::default()
        };
        let mut pages = self
            .client(container)?
            .list_blobs(Some(options))
            .map_err(fail)?
            .into_pages();
        let mut out = Vec::new();
        loop {
            metrics::record_api_call(&self.source, "storage_list_blobs");
            let Some(page) = pages.try_next().await.map_err(fail)? else {
                break;
            };
            let page = page.into_model().map_err(fail)?;
            for item in page.blob_items {
                let Some(name) = item.name else { continue };
                let properties = item.properties.unwrap_or_default();
                let blob = BlobInfo {
                    container: container.to_owned(),
                    name,
                    size: properties.content_length.unwrap_or(0),
                    etag: properties.etag.map(|e| e.to_string()),
                    created_ms: properties
                        .creation_time
                        .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0)),
                };
                if keep(&blob) {
                    out.push(blob);
                }
            }
            if limit.is_some() {
                break;
            }
        }
        Ok(out)
    }

    /// The bytes `range` of a blob, if it still is the version `etag` names.
    pub async fn read(&self, blob: &BlobInfo, range: Range<u64>) -> Result<Read, SourceError> {
        let what = format!("reading {}", blob.key());
        let client = self.client(&blob.container)?.blob_client(&blob.name);
        let options = BlobClientDownloadOptions {
            range: Some(range.into()),
            if_match: blob.etag.clone().map(Etag::from),
            parallel: std::num::NonZeroUsize::new(1),
            ..Default::default()
        };
        metrics::record_api_call(&self.source, "storage_get_blob");
        let result = match client.download(Some(options)).await {
            Ok(result) => result,
            Err(e)
                if matches!(
                    e.http_status(),
                    Some(StatusCode::PreconditionFailed | StatusCode::RequestedRangeNotSatisfiable)
                ) =>
            {
                return Ok(Read::Changed);
            }
            Err(e) => return Err(self.api.error(&e, &what)),
        };
        let bytes = result
            .body
            .collect()
            .await
            .map_err(|e| self.api.error(&e, &what))?;
        Ok(Read::Bytes(bytes.to_vec()))
    }
}

/// A container that does not exist yet: nothing archived so far.
pub fn is_not_found(e: &SourceError) -> bool {
    e.message.contains("HTTP 404")
}
