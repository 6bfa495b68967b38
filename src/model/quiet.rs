//! Why the detector let a Service write pass: decided in `detect`, counted in batch stats and
//! shown by `detect --explain`, so it lives with the plain data every stage shares.

/// Why a Service write fired no rule: the detector's own reasons, for `detect --explain`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Quiet {
    /// Not a `create`, `update` or `patch` of a Service.
    NotServiceWrite,
    /// `dryRun`: nothing was changed.
    DryRun,
    /// The `RequestReceived` stage: the outcome is in a later stage's record.
    RequestReceived,
    /// Refused, and it did not try to expose anything (or `denied-attempts` is off).
    Denied,
    /// Allowed, then rejected or failed, and it did not try to expose anything.
    Failed,
    /// The resulting type is not exposed (ClusterIP, ExternalName) and there are no externalIPs.
    NotExposed,
    /// A patch that does not touch the type or the ports.
    TypeUnchanged,
    /// No request or response body was logged (audit level `Metadata`): nothing to judge.
    NoBody,
}

impl Quiet {
    pub fn as_str(self) -> &'static str {
        match self {
            Quiet::NotServiceWrite => "not_service_write",
            Quiet::DryRun => "dry_run",
            Quiet::RequestReceived => "request_received_stage",
            Quiet::Denied => "denied",
            Quiet::Failed => "failed",
            Quiet::NotExposed => "not_exposed",
            Quiet::TypeUnchanged => "type_unchanged",
            Quiet::NoBody => "no_body",
        }
    }
}
