//! The GKE side of the fleet harness (`support::fleet`): sources reading projects on the fake
//! Cloud Logging, and NodePort creates written there.

use chrono::Utc;

use super::fake_logging::FakeLogging;
use super::fleet::{Fleet, INTERVAL};
use super::gcp::nodeport_create;
use super::postgres::PgServer;

impl<'a> Fleet<'a, FakeLogging> {
    /// A fleet whose `sources` are (name, project) on the fake, each project limited to
    /// `requests_per_minute`. No daemon runs yet.
    pub async fn new(
        server: &'a PgServer,
        sources: &[(&str, &str)],
        requests_per_minute: u32,
    ) -> Fleet<'a, FakeLogging> {
        let logging = FakeLogging::start().await;
        let mut text = String::new();
        for (name, project) in sources {
            text.push_str(&format!(
                "\n[[sources]]\ntype = \"gcp_logging\"\nname = \"{name}\"\nprojects = [\"{project}\"]\n\
                 endpoint = \"{}\"\nanonymous = true\ninterval = \"{}s\"\nlag = \"1s\"\n\
                 lookback = \"10m\"\nrequests_per_minute = {requests_per_minute}\n",
                logging.endpoint(),
                INTERVAL.as_secs(),
            ));
        }
        Fleet::with_sources(server, logging, &text, &[]).await
    }

    /// Writes a NodePort create into `project`, visible to the next poll; returns its id.
    pub fn insert(&mut self, project: &str) -> String {
        let n = self.next_event();
        let time = Utc::now() - chrono::Duration::seconds(2);
        let entry = nodeport_create(project, "c1", time, n);
        let id = entry["insertId"].as_str().unwrap().to_owned();
        self.api.insert(entry);
        id
    }
}
