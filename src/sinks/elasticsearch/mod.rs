//! `elasticsearch` (and OpenSearch): each alert indexed through the `_bulk` API into a data
//! stream as an ECS document, idempotent by alert id.
//!
//! [`bulk`] owns the request format and the per-item classification; [`ecs`] the document.

pub mod bulk;
pub mod config;
pub mod ecs;

pub use config::{ElasticsearchSettings, RawElasticsearchSink};

use async_trait::async_trait;
use reqwest::header::HeaderMap;

use super::http::{JsonPoster, Redactor};
use super::{DeliveryError, Sink};
use crate::model::Alert;

#[derive(Debug)]
pub struct ElasticsearchSink {
    poster: JsonPoster,
    settings: ElasticsearchSettings,
    auth_headers: HeaderMap,
}

impl ElasticsearchSink {
    pub fn new(settings: &ElasticsearchSettings) -> Result<Self, String> {
        let mut redactor = Redactor::default();
        settings.auth.redact_with(&mut redactor);
        Ok(ElasticsearchSink {
            poster: JsonPoster::new(
                "Elasticsearch",
                settings.bulk.clone(),
                settings.http.timeout,
                redactor,
            )?,
            auth_headers: settings.auth.headers()?,
            settings: settings.clone(),
        })
    }
}

#[async_trait]
impl Sink for ElasticsearchSink {
    async fn deliver(&self, alert: &Alert) -> Result<(), DeliveryError> {
        let body = bulk::body(&self.settings.data_stream, &alert.id, &ecs::document(alert))?;
        let response = self
            .poster
            .send("application/x-ndjson", self.auth_headers.clone(), body)
            .await?;
        bulk::classify(&response)
    }

    /// `GET /` with the credentials: the cluster answers with its name and version.
    async fn healthcheck(&self) -> Result<(), DeliveryError> {
        super::http::get_ok_with(
            &self.poster,
            self.settings.root.clone(),
            self.auth_headers.clone(),
        )
        .await
    }
}
