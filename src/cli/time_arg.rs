//! `--since` / `--until`: an RFC 3339 time, or a duration meaning "that long ago".

use chrono::{DateTime, Utc};

pub fn parse_time(value: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    let ago = humantime::parse_duration(value).map_err(|_| {
        format!("`{value}` is neither an RFC 3339 time (2026-01-31T00:00:00Z) nor a duration (24h)")
    })?;
    let ago = chrono::Duration::from_std(ago).map_err(|_| format!("`{value}` is too long"))?;
    now.checked_sub_signed(ago)
        .ok_or_else(|| format!("`{value}` is too long ago"))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn times_and_durations() {
        let now = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        assert_eq!(
            parse_time("24h", now).unwrap(),
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
        );
        assert_eq!(
            parse_time("2025-12-31T12:00:00+01:00", now).unwrap(),
            Utc.with_ymd_and_hms(2025, 12, 31, 11, 0, 0).unwrap()
        );
        assert!(parse_time("yesterday", now).is_err());
    }
}
