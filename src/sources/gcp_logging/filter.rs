//! The server-side query: which requests a source makes and what each one asks for.
//!
//! Cloud Logging charges the quota per request, whatever it returns, so the filter asks only
//! for Service writes and the deletes that end an exposure (`resource.type`, `logName`, `protoPayload.methodName`, optional cluster
//! and location labels, and the time window), and one request carries as many projects as the
//! API allows: up to 100 `resourceNames`, within the 20,000-character filter limit.

use chrono::{DateTime, SecondsFormat, Utc};

use super::config::GcpLoggingSettings;
use crate::sources::time_axis::Window;

/// The methods that can make or keep a Service a NodePort, and the deletes that end an
/// exposure (of the Service, or of its namespace).
pub const SERVICE_WRITES: [&str; 5] = [
    "io.k8s.core.v1.services.create",
    "io.k8s.core.v1.services.update",
    "io.k8s.core.v1.services.patch",
    "io.k8s.core.v1.services.delete",
    "io.k8s.core.v1.namespaces.delete",
];
/// Admin Activity audit log (always on in GKE); the id is URL-encoded in `logName`.
pub const ACTIVITY_LOG: &str = "cloudaudit.googleapis.com%2Factivity";
pub const DATA_ACCESS_LOG: &str = "cloudaudit.googleapis.com%2Fdata_access";
pub const RESOURCE_TYPE: &str = "k8s_cluster";
/// `entries.list` limits.
pub const MAX_RESOURCE_NAMES: usize = 100;
pub const MAX_FILTER_CHARS: usize = 20_000;
/// Room kept for the time-window terms appended to each request.
const WINDOW_TERMS_CHARS: usize = 96;

/// Projects read together in one request, and the filter they share.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestGroup {
    pub projects: Vec<String>,
    pub resource_names: Vec<String>,
    base_filter: String,
}

impl RequestGroup {
    /// The full filter for one window `[start, end)`.
    pub fn filter(&self, window: Window) -> String {
        format!(
            "{} AND timestamp>=\"{}\" AND timestamp<\"{}\"",
            self.base_filter,
            rfc3339_ms(window.start_ms),
            rfc3339_ms(window.end_ms)
        )
    }
}

fn rfc3339_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `field=("a" OR "b")`, or `field="a"` for one value.
fn any_of<'a>(field: &str, values: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = values.into_iter().map(|v| format!("\"{v}\"")).collect();
    match quoted.as_slice() {
        [one] => format!("{field}={one}"),
        _ => format!("{field}=({})", quoted.join(" OR ")),
    }
}

fn base_filter(projects: &[String], settings: &GcpLoggingSettings) -> String {
    let mut logs = vec![ACTIVITY_LOG];
    if settings.data_access {
        logs.push(DATA_ACCESS_LOG);
    }
    let log_names: Vec<String> = projects
        .iter()
        .flat_map(|p| {
            logs.iter()
                .map(move |log| format!("projects/{p}/logs/{log}"))
        })
        .collect();
    let mut terms = vec![
        format!("resource.type=\"{RESOURCE_TYPE}\""),
        any_of("logName", log_names.iter().map(String::as_str)),
        any_of("protoPayload.methodName", SERVICE_WRITES),
    ];
    if !settings.clusters.is_empty() {
        terms.push(any_of(
            "resource.labels.cluster_name",
            settings.clusters.iter().map(String::as_str),
        ));
    }
    if !settings.locations.is_empty() {
        terms.push(any_of(
            "resource.labels.location",
            settings.locations.iter().map(String::as_str),
        ));
    }
    terms.join(" AND ")
}

/// Splits the projects into as few requests as the API limits allow, in configuration order.
pub fn plan_groups(settings: &GcpLoggingSettings) -> Result<Vec<RequestGroup>, String> {
    let budget = MAX_FILTER_CHARS - WINDOW_TERMS_CHARS;
    let mut groups: Vec<Vec<String>> = Vec::new();
    for project in &settings.projects {
        let fits = groups.last().is_some_and(|last| {
            let mut candidate = last.clone();
            candidate.push(project.clone());
            candidate.len() <= MAX_RESOURCE_NAMES
                && base_filter(&candidate, settings).len() <= budget
        });
        match groups.last_mut() {
            Some(last) if fits => last.push(project.clone()),
            _ => {
                if base_filter(std::slice::from_ref(project), settings).len() > budget {
                    return Err(format!(
                        "the query for project `{project}` is longer than Cloud Logging's \
                         {MAX_FILTER_CHARS}-character filter limit: list fewer clusters or \
                         locations per source"
                    ));
                }
                groups.push(vec![project.clone()]);
            }
        }
    }
    Ok(groups
        .into_iter()
        .map(|projects| RequestGroup {
            resource_names: projects.iter().map(|p| format!("projects/{p}")).collect(),
            base_filter: base_filter(&projects, settings),
            projects,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(projects: usize) -> GcpLoggingSettings {
        GcpLoggingSettings::new((0..projects).map(|i| format!("project-{i:04}")).collect())
    }

    #[test]
    fn asks_only_for_service_writes_in_the_window() {
        let mut s = settings(2);
        s.clusters = vec!["web".into()];
        s.locations = vec!["europe-west1".into(), "us-central1-a".into()];
        let groups = plan_groups(&s).unwrap();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].resource_names,
            ["projects/project-0000", "projects/project-0001"]
        );
        let filter = groups[0].filter(Window {
            start_ms: 1_704_067_200_000,
            end_ms: 1_704_067_500_250,
        });
        assert_eq!(
            filter,
            "resource.type=\"k8s_cluster\" AND \
             logName=(\"projects/project-0000/logs/cloudaudit.googleapis.com%2Factivity\" OR \
             \"projects/project-0001/logs/cloudaudit.googleapis.com%2Factivity\") AND \
             protoPayload.methodName=(\"io.k8s.core.v1.services.create\" OR \
             \"io.k8s.core.v1.services.update\" OR \"io.k8s.core.v1.services.patch\" OR \
             \"io.k8s.core.v1.services.delete\" OR \"io.k8s.core.v1.namespaces.delete\") AND \
             resource.labels.cluster_name=\"web\" AND \
             resource.labels.location=(\"europe-west1\" OR \"us-central1-a\") AND \
             timestamp>=\"2024-01-01T00:00:00.000Z\" AND timestamp<\"2024-01-01T00:05:00.250Z\""
        );
    }

    #[test]
    fn data_access_adds_the_second_log() {
        let mut s = settings(1);
        s.data_access = true;
        let f = plan_groups(&s).unwrap()[0].filter(Window {
            start_ms: 0,
            end_ms: 1,
        });
        assert!(f.contains("%2Factivity\" OR \"projects/project-0000/logs/cloudaudit.googleapis.com%2Fdata_access\""));
    }

    #[test]
    fn at_most_100_projects_and_20000_characters_per_request() {
        let groups = plan_groups(&settings(250)).unwrap();
        assert_eq!(
            groups.iter().map(|g| g.projects.len()).collect::<Vec<_>>(),
            [100, 100, 50]
        );
        let mut s = settings(250);
        s.data_access = true;
        s.clusters = (0..300).map(|i| format!("cluster-number-{i:05}")).collect();
        let groups = plan_groups(&s).unwrap();
        assert!(
            groups.iter().all(|g| g.projects.len() < MAX_RESOURCE_NAMES),
            "the filter limit binds before the 100 names"
        );
        let window = Window {
            start_ms: 0,
            end_ms: i64::from(i32::MAX) * 1000,
        };
        for g in &groups {
            assert!(g.filter(window).len() <= MAX_FILTER_CHARS);
            assert!(g.projects.len() <= MAX_RESOURCE_NAMES);
        }
        assert_eq!(groups.iter().map(|g| g.projects.len()).sum::<usize>(), 250);
    }

    #[test]
    fn a_filter_that_cannot_fit_is_refused() {
        let mut s = settings(1);
        s.clusters = (0..2000).map(|i| format!("cluster-{i}")).collect();
        assert!(plan_groups(&s).unwrap_err().contains("20000-character"));
    }
}
