//! Which platform an audit event came from, and how a record is framed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The platform whose API server wrote the audit event.
///
/// `K8s` is a self-managed cluster (the API server's own log backend); the other three are the
/// managed offerings whose control-plane logs we pull from the provider's logging service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Eks,
    Gke,
    Aks,
    K8s,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Eks => "eks",
            Provider::Gke => "gke",
            Provider::Aks => "aks",
            Provider::K8s => "k8s",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record shape a reader expects; `Auto` detects it per record.
///
/// Forcing a shape is useful when a file mixes nothing but one provider's records and the user
/// wants records of any other shape reported as not understood instead of silently accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Auto,
    K8s,
    Eks,
    Gke,
    Aks,
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Format::Auto),
            "k8s" => Ok(Format::K8s),
            "eks" => Ok(Format::Eks),
            "gke" => Ok(Format::Gke),
            "aks" => Ok(Format::Aks),
            other => Err(format!(
                "unknown format `{other}` (expected auto, k8s, eks, gke or aks)"
            )),
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::K8s => "k8s",
            Format::Eks => "eks",
            Format::Gke => "gke",
            Format::Aks => "aks",
        })
    }
}
