//! CloudWatch log events → records for the pipeline.
//!
//! Each event's `message` is one Kubernetes audit Event. A message ending in `[Truncated...]`
//! (cut at CloudWatch's event size limit) is handed over as it is: the normalizer reads the
//! complete fields before the cut, as `detect` does, so padding a Service past the limit gives a
//! degraded alert instead of hiding it. A message that is not JSON at all is dropped here,
//! counted (`nodeport_watch_records_skipped_total{reason}`) and logged with its stream and event
//! ID, because no later stage could do better with it.
//!
//! A record's dedupe key is `<log group>/<eventId>`: eventIds are unique within a log group, and
//! the driver drops a record whose key it already committed (the window overlap re-reads them).

use std::collections::HashMap;
use std::sync::Arc;

use aws_sdk_cloudwatchlogs::types::FilteredLogEvent;
use chrono::DateTime;
use serde::de::IgnoredAny;
use sha2::{Digest, Sha256};
use tracing::warn;

use crate::model::SeenKey;
use crate::model::{Format, Provider};
use crate::sources::{Record, RecordOrigin};
use crate::telemetry::metrics;

/// Why a message was not handed over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unusable {
    NotJson,
}

impl Unusable {
    pub fn reason(self) -> &'static str {
        match self {
            Unusable::NotJson => "invalid_json",
        }
    }
}

/// Whether a message can be read as an audit Event at all: JSON, or a JSON prefix cut by
/// CloudWatch (read in part downstream).
pub fn check_message(message: &str) -> Result<(), Unusable> {
    if crate::normalize::eks::split_cut_marker(message).1 {
        return Ok(());
    }
    serde_json::from_str::<IgnoredAny>(message)
        .map(|_| ())
        .map_err(|_| Unusable::NotJson)
}

/// Where the records of one poll come from.
pub struct Origins<'a> {
    pub source: &'a str,
    pub group: &'a str,
    pub cluster: &'a str,
    pub account: Option<&'a str>,
    pub region: &'a str,
}

/// Builds records for one log group, sharing one origin per stream.
pub struct RecordMaker<'a> {
    origins: Origins<'a>,
    streams: HashMap<String, Arc<RecordOrigin>>,
}

/// What became of one log event.
pub enum Made {
    Record(Record),
    /// Unusable; carries its dedupe key so a re-read is not counted twice.
    Skipped(SeenKey, Unusable),
}

impl<'a> RecordMaker<'a> {
    pub fn new(origins: Origins<'a>) -> Self {
        RecordMaker {
            origins,
            streams: HashMap::new(),
        }
    }

    fn origin(&mut self, stream: &str) -> Arc<RecordOrigin> {
        if let Some(origin) = self.streams.get(stream) {
            return Arc::clone(origin);
        }
        let origin = Arc::new(RecordOrigin {
            format: Format::Eks,
            provider: Some(Provider::Eks),
            cluster: Some(self.origins.cluster.to_owned()),
            account: self.origins.account.map(str::to_owned),
            region: Some(self.origins.region.to_owned()),
            stream: format!("{}/{stream}", self.origins.group),
        });
        self.streams.insert(stream.to_owned(), Arc::clone(&origin));
        origin
    }

    /// The record of one event. `fallback_ms` stands in for a missing timestamp (the window's
    /// start, so its seen id is kept as long as the window can be re-read).
    pub fn make(&mut self, event: &FilteredLogEvent, fallback_ms: i64) -> Made {
        let stream = event.log_stream_name().unwrap_or("-");
        let message = event.message().unwrap_or("");
        let event_ms = event.timestamp().unwrap_or(fallback_ms);
        let key = match event.event_id() {
            Some(id) => format!("{}/{id}", self.origins.group),
            // Never seen from AWS; a content hash still keeps re-reads from counting twice.
            None => {
                let digest = Sha256::new()
                    .chain_update(stream)
                    .chain_update(event_ms.to_be_bytes())
                    .chain_update(message);
                format!(
                    "{}/sha256:{}",
                    self.origins.group,
                    hex::encode(digest.finalize())
                )
            }
        };
        let dedupe = SeenKey { key, event_ms };
        if let Err(unusable) = check_message(message) {
            return Made::Skipped(dedupe, unusable);
        }
        Made::Record(Record {
            text: message.as_bytes().to_vec(),
            origin: self.origin(stream),
            record_id: event.event_id().map(str::to_owned),
            record_time: event.timestamp().and_then(DateTime::from_timestamp_millis),
            dedupe: Some(dedupe),
        })
    }

    /// Counts and logs a skipped event (once per event: the caller remembers skipped keys).
    pub fn report_skip(&self, event: &FilteredLogEvent, unusable: Unusable) {
        let message = event.message().unwrap_or("");
        metrics::record_skip(self.origins.source, unusable.reason());
        warn!(
            source = self.origins.source,
            log_group = self.origins.group,
            stream = event.log_stream_name().unwrap_or("-"),
            event_id = event.event_id().unwrap_or("-"),
            reason = unusable.reason(),
            bytes = message.len(),
            "CloudWatch message skipped: {}",
            match unusable {
                Unusable::NotJson => "not JSON",
            }
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: Option<&str>, message: &str) -> FilteredLogEvent {
        FilteredLogEvent::builder()
            .log_stream_name("kube-apiserver-audit-0")
            .timestamp(1_800_000_000_123)
            .message(message)
            .set_event_id(id.map(str::to_owned))
            .build()
    }

    fn maker() -> RecordMaker<'static> {
        RecordMaker::new(Origins {
            source: "eks",
            group: "/aws/eks/prod/cluster",
            cluster: "prod",
            account: Some("123456789012"),
            region: "eu-west-1",
        })
    }

    #[test]
    fn a_message_becomes_an_eks_record_of_its_cluster() {
        let mut m = maker();
        let Made::Record(r) = m.make(&event(Some("42"), r#"{"kind":"Event"}"#), 0) else {
            panic!("expected a record");
        };
        assert_eq!(r.text, br#"{"kind":"Event"}"#);
        assert_eq!(r.record_id.as_deref(), Some("42"));
        assert_eq!(r.record_time.unwrap().timestamp_millis(), 1_800_000_000_123);
        let d = r.dedupe.unwrap();
        assert_eq!(d.key, "/aws/eks/prod/cluster/42");
        assert_eq!(d.event_ms, 1_800_000_000_123);
        let ctx = r.origin.as_ref();
        assert_eq!(ctx.format, Format::Eks);
        assert_eq!(ctx.provider, Some(Provider::Eks));
        assert_eq!(ctx.cluster.as_deref(), Some("prod"));
        assert_eq!(ctx.account.as_deref(), Some("123456789012"));
        assert_eq!(ctx.stream, "/aws/eks/prod/cluster/kube-apiserver-audit-0");
        let Made::Record(again) = m.make(&event(Some("43"), "{}"), 0) else {
            panic!("expected a record");
        };
        assert!(
            Arc::ptr_eq(&r.origin, &again.origin),
            "one origin per stream"
        );
    }

    #[test]
    fn cut_messages_are_kept_and_non_json_ones_skipped() {
        assert_eq!(
            check_message(r#"{"kind":"Event","requestObject":{"spec":[Truncated...]"#),
            Ok(())
        );
        assert_eq!(check_message("{\"a\":1}[Truncated...]\n"), Ok(()));
        assert_eq!(
            check_message("I0101 12:00:00 plain text"),
            Err(Unusable::NotJson)
        );
        assert_eq!(check_message(r#"{"kind":"Event""#), Err(Unusable::NotJson));
        assert_eq!(check_message(""), Err(Unusable::NotJson));
        assert_eq!(check_message(r#"{"msg":"[Truncated...] inside"}"#), Ok(()));
        let mut m = maker();
        assert!(
            matches!(m.make(&event(Some("7"), "nope"), 0), Made::Skipped(k, Unusable::NotJson) if k.key.ends_with("/7"))
        );
    }

    #[test]
    fn an_event_without_id_still_gets_a_stable_key() {
        let mut m = maker();
        let key = |m: &mut RecordMaker<'_>| match m.make(&event(None, "{}"), 5) {
            Made::Record(r) => r.dedupe.unwrap().key,
            Made::Skipped(..) => panic!("expected a record"),
        };
        let a = key(&mut m);
        assert_eq!(a, key(&mut m));
        assert!(a.starts_with("/aws/eks/prod/cluster/sha256:"));
    }
}
