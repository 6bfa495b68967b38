//! EKS: CloudWatch Logs events whose `message` is a Kubernetes audit Event.
//!
//! Two shapes: one event `{logStreamName, timestamp, message, ingestionTime, eventId}`, and the
//! whole output of `aws logs filter-log-events` (`{"events": [...], "nextToken": ...}`). Neither
//! names the log group, so the cluster comes from the reader's context.
//!
//! A message longer than CloudWatch's event size limit (1 MB per event today; older guides and
//! agents say 256 KB) arrives cut, ending in [`CUT_MARKER`]. What precedes the marker is the
//! Event's first bytes: it is read like any other cut Event (the complete fields before the cut,
//! marked degraded), so a Service padded past the limit still gives an alert.

use serde_json::value::RawValue;

use super::json::{Fields, Lenient, elements, string_value};
use super::{Normalized, RecordContext, SkipReason, k8s, prefilter, time};
use crate::model::Provider;

/// What CloudWatch's log agents append to a message cut at the size limit
/// (amazon-cloudwatch-agent, `truncatedSuffix` in `plugins/outputs/cloudwatchlogs/internal/pusher`).
pub const CUT_MARKER: &str = "[Truncated...]";

/// The message without its cut marker, and whether it had one.
pub fn split_cut_marker(message: &str) -> (&str, bool) {
    match message.trim_end().strip_suffix(CUT_MARKER) {
        Some(prefix) => (prefix, true),
        None => (message, false),
    }
}

/// One CloudWatch event.
pub(super) fn log_event(f: &Fields<'_>, ctx: &RecordContext<'_>, emit: &mut dyn FnMut(Normalized)) {
    let Some(message) = f.get("message").and_then(string_value) else {
        emit(Normalized::Skipped(SkipReason::WrongType));
        return;
    };
    let mut ignored = Vec::new();
    let mut r = Lenient::new(&mut ignored);
    let event_id = r.string(f, "eventId", "eventId");
    let record_time = r
        .integer(f, "timestamp", "timestamp")
        .and_then(time::from_epoch_millis);
    let ctx = RecordContext {
        provider: Some(Provider::Eks),
        record_id: event_id.as_deref().or(ctx.record_id),
        record_time: record_time.or(ctx.record_time),
        ..*ctx
    };
    let (message, cut) = split_cut_marker(&message);
    emit(match k8s::event(message, Provider::Eks, &ctx, cut) {
        Ok(event) => Normalized::Event(Box::new(event)),
        Err(reason) => Normalized::Skipped(reason),
    });
}

/// `{"events": [...]}` as printed by `aws logs filter-log-events`.
pub(super) fn envelope(
    events: &RawValue,
    ctx: &RecordContext<'_>,
    emit: &mut dyn FnMut(Normalized),
) {
    let Some(events) = elements(events) else {
        emit(Normalized::Skipped(SkipReason::WrongType));
        return;
    };
    for raw in events {
        if !prefilter::may_be_service_write(raw.get().as_bytes()) {
            emit(Normalized::Irrelevant);
            continue;
        }
        match Fields::of(raw) {
            Some(f) => log_event(&f, ctx, emit),
            None => emit(Normalized::Skipped(SkipReason::WrongType)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::normalize_to_vec;
    use super::*;
    use crate::model::Format;

    const MESSAGE: &str = r#"{\"kind\":\"Event\",\"auditID\":\"x\",\"verb\":\"create\",\"objectRef\":{\"resource\":\"services\",\"name\":\"web\"}}"#;

    #[test]
    fn unwraps_a_log_event_and_keeps_its_id_and_time() {
        let record = format!(
            r#"{{"logStreamName":"kube-apiserver-audit-1","timestamp":1700000000000,"message":"{MESSAGE}","ingestionTime":1700000001000,"eventId":"42"}}"#
        );
        let ctx = RecordContext {
            cluster: Some("prod"),
            ..Default::default()
        };
        let out = normalize_to_vec(record.as_bytes(), &ctx);
        let [Normalized::Event(e)] = out.as_slice() else {
            panic!("{out:?}")
        };
        assert_eq!(e.provider, Provider::Eks);
        assert_eq!(e.record_id.as_deref(), Some("42"));
        assert_eq!(e.origin.cluster.as_deref(), Some("prod"));
        assert_eq!(e.object.name.as_deref(), Some("web"));
    }

    #[test]
    fn a_message_cut_with_the_marker_is_read_in_part() {
        let full = r#"{"kind":"Event","auditID":"x","verb":"create","objectRef":{"resource":"services","name":"web"},"responseStatus":{"code":201},"requestObject":{"metadata":{"annotations":{"pad":"xxxx"#;
        // Cut inside a string, between members, and right after a complete document.
        for message in [
            format!("{full}[Truncated...]"),
            format!(
                "{}[Truncated...]",
                &full[..full.find(",\"requestObject").unwrap() + 1]
            ),
            r#"{"verb":"create","objectRef":{"resource":"services","name":"web"}}[Truncated...]"#
                .to_owned(),
        ] {
            let record = serde_json::json!({"logStreamName": "s", "timestamp": 1, "eventId": "1", "message": message}).to_string();
            let out = normalize_to_vec(record.as_bytes(), &RecordContext::default());
            let [Normalized::Event(e)] = out.as_slice() else {
                panic!("{message}: {out:?}")
            };
            assert_eq!(e.object.name.as_deref(), Some("web"), "{message}");
            assert_eq!(
                e.degraded,
                vec![crate::model::Degradation::Truncated],
                "{message}"
            );
            // The bare message, as the CloudWatch source hands it over.
            let ctx = RecordContext {
                format: Format::Eks,
                ..Default::default()
            };
            let out = normalize_to_vec(message.as_bytes(), &ctx);
            assert!(
                matches!(out.as_slice(), [Normalized::Event(e)] if e.is_degraded() && e.provider == Provider::Eks),
                "{message}: {out:?}"
            );
        }
    }

    #[test]
    fn reads_filter_log_events_output() {
        let record = format!(
            r#"{{"events":[{{"logStreamName":"s","timestamp":1,"message":"{MESSAGE}","eventId":"1"}},
            {{"logStreamName":"s","timestamp":2,"message":"{{\"verb\":\"get\",\"objectRef\":{{\"resource\":\"pods\"}}}}","eventId":"2"}},
            {{"logStreamName":"s","timestamp":3,"message":"not json about services to create","eventId":"3"}}],
            "searchedLogStreams":[]}}"#
        );
        let ctx = RecordContext {
            format: Format::Eks,
            ..Default::default()
        };
        let out = normalize_to_vec(record.as_bytes(), &ctx);
        assert!(matches!(out[0], Normalized::Event(_)));
        assert!(matches!(out[1], Normalized::Irrelevant));
        assert!(matches!(
            out[2],
            Normalized::Skipped(SkipReason::InvalidJson)
        ));
    }
}
