//! Plain data shared by every stage: audit events, alerts and cursors. No I/O lives here.

mod alert;
mod audit_event;
mod cursor;
mod provider;

pub use alert::{
    ALERT_SCHEMA_V1, Alert, AlertUser, ImpersonatedUser, MitreTechnique, RiskFactor, RuleId,
    ServicePort, Severity,
};
pub use audit_event::{
    AuditEvent, Decision, Degradation, OMITTED_BODY_MARKER, ObjectRef, Origin, Outcome, Payload,
    Stage, UserInfo,
};
pub use cursor::{Cursor, CursorError, StoredCursor};
pub use provider::{Format, Provider};
