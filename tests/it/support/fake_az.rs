//! A stand-in for the Azure CLI, so the real binary can take its `credential = "azure_cli"`
//! path to a local fake (the fake Log Analytics wants a bearer token) without any test-only
//! switch in the daemon.
//!
//! azure_identity 1.0's `AzureCliCredential` runs `/bin/sh -c "cd /bin && az account
//! get-access-token -o json --scope SCOPE"` (plus `--tenant`/`--subscription` when set, which
//! the daemon never sets) and reads `accessToken`, `tokenType` and `expires_on` (Unix seconds,
//! Azure CLI 2.54 and later) from stdout. The script prints what `az` 2.54+ prints, found first
//! on the child's `PATH` ([`FakeAz::path`]); any other arguments get an error on stderr and
//! exit status 2, as a real `az` would fail, so a change in how the credential calls `az`
//! shows up as a failed test rather than a token handed out anyway. Every call is appended to
//! a file, one line of arguments each.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub struct FakeAz {
    dir: tempfile::TempDir,
}

impl FakeAz {
    /// Writes an `az` that hands out `token`, valid for an hour from each call.
    pub fn install(token: &str) -> FakeAz {
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "a token the script can print verbatim"
        );
        let dir = tempfile::tempdir().unwrap();
        let calls = dir.path().join("calls");
        let script = format!(
            r#"#!/bin/sh
# Answers `az account get-access-token` as Azure CLI 2.54+ does.
printf '%s\n' "$*" >> '{calls}'
case "$*" in
  "account get-access-token -o json --scope "*) ;;
  *) echo "ERROR: 'az $*' is not what the fake az answers" >&2; exit 2 ;;
esac
expires=$(( $(date +%s) + 3600 ))
printf '{{"accessToken": "%s", "expiresOn": "%s", "expires_on": %s, "subscription": "%s", "tenant": "%s", "tokenType": "Bearer"}}\n' \
  '{token}' "$(date -d "@$expires" '+%Y-%m-%d %H:%M:%S.000000')" "$expires" \
  '0b1f6471-1bf0-4dda-aec3-111122223333' '72f988bf-86f1-41af-91ab-2d7cd011db47'
"#,
            calls = calls.display()
        );
        let az = dir.path().join("az");
        std::fs::write(&az, script).unwrap();
        std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
        FakeAz { dir }
    }

    /// A `PATH` for the child: this `az` first, then the test process's own `PATH`.
    pub fn path(&self) -> String {
        let mut dirs = vec![self.dir.path().to_path_buf()];
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(dirs)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The arguments of every call so far, in order.
    pub fn calls(&self) -> Vec<String> {
        std::fs::read_to_string(self.calls_file())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn calls_file(&self) -> PathBuf {
        self.dir.path().join("calls")
    }
}
