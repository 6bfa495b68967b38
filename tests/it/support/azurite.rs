//! Azurite, the storage emulator (npm `azurite`), for the `azure_blob` tests.
//!
//! The tests install it themselves under `target/azurite` through the shared [`installer`] the
//! first time (about half a minute), and reuse it afterwards. Each test starts its own Azurite on
//! a free loopback port with in-memory storage, killed when the test ends.
//!
//! There is no skip switch: a test that returned early would show as passed. Without node and
//! npm these tests fail saying so; to leave them out on purpose, filter them by name
//! (`cargo test --test it -- --skip azure_blob`), which the test report shows as filtered out.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use azure_core::http::{ClientOptions, RequestContent, Url};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use nodeport_watch::sources::azure::connection_string::{EMULATOR_ACCOUNT, EMULATOR_KEY};
use nodeport_watch::sources::azure::shared_key::SharedKeyPolicy;
use tokio::process::{Child, Command};

use super::installer::{self, Manager};

const VERSION: &str = "3.37.0";
const READY_DEADLINE: Duration = Duration::from_secs(60);

fn entry_point(dir: &Path) -> PathBuf {
    dir.join("node_modules/azurite/dist/src/blob/main.js")
}

/// Installs Azurite once per target directory; returns its directory.
fn installed() -> Result<PathBuf, String> {
    let dir = installer::install("azurite", Manager::Npm, &[&format!("azurite@{VERSION}")])
        .map_err(|e| {
            format!("{e}; to leave these tests out, filter them: `-- --skip azure_blob`")
        })?;
    if entry_point(&dir).exists() {
        Ok(dir)
    } else {
        Err(format!(
            "npm installed azurite@{VERSION} without {}",
            entry_point(&dir).display()
        ))
    }
}

/// A running Azurite blob service.
pub struct Azurite {
    _child: Child,
    _data: tempfile::TempDir,
    pub port: u16,
}

impl Azurite {
    pub async fn start() -> Azurite {
        let dir = tokio::task::spawn_blocking(installed)
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map(|a| a.port())
                .unwrap();
            let data = tempfile::tempdir().unwrap();
            let log_path = data.path().join("azurite.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let mut child = Command::new("node")
                .arg(entry_point(&dir))
                .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
                .args(["--skipApiVersionCheck", "--loose", "--inMemoryPersistence"])
                .current_dir(data.path())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .kill_on_drop(true)
                .spawn()
                .expect("node starts");
            let deadline = Instant::now() + READY_DEADLINE;
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break; // The port was taken in between: try another.
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    return Azurite {
                        _child: child,
                        _data: data,
                        port,
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("Azurite did not start: {last_log}");
    }

    pub fn account_url(&self) -> Url {
        Url::parse(&format!(
            "http://127.0.0.1:{}/{EMULATOR_ACCOUNT}",
            self.port
        ))
        .unwrap()
    }

    pub fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={EMULATOR_ACCOUNT};AccountKey={EMULATOR_KEY};BlobEndpoint={};",
            self.account_url()
        )
    }

    /// A client for writing test data, signed with the emulator's account key.
    pub fn container(&self, name: &str) -> BlobContainerClient {
        let policy = SharedKeyPolicy::new(EMULATOR_ACCOUNT, &Secret::new(EMULATOR_KEY)).unwrap();
        let mut url = self.account_url();
        url.path_segments_mut().unwrap().push(name);
        let options = BlobContainerClientOptions {
            client_options: ClientOptions {
                per_try_policies: vec![Arc::new(policy)],
                ..Default::default()
            },
            ..Default::default()
        };
        BlobContainerClient::new(url, None, Some(options)).unwrap()
    }

    pub async fn create_container(&self, name: &str) -> BlobContainerClient {
        let c = self.container(name);
        c.create(None).await.unwrap();
        c
    }
}

/// Appends `bytes` to an append blob, creating it first when `create`.
pub async fn append(container: &BlobContainerClient, name: &str, bytes: &[u8], create: bool) {
    let blob = container.blob_client(name).append_blob_client();
    if create {
        blob.create(None).await.unwrap();
    }
    blob.append_block(
        RequestContent::from(bytes.to_vec()),
        bytes.len() as u64,
        None,
    )
    .await
    .unwrap();
}
