//! Where a diagnostic setting archives AKS audit logs in a storage account.
//!
//! Container `insights-logs-<category>`, one append blob per cluster and hour:
//! `resourceId=/SUBSCRIPTIONS/<SUB>/RESOURCEGROUPS/<RG>/PROVIDERS/MICROSOFT.CONTAINERSERVICE/
//! MANAGEDCLUSTERS/<NAME>/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json`, JSON lines appended during the
//! hour by receive time. The resource ID part is upper-cased by Azure.

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

pub const RESOURCE_PREFIX: &str = "resourceId=/";
const HOUR_MS: i64 = 3_600_000;

/// The blob-name prefix of one cluster: its resource ID as Azure writes it, ending in `/`.
pub fn cluster_prefix(resource_id: &str) -> String {
    format!(
        "{RESOURCE_PREFIX}{}/",
        resource_id.trim_matches('/').to_ascii_uppercase()
    )
}

/// The prefix of one cluster's blobs of one day.
pub fn day_prefix(cluster_prefix: &str, day: NaiveDate) -> String {
    format!(
        "{cluster_prefix}y={:04}/m={:02}/d={:02}/",
        day.year(),
        day.month(),
        day.day()
    )
}

/// What a blob name says: its cluster prefix and the hour it holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HourlyBlob<'a> {
    pub cluster_prefix: &'a str,
    pub hour: DateTime<Utc>,
}

/// Reads an archive blob name; `None` for any other name (left alone).
pub fn parse(name: &str) -> Option<HourlyBlob<'_>> {
    let rest = name.strip_prefix(RESOURCE_PREFIX)?;
    let at = rest.find("/y=")?;
    let cluster_prefix = &name[..RESOURCE_PREFIX.len() + at + 1];
    let mut fields = rest[at + 1..].split('/');
    let mut next = |key: &str| -> Option<u32> { fields.next()?.strip_prefix(key)?.parse().ok() };
    let (y, m, d, h) = (next("y=")?, next("m=")?, next("d=")?, next("h=")?);
    let hour = Utc
        .with_ymd_and_hms(i32::try_from(y).ok()?, m, d, h, 0, 0)
        .single()?;
    Some(HourlyBlob {
        cluster_prefix,
        hour,
    })
}

/// The start of the hour holding `ms`.
pub fn hour_floor(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

pub fn hour_ms() -> i64 {
    HOUR_MS
}

/// Every day from the one holding `from_ms` to the one holding `to_ms`.
pub fn days(from_ms: i64, to_ms: i64) -> Vec<NaiveDate> {
    let day = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive());
    let (Some(mut d), Some(last)) = (day(from_ms), day(to_ms)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while d <= last {
        out.push(d);
        match d.succ_opt() {
            Some(next) => d = next,
            None => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "/subscriptions/ab-12/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/prod";

    #[test]
    fn names_follow_the_documented_layout() {
        let prefix = cluster_prefix(ID);
        assert_eq!(
            prefix,
            "resourceId=/SUBSCRIPTIONS/AB-12/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD/"
        );
        let day = NaiveDate::from_ymd_opt(2024, 5, 1).unwrap();
        let name = format!("{}h=07/m=00/PT1H.json", day_prefix(&prefix, day));
        let blob = parse(&name).unwrap();
        assert_eq!(blob.cluster_prefix, prefix);
        assert_eq!(blob.hour.to_rfc3339(), "2024-05-01T07:00:00+00:00");
    }

    #[test]
    fn other_names_are_not_hourly_blobs() {
        assert_eq!(parse("readme.txt"), None);
        assert_eq!(
            parse("resourceId=/X/y=2024/m=13/d=01/h=00/m=00/PT1H.json"),
            None
        );
        assert_eq!(parse("resourceId=/X/y=abc"), None);
    }

    #[test]
    fn days_and_hours() {
        let t = Utc
            .with_ymd_and_hms(2024, 5, 1, 23, 30, 0)
            .unwrap()
            .timestamp_millis();
        assert_eq!(days(t, t + 3_600_000).len(), 2);
        assert_eq!(days(t, t).len(), 1);
        assert_eq!(hour_floor(t) % HOUR_MS, 0);
        assert_eq!(t - hour_floor(t), 30 * 60_000);
    }
}
