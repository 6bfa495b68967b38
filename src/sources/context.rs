//! What every source is built from: one context struct and one constructor shape.
//!
//! A source gets only what a fetcher needs — its name, the clock and the shared request budgets —
//! so it cannot reach the state store, the pipeline or the outbox: those belong to the ingest
//! layer that drives it.

use std::future::Future;
use std::sync::Arc;

use super::rate_limit::RateLimits;
use super::{Source, SourceError};
use crate::clock::Clock;

/// The shared parts a source is built with.
#[derive(Clone)]
pub struct SourceContext {
    /// The source's configured name, for logs, metrics and error sentences.
    pub name: String,
    pub clock: Arc<dyn Clock>,
    /// Request budgets shared by every source of one account, project or endpoint.
    pub rate_limits: RateLimits,
}

impl SourceContext {
    pub fn new(name: impl Into<String>, clock: Arc<dyn Clock>, rate_limits: RateLimits) -> Self {
        SourceContext {
            name: name.into(),
            clock,
            rate_limits,
        }
    }
}

/// The one constructor every source type has: its context and its own settings.
pub trait BuildSource: Source + Sized {
    type Settings;

    /// Builds the source. Credentials may be resolved here (a missing key file is reported at
    /// start); no provider call is made before the first poll or healthcheck.
    fn build(
        ctx: SourceContext,
        settings: &Self::Settings,
    ) -> impl Future<Output = Result<Self, SourceError>> + Send;
}
