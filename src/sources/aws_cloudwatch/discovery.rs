//! Which log groups a source reads: the configured ones, plus those DescribeLogGroups finds under
//! `log_group_prefix`, listed again every `discovery_interval` so new clusters are picked up.
//!
//! A listing that fails keeps the last good one (a log group is never dropped because an API
//! call failed); only when there has never been one does the poll fail.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tracing::{info, warn};

use super::client::Clients;
use super::errors::ApiError;
use crate::sources::rate_limit::Limiter;
use crate::telemetry::metrics;

/// DescribeLogGroups returns at most 50 groups per page.
const DESCRIBE_PAGE: i32 = 50;

/// A log group to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogGroup {
    pub name: String,
    /// When DescribeLogGroups says (ms): a group created after the source started is read from
    /// its creation.
    pub created_ms: Option<i64>,
}

/// The cluster an event belongs to, from its log group: `<name>` of `/aws/eks/<name>/cluster`,
/// else the whole group name (a group someone forwards audit logs to under another name).
pub fn cluster_of(group: &str) -> &str {
    group
        .strip_prefix("/aws/eks/")
        .and_then(|rest| rest.strip_suffix("/cluster"))
        .filter(|name| !name.is_empty() && !name.contains('/'))
        .unwrap_or(group)
}

pub struct Discovery {
    source: String,
    configured: Vec<String>,
    prefix: Option<String>,
    refresh: Duration,
    listed: Option<(Instant, Vec<LogGroup>)>,
}

impl Discovery {
    pub fn new(
        source: &str,
        configured: Vec<String>,
        prefix: Option<String>,
        refresh: Duration,
    ) -> Self {
        Discovery {
            source: source.to_owned(),
            configured,
            prefix,
            refresh,
            listed: None,
        }
    }

    /// The configured groups and, if a prefix is set, the discovered ones (refreshed when due).
    pub async fn groups(
        &mut self,
        clients: &Clients,
        limiter: &Arc<Limiter>,
    ) -> Result<Vec<LogGroup>, ApiError> {
        let mut groups: Vec<LogGroup> = self
            .configured
            .iter()
            .map(|name| LogGroup {
                name: name.clone(),
                created_ms: None,
            })
            .collect();
        if let Some(prefix) = self.prefix.clone() {
            let due = self
                .listed
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= self.refresh);
            if due {
                match self.list(clients, limiter, &prefix).await {
                    Ok(found) => self.remember(found),
                    Err(e) if self.listed.is_some() => {
                        warn!(source = %self.source, prefix, error = %e, "log groups could not be listed; keeping the last list");
                        // Try again at the next refresh, not at every poll.
                        if let Some((at, _)) = &mut self.listed {
                            *at = Instant::now();
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
            for found in self.listed.iter().flat_map(|(_, list)| list) {
                if !groups.iter().any(|g| g.name == found.name) {
                    groups.push(found.clone());
                }
            }
        }
        Ok(groups)
    }

    fn remember(&mut self, found: Vec<LogGroup>) {
        let before: Vec<&str> = self
            .listed
            .iter()
            .flat_map(|(_, l)| l.iter().map(|g| g.name.as_str()))
            .collect();
        let added: Vec<&str> = found
            .iter()
            .map(|g| g.name.as_str())
            .filter(|n| !before.contains(n))
            .collect();
        if !added.is_empty() {
            info!(source = %self.source, groups = ?added, "log groups discovered");
        }
        self.listed = Some((Instant::now(), found));
    }

    async fn list(
        &self,
        clients: &Clients,
        limiter: &Arc<Limiter>,
        prefix: &str,
    ) -> Result<Vec<LogGroup>, ApiError> {
        let mut found = Vec::new();
        let mut token: Option<String> = None;
        loop {
            limiter.acquire().await;
            metrics::record_api_call(&self.source, "DescribeLogGroups");
            let page = clients
                .logs
                .describe_log_groups()
                .log_group_name_prefix(prefix)
                .limit(DESCRIBE_PAGE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| ApiError::from_sdk("DescribeLogGroups", &clients.logs_endpoint, e))?;
            found.extend(page.log_groups().iter().filter_map(|g| {
                Some(LogGroup {
                    name: g.log_group_name()?.to_owned(),
                    created_ms: g.creation_time(),
                })
            }));
            match page.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                _ => break,
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        found.dedup_by(|a, b| a.name == b.name);
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_comes_from_the_eks_log_group() {
        assert_eq!(cluster_of("/aws/eks/prod-eu/cluster"), "prod-eu");
        assert_eq!(cluster_of("/aws/eks/a.b_c/cluster"), "a.b_c");
        assert_eq!(cluster_of("/custom/audit"), "/custom/audit");
        assert_eq!(cluster_of("/aws/eks//cluster"), "/aws/eks//cluster");
        assert_eq!(cluster_of("/aws/eks/x/y/cluster"), "/aws/eks/x/y/cluster");
    }
}
