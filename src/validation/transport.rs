//! Where a credential may travel: over TLS, or to this machine. One rule for every source and
//! sink that sends a token, a key, a signed body or a secret-bearing URL, so an `http://` typo
//! in front of a Splunk token or a Slack webhook is refused at start instead of leaking it.

use url::{Host, Url};

use super::Problems;

/// Whether `url` points at this machine (tests, emulators, a local proxy): `localhost`,
/// 127.0.0.0/8 or `::1`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Whether credentials may be sent to `url`: over TLS, or to this machine.
pub fn may_carry_credentials(url: &Url) -> bool {
    url.scheme() == "https" || is_loopback(url)
}

/// Records a problem under `key` when `url` would carry `what` (a token, a signature) in
/// clear text. The message names the fix and never quotes the URL (it may hold a token).
pub fn require_tls(p: &mut Problems, key: &str, url: &Url, what: &str) -> bool {
    let ok = may_carry_credentials(url);
    if !ok {
        p.push(
            key,
            format!(
                "plain http would send {what} in clear text: use https:// (http:// is \
                 accepted only for localhost, 127.0.0.0/8 or ::1)"
            ),
        );
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts() {
        assert!(is_loopback(&url("http://127.0.0.1:8080/x")));
        assert!(is_loopback(&url("http://127.1.2.3/")));
        assert!(is_loopback(&url("http://[::1]:9/")));
        assert!(is_loopback(&url("http://LOCALHOST:9/")));
        assert!(!is_loopback(&url("http://10.0.0.1/")));
        assert!(!is_loopback(&url("https://api.loganalytics.azure.com/")));
        assert!(!is_loopback(&url("http://localhost.evil.example/")));
        assert!(!is_loopback(&url("http://127.0.0.1.evil.example/")));
    }

    #[test]
    fn credentials_need_tls_or_loopback() {
        let mut p = Problems::default();
        assert!(require_tls(
            &mut p,
            "a",
            &url("https://x.example/"),
            "a token"
        ));
        assert!(require_tls(
            &mut p,
            "b",
            &url("http://127.0.0.1:10000/"),
            "a token"
        ));
        assert!(!require_tls(
            &mut p,
            "c",
            &url("http://x.example/t0k3n"),
            "a token"
        ));
        let problems = p.into_vec();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "c");
        assert!(problems[0].message.contains("use https://"));
        assert!(!problems[0].message.contains("t0k3n"));
    }
}
