//! What every source and deliverer of one process shares: the state store, the clock, health,
//! the outbox signal, the request budgets and the detection parts every pipeline is built from.

use std::sync::Arc;

use crate::alert::Router;
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::delivery::OutboxSignal;
use crate::detect::{Detector, Exceptions};
use crate::pipeline::Pipeline;
use crate::sources::SourceContext;
use crate::sources::rate_limit::RateLimits;
use crate::state::{self, Access, StateError, StateStore};
use crate::telemetry::Health;

#[derive(Clone)]
pub struct Services {
    pub store: Arc<dyn StateStore>,
    pub clock: Arc<dyn Clock>,
    pub health: Arc<Health>,
    pub outbox: OutboxSignal,
    pub rate_limits: RateLimits,
    pub detector: Arc<Detector>,
    pub router: Arc<Router>,
    pub include_raw: bool,
}

impl Services {
    /// Opens the state store named by the settings for `access` and builds the shared parts.
    pub async fn open(settings: &Settings, access: Access) -> Result<Services, StateError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = state::open(&settings.state, access, Arc::clone(&clock)).await?;
        Ok(Services::with_store(settings, store, clock))
    }

    pub fn with_store(
        settings: &Settings,
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
    ) -> Services {
        let detection = &settings.detection;
        Services::new(
            store,
            clock,
            Detector::new(
                detection.rules.clone(),
                Exceptions::new(detection.exceptions.clone()),
            ),
            Router::new(settings.sinks.iter().map(|s| s.route.clone()).collect()),
            detection.include_raw,
        )
    }

    /// Services over explicit detection parts (tests, embedders without a settings file).
    pub fn new(
        store: Arc<dyn StateStore>,
        clock: Arc<dyn Clock>,
        detector: Detector,
        router: Router,
        include_raw: bool,
    ) -> Services {
        Services {
            store,
            health: Arc::new(Health::new(Arc::clone(&clock))),
            clock,
            outbox: OutboxSignal::default(),
            rate_limits: RateLimits::default(),
            detector: Arc::new(detector),
            router: Arc::new(router),
            include_raw,
        }
    }

    /// What the source named `name` is built with.
    pub fn source_context(&self, name: &str) -> SourceContext {
        SourceContext::new(
            name,
            Arc::clone(&self.clock),
            self.rate_limits.for_source(name),
        )
    }

    /// The pipeline of one source.
    pub fn pipeline(&self, source: &str) -> Pipeline {
        Pipeline::new(
            source,
            Arc::clone(&self.detector),
            Arc::clone(&self.router),
            self.include_raw,
            Arc::clone(&self.clock),
        )
    }
}
