//! The body a sink writes for an alert: our own document, an OCSF Detection Finding, or a
//! Falco event.

use super::{DeliveryError, falco, ocsf};
use crate::model::Alert;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// The alert document, schema `nodeport-watch.alert.v1`.
    #[default]
    Native,
    /// OCSF Detection Finding (class 2004), for SIEMs and data lakes that speak OCSF.
    Ocsf,
    /// A Falco event (`json_output`), for falcosidekick and Falco's ecosystem.
    Falco,
}

impl OutputFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            OutputFormat::Native => "native",
            OutputFormat::Ocsf => "ocsf",
            OutputFormat::Falco => "falco",
        }
    }
}

/// The alert as compact JSON in `format`.
pub fn render(alert: &Alert, format: OutputFormat) -> Result<Vec<u8>, DeliveryError> {
    let body = match format {
        OutputFormat::Native => serde_json::to_vec(alert),
        OutputFormat::Ocsf => serde_json::to_vec(&ocsf::detection_finding(alert)),
        OutputFormat::Falco => serde_json::to_vec(&falco::event(alert)),
    };
    // Serializing plain data cannot fail in practice; if it ever does, retrying cannot help.
    body.map_err(|e| DeliveryError::rejected(format!("alert not serializable: {e}")))
}
