//! The cheap first look at a record: can it concern a Service at all?
//!
//! Every rule is about writes to `services`, and every record shape names the resource in plain
//! text (`"resource":"services"`, `\"resource\":\"services\"` inside an AKS string,
//! `io.k8s.core.v1.services.create` on GKE). API servers encode JSON with Go's encoder, which
//! never escapes ASCII letters, so a record without the bytes `services` cannot matter. Skipping
//! those unparsed is what keeps throughput high on real logs, where Service writes are rare.

use std::sync::LazyLock;

use memchr::memmem::Finder;

static SERVICES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"services"));

pub fn may_concern_services(record: &[u8]) -> bool {
    SERVICES.find(record).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_resource_in_every_encoding() {
        assert!(may_concern_services(
            br#"{"objectRef":{"resource":"services"}}"#
        ));
        assert!(may_concern_services(
            br#"{"properties":{"log":"{\"objectRef\":{\"resource\":\"services\"}}"}}"#
        ));
        assert!(may_concern_services(
            br#"{"protoPayload":{"methodName":"io.k8s.core.v1.services.patch"}}"#
        ));
        assert!(!may_concern_services(
            br#"{"objectRef":{"resource":"pods"}}"#
        ));
    }
}
