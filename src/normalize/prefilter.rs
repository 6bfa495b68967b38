//! The cheap first look at a record: can it be a Service write at all?
//!
//! Every rule is about `create`, `update` or `patch` of `services`, and every record shape names
//! both in plain text: `"verb":"create"` and `"resource":"services"` in an audit Event (also
//! when escaped inside an EKS `message` or an AKS `log`), `io.k8s.core.v1.services.create` on
//! GKE, the `Verb` and `ObjectRef` columns of Log Analytics rows. API servers encode JSON with
//! Go's encoder, which never escapes ASCII letters, so a record lacking the bytes `services`, or
//! lacking all three verbs, cannot matter. Rejecting those unparsed (lease renewals, reads,
//! kube-proxy's Service watches: nearly all of an audit log) is what keeps throughput high.
//!
//! The exposure lifecycle also needs the writes that end an exposure: a `delete` of a Service
//! (same test, a fourth verb) and a `delete` of a namespace, recognised by the resource named
//! as a whole JSON string (`"namespaces"`, `\"namespaces\"` when escaped) or GKE's
//! `namespaces.delete` method; a bare `namespaces` is in the URI of every namespaced request.
//!
//! False positives are harmless (the record is parsed and found irrelevant); a false negative
//! would lose an alert, so the words are matched anywhere, never at an assumed position.

use std::sync::LazyLock;

use memchr::memmem::Finder;

static SERVICES: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"services"));
/// One SIMD substring search per verb. Only records that name `services` get here (Service
/// reads, mostly); on such records a few searches measured about 5x faster than one
/// Aho-Corasick pass over the verbs.
static WRITE_VERBS: LazyLock<[Finder<'static>; 4]> = LazyLock::new(|| {
    [
        Finder::new(b"create"),
        Finder::new(b"update"),
        Finder::new(b"patch"),
        Finder::new(b"delete"),
    ]
});
static DELETE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(b"delete"));
static NAMESPACE_RESOURCE: LazyLock<[Finder<'static>; 3]> = LazyLock::new(|| {
    [
        Finder::new(b"namespaces\""),
        Finder::new(br#"namespaces\""#),
        Finder::new(b"namespaces.delete"),
    ]
});

/// False when the record cannot be a Service `create`, `update`, `patch` or `delete`, nor a
/// namespace `delete`.
pub fn may_be_service_write(record: &[u8]) -> bool {
    if SERVICES.find(record).is_some() {
        return WRITE_VERBS.iter().any(|verb| verb.find(record).is_some());
    }
    DELETE.find(record).is_some() && NAMESPACE_RESOURCE.iter().any(|n| n.find(record).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_service_writes_in_every_encoding() {
        assert!(may_be_service_write(
            br#"{"verb":"patch","objectRef":{"resource":"services"}}"#
        ));
        assert!(may_be_service_write(
            br#"{"properties":{"log":"{\"verb\":\"create\",\"objectRef\":{\"resource\":\"services\"}}"}}"#
        ));
        assert!(may_be_service_write(
            br#"{"protoPayload":{"methodName":"io.k8s.core.v1.services.update"}}"#
        ));
        assert!(may_be_service_write(
            br#"{"Verb":"create","ObjectRef":"{\"resource\":\"services\"}"}"#
        ));
    }

    #[test]
    fn rejects_other_resources_and_service_reads() {
        assert!(!may_be_service_write(
            br#"{"verb":"create","objectRef":{"resource":"pods"}}"#
        ));
        assert!(!may_be_service_write(
            br#"{"verb":"watch","objectRef":{"resource":"services"}}"#
        ));
        assert!(!may_be_service_write(
            br#"{"verb":"delete","requestURI":"/api/v1/namespaces/a/pods/b","objectRef":{"resource":"pods"}}"#
        ));
    }

    #[test]
    fn finds_the_deletes_that_end_an_exposure() {
        assert!(may_be_service_write(
            br#"{"verb":"delete","objectRef":{"resource":"services"}}"#
        ));
        assert!(may_be_service_write(
            br#"{"verb":"delete","objectRef":{"resource":"namespaces","name":"a"}}"#
        ));
        assert!(may_be_service_write(
            br#"{"log":"{\"verb\":\"delete\",\"objectRef\":{\"resource\":\"namespaces\"}}"}"#
        ));
        assert!(may_be_service_write(
            br#"{"protoPayload":{"methodName":"io.k8s.core.v1.namespaces.delete"}}"#
        ));
    }
}
