//! Parsers for the values users write as strings: durations, sizes and expiry dates. Each
//! records a problem under its key and returns `None` instead of failing the whole file.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::Problems;

/// `30s`, `5m`, `1h 30m`.
pub fn duration(p: &mut Problems, key: &str, value: Option<&str>) -> Option<Duration> {
    let value = value?;
    p.check(
        key,
        humantime::parse_duration(value)
            .map_err(|e| format!("`{value}` is not a duration like `30s` or `5m`: {e}")),
    )
}

/// `512KiB`, `4MiB`, `1048576`. Hand-written: the units we accept are a few fixed suffixes,
/// smaller than any byte-size crate's grammar (which would also accept decimals and `kb` = 1000).
pub fn size(p: &mut Problems, key: &str, value: Option<&str>) -> Option<usize> {
    let value = value?;
    let s = value.trim();
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let unit = match s[digits..].trim() {
        "" | "B" => Some(1usize),
        "KiB" | "KB" | "K" => Some(1 << 10),
        "MiB" | "MB" | "M" => Some(1 << 20),
        "GiB" | "GB" | "G" => Some(1 << 30),
        _ => None,
    };
    let parsed = s[..digits]
        .parse::<usize>()
        .ok()
        .zip(unit)
        .and_then(|(n, u)| n.checked_mul(u))
        .filter(|n| *n > 0);
    p.check(
        key,
        parsed.ok_or_else(|| format!("`{value}` is not a size like `512KiB` or `4MiB`")),
    )
}

/// RFC 3339, or a date meaning "through the end of that day, UTC".
pub fn parse_expiry(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.succ_opt())
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{s}` is not a date (2026-12-31) or an RFC 3339 time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        let mut p = Problems::default();
        assert_eq!(size(&mut p, "a", Some("4MiB")), Some(4 << 20));
        assert_eq!(size(&mut p, "b", Some("512")), Some(512));
        assert_eq!(size(&mut p, "c", Some("1.5MiB")), None);
        assert_eq!(size(&mut p, "d", Some("0")), None);
        assert_eq!(
            duration(&mut p, "e", Some("1h 30m")),
            Some(Duration::from_secs(5400))
        );
        assert_eq!(duration(&mut p, "f", Some("soon")), None);
        let keys: Vec<_> = p.into_vec().into_iter().map(|p| p.key).collect();
        assert_eq!(keys, ["c", "d", "f"]);
    }

    #[test]
    fn expiry_dates_last_the_whole_day() {
        let t = parse_expiry("2026-12-31").unwrap();
        assert_eq!(t.to_rfc3339(), "2027-01-01T00:00:00+00:00");
        assert!(parse_expiry("next tuesday").is_err());
    }
}
