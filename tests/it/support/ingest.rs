//! The one harness that drives a source through the ingest layer, as the daemon does: the
//! source's checkpoint, a scan's event window, `max_catchup`, the pipeline, the fenced commit.
//!
//! Every source test opens its [`SourceDriver`] here, so a change to how the daemon opens a
//! source reaches every test at once.

use std::sync::Arc;
use std::time::Duration;

use nodeport_watch::alert::Router;
use nodeport_watch::clock::Clock;
use nodeport_watch::config::SourceSettings;
use nodeport_watch::detect::{Detector, Exceptions};
use nodeport_watch::ingest::{Services, SourceDriver, StepReport};
use nodeport_watch::sources::{PollMode, Progress, Source, SourceContext};
use nodeport_watch::state::StateStore;

/// Services over `store` with the default rules, no exceptions and `router`: for tests that
/// have no settings file.
pub fn services(store: Arc<dyn StateStore>, clock: Arc<dyn Clock>, router: Router) -> Services {
    let detector = Detector::new(Detector::default_rules(), Exceptions::default());
    Services::new(store, clock, detector, router, false)
}

/// What a source named `name` is built with under `services`.
pub fn context(services: &Services, name: &str) -> SourceContext {
    services.source_context(name)
}

/// Opens `source` (named `name`) under the ingest layer.
pub async fn open<S: Source>(
    services: &Services,
    name: &str,
    source: S,
    mode: PollMode,
    max_catchup: Option<Duration>,
) -> SourceDriver<S> {
    SourceDriver::open(services, name, source, mode, max_catchup)
        .await
        .expect("open the source's checkpoint")
}

/// Opens `source` with the name and `max_catchup` its configuration gives.
pub async fn open_configured<S: Source>(
    services: &Services,
    settings: &SourceSettings,
    source: S,
    mode: PollMode,
) -> SourceDriver<S> {
    open(services, &settings.name, source, mode, settings.max_catchup).await
}

/// Steps until the source has nothing more to read now (or a scan is done); returns every
/// step's report. Panics on a failed step or after `max_steps`.
pub async fn drain<S: Source>(driver: &mut SourceDriver<S>, max_steps: usize) -> Vec<StepReport> {
    let mut reports = Vec::new();
    for _ in 0..max_steps {
        let report = driver.step().await.expect("a step");
        let progress = report.progress;
        reports.push(report);
        if progress != Progress::More {
            return reports;
        }
    }
    panic!("still not caught up after {max_steps} steps");
}
