//! Timestamps as the providers really write them.
//!
//! RFC 3339 with 0 to 9 fractional digits is the norm; exports re-formatted by other tools use
//! `YYYY-MM-DD hh:mm:ss.fff` without a zone (UTC), and Log Analytics may drop the `Z`.

use chrono::{DateTime, NaiveDateTime, Utc};

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(s, fmt).ok())
        .map(|naive| naive.and_utc())
}

/// Milliseconds since the epoch, as CloudWatch reports them.
pub(crate) fn from_epoch_millis(ms: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_format_seen_in_the_corpus() {
        let expect = |s: &str, want: &str| {
            assert_eq!(
                parse_timestamp(s).map(|t| t.to_rfc3339()),
                Some(want.to_owned()),
                "{s}"
            )
        };
        expect("2018-10-26T09:31:36Z", "2018-10-26T09:31:36+00:00");
        expect(
            "2025-10-07T16:19:19.647880072Z",
            "2025-10-07T16:19:19.647880072+00:00",
        );
        expect("2020-11-09T10:57:31.0000000Z", "2020-11-09T10:57:31+00:00");
        expect("2022-11-29 00:09:04.38", "2022-11-29T00:09:04.380+00:00");
        expect(
            "2024-02-19 12:02:22.057586000",
            "2024-02-19T12:02:22.057586+00:00",
        );
        expect("2024-01-01T00:00:00.5", "2024-01-01T00:00:00.500+00:00");
        assert_eq!(parse_timestamp("yesterday"), None);
    }
}
