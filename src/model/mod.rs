//! Plain data shared by every stage: records as fetched, audit events, alerts, cursors, time
//! ranges and batch counts. No I/O lives here, and nothing from the rest of the crate.

mod alert;
mod audit_event;
mod batch_stats;
mod cursor;
mod provider;
mod quiet;
mod record;
mod skip_reason;
mod time_range;
mod untrusted;

pub use alert::{
    ALERT_SCHEMA_V1, Alert, AlertStatus, AlertUser, ImpersonatedUser, MitreTechnique, RiskFactor,
    RuleId, ServicePort, Severity,
};
pub use audit_event::{
    AuditEvent, Decision, Degradation, OMITTED_BODY_MARKER, ObjectRef, Origin, Outcome, Payload,
    Stage, UserInfo,
};
pub use batch_stats::BatchStats;
pub use cursor::{Cursor, CursorError, StoredCursor};
pub use provider::{Format, Provider};
pub use quiet::Quiet;
pub use record::{Record, RecordOrigin, SeenKey};
pub use skip_reason::SkipReason;
pub use time_range::TimeRange;
pub use untrusted::escape_controls;
