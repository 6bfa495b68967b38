//! The operations endpoints of `[server] listen`: `/healthz` (the process answers), `/readyz`
//! (see [`super::readiness`]) and `/metrics` (Prometheus text format).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use thiserror::Error;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::{error, info};

use super::Health;
use super::exporter;
use super::readiness::Readiness;
use crate::state::StateStore;

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Clone)]
pub struct ServerState {
    pub readiness: Arc<Readiness>,
    pub health: Arc<Health>,
    pub store: Arc<dyn StateStore>,
    pub metrics: PrometheusHandle,
}

pub fn router(state: ServerState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(s): State<ServerState>) -> impl IntoResponse {
    let report = s.readiness.check().await;
    let status = if report.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, report.text)
}

async fn metrics(State(s): State<ServerState>) -> impl IntoResponse {
    let fleet = s.readiness.leases().exports_fleet_metrics();
    let text = exporter::render(&s.metrics, &s.health, &s.store, fleet).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
}

pub async fn bind(addr: SocketAddr) -> Result<TcpListener, ServerError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })
}

/// Serves until `stop` is cancelled.
pub async fn serve(listener: TcpListener, state: ServerState, stop: CancellationToken) {
    match listener.local_addr() {
        Ok(addr) => info!(listen = %addr, "serving /healthz, /readyz and /metrics"),
        Err(_) => info!("serving /healthz, /readyz and /metrics"),
    }
    if let Err(e) = axum::serve(listener, router(state))
        .with_graceful_shutdown(stop.cancelled_owned())
        .await
    {
        error!(error = %e, "the health and metrics server stopped");
    }
}
