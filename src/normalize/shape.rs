//! Tells a record's shape from its top-level keys and hands it to that shape's normalizer.
//!
//! The shapes share no discriminator field, but each has keys no other shape has at the top
//! level, checked here from the most specific envelope to the plain audit Event.

use super::json::{Fields, elements, is_eof};
use super::{Normalized, RecordContext, SkipReason, aks, eks, gke, k8s, prefilter, repair};
use crate::model::{Format, Provider};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// `aws logs filter-log-events` output.
    CloudWatchEnvelope,
    CloudWatchEvent,
    LogEntry,
    /// Event Hub / storage `{"records": [...]}`.
    AzureEnvelope,
    AzureDiagnosticRecord,
    AzureDiagnosticsRow,
    AksAuditRow,
    AuditEvent,
}

impl Shape {
    fn of(f: &Fields<'_>) -> Option<Shape> {
        let has = |k: &str| f.contains(k);
        let shape = if has("events") && !has("verb") {
            Shape::CloudWatchEnvelope
        } else if has("message") && (has("logStreamName") || has("eventId") || has("ingestionTime"))
        {
            Shape::CloudWatchEvent
        } else if has("protoPayload") {
            Shape::LogEntry
        } else if has("records") && !has("verb") {
            Shape::AzureEnvelope
        } else if has("properties")
            && (has("category") || has("resourceId") || has("operationName"))
        {
            Shape::AzureDiagnosticRecord
        } else if has("log_s") {
            Shape::AzureDiagnosticsRow
        } else if aks::is_aks_audit_row(f) {
            Shape::AksAuditRow
        } else if k8s::looks_like_event(f) {
            Shape::AuditEvent
        } else {
            return None;
        };
        Some(shape)
    }

    /// Whether a reader told to expect `format` accepts this shape.
    fn allowed_by(self, format: Format) -> bool {
        match format {
            Format::Auto => true,
            Format::K8s => self == Shape::AuditEvent,
            Format::Eks => matches!(
                self,
                Shape::CloudWatchEnvelope | Shape::CloudWatchEvent | Shape::AuditEvent
            ),
            Format::Gke => self == Shape::LogEntry,
            Format::Aks => matches!(
                self,
                Shape::AzureEnvelope
                    | Shape::AzureDiagnosticRecord
                    | Shape::AzureDiagnosticsRow
                    | Shape::AksAuditRow
                    | Shape::AuditEvent
            ),
        }
    }
}

/// The provider to report for a bare audit Event.
fn bare_event_provider(ctx: &RecordContext<'_>) -> Provider {
    match ctx.format {
        Format::Eks => Provider::Eks,
        Format::Aks => Provider::Aks,
        Format::Gke => Provider::Gke,
        Format::K8s => Provider::K8s,
        Format::Auto => ctx.provider.unwrap_or(Provider::K8s),
    }
}

pub(super) fn dispatch(text: &str, ctx: &RecordContext<'_>, emit: &mut dyn FnMut(Normalized)) {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return array(trimmed, ctx, emit);
    }
    // A bare EKS Event cut by CloudWatch, as the CloudWatch source hands its message over.
    if let (prefix, true) = eks::split_cut_marker(text) {
        return truncated(prefix, ctx, true, emit);
    }
    let fields = match Fields::parse(text) {
        Ok(fields) => fields,
        Err(e) if is_eof(&e) => return truncated(text, ctx, false, emit),
        Err(e) if e.classify() == serde_json::error::Category::Data => {
            return emit(Normalized::Skipped(SkipReason::WrongType));
        }
        Err(_) => return emit(Normalized::Skipped(SkipReason::InvalidJson)),
    };
    let Some(shape) = Shape::of(&fields) else {
        return emit(Normalized::Skipped(SkipReason::NotAudit));
    };
    if !shape.allowed_by(ctx.format) {
        return emit(Normalized::Skipped(SkipReason::UnexpectedShape));
    }
    match shape {
        Shape::CloudWatchEnvelope => match fields.get("events") {
            Some(events) => eks::envelope(events, ctx, emit),
            None => emit(Normalized::Skipped(SkipReason::WrongType)),
        },
        Shape::CloudWatchEvent => eks::log_event(&fields, ctx, emit),
        Shape::LogEntry => emit(into_outcome(gke::log_entry(&fields, ctx))),
        Shape::AzureEnvelope => match fields.get("records") {
            Some(records) => aks::envelope(records, ctx, emit),
            None => emit(Normalized::Skipped(SkipReason::WrongType)),
        },
        Shape::AzureDiagnosticRecord => emit(aks::diagnostic_record(&fields, ctx)),
        Shape::AzureDiagnosticsRow => emit(aks::azure_diagnostics_row(&fields, ctx)),
        Shape::AksAuditRow => emit(aks::aks_audit_row(&fields, ctx)),
        Shape::AuditEvent => emit(into_outcome(k8s::from_fields(
            &fields,
            bare_event_provider(ctx),
            ctx,
        ))),
    }
}

/// A JSON array of records, as `gcloud logging read --format=json` prints them.
fn array(text: &str, ctx: &RecordContext<'_>, emit: &mut dyn FnMut(Normalized)) {
    let items = match serde_json::from_str::<&serde_json::value::RawValue>(text) {
        Ok(raw) => elements(raw),
        Err(e) if is_eof(&e) => return emit(Normalized::Skipped(SkipReason::Truncated)),
        Err(_) => return emit(Normalized::Skipped(SkipReason::InvalidJson)),
    };
    for item in items.unwrap_or_default() {
        let item = item.get();
        if !prefilter::may_be_service_write(item.as_bytes()) {
            emit(Normalized::Irrelevant);
        } else if item.starts_with('{') {
            dispatch(item, ctx, emit);
        } else {
            emit(Normalized::Skipped(SkipReason::WrongType));
        }
    }
}

/// A record cut short. A bare audit Event is still worth reading in part (the Event reader
/// recovers its complete prefix); an envelope cut short has lost the Event it wraps.
fn truncated(text: &str, ctx: &RecordContext<'_>, cut: bool, emit: &mut dyn FnMut(Normalized)) {
    let shape = repair::close_truncated(text)
        .and_then(|repaired| Fields::parse(&repaired).ok().and_then(|f| Shape::of(&f)));
    match shape {
        Some(Shape::AuditEvent) if Shape::AuditEvent.allowed_by(ctx.format) => emit(into_outcome(
            k8s::event(text, bare_event_provider(ctx), ctx, cut),
        )),
        _ => emit(Normalized::Skipped(SkipReason::Truncated)),
    }
}

fn into_outcome(result: Result<crate::model::AuditEvent, SkipReason>) -> Normalized {
    match result {
        Ok(event) => Normalized::Event(Box::new(event)),
        Err(reason) => Normalized::Skipped(reason),
    }
}
