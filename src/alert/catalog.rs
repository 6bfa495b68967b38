//! Per-rule text an analyst reads: titles, MITRE ATT&CK mapping and triage runbooks.

use crate::model::{MitreTechnique, RuleId};

fn technique(tactic: (&str, &str), id: &str, name: &str) -> MitreTechnique {
    MitreTechnique {
        tactic: tactic.0.to_owned(),
        tactic_id: tactic.1.to_owned(),
        technique_id: id.to_owned(),
        technique: name.to_owned(),
    }
}

const INITIAL_ACCESS: (&str, &str) = ("Initial Access", "TA0001");
const PERSISTENCE: (&str, &str) = ("Persistence", "TA0003");
const CREDENTIAL_ACCESS: (&str, &str) = ("Credential Access", "TA0006");

/// ATT&CK for Containers: a technique id (`T…`) always sits under its tactic id (`TA…`).
pub fn mitre(rule: RuleId) -> Vec<MitreTechnique> {
    let public_facing = technique(INITIAL_ACCESS, "T1190", "Exploit Public-Facing Application");
    // A Service reachable from outside is also a way back in: External Remote Services is
    // listed under Persistence in the Containers matrix (exposed services and APIs).
    let way_back_in = technique(PERSISTENCE, "T1133", "External Remote Services");
    match rule {
        RuleId::NodePort | RuleId::LoadBalancer | RuleId::DeniedAttempts => {
            vec![public_facing, way_back_in]
        }
        // CVE-2020-8554: externalIPs let a Service capture traffic meant for any address.
        RuleId::ExternalIps => vec![technique(
            CREDENTIAL_ACCESS,
            "T1557",
            "Adversary-in-the-Middle",
        )],
    }
}

pub fn runbook(rule: RuleId) -> &'static str {
    match rule {
        RuleId::NodePort => {
            "1. Confirm with the owner of the namespace that the Service must be reachable on every \
             node (ports 30000-32767 by default). 2. Check the node security groups/firewall rules \
             for that port: is it reachable from outside the VPC? 3. Inspect the selected pods and \
             the user, source IP and user agent of the request; an unknown actor or a selector-less \
             Service is a strong signal. 4. If not approved: change the type to ClusterIP (or \
             delete the Service), rotate the credentials used, and add an exception only for \
             approved, expiring cases."
        }
        RuleId::ExternalIps => {
            "1. externalIPs let a Service intercept traffic sent to those addresses from inside the \
             cluster (CVE-2020-8554). 2. Verify that the listed IPs belong to this Service's owner. \
             3. If not expected, remove spec.externalIPs, review who can write Services, and \
             enforce a policy (e.g. the DenyServiceExternalIPs admission plugin) that blocks them."
        }
        RuleId::LoadBalancer => {
            "1. Confirm the LoadBalancer is approved and whether it is internet-facing (check its \
             annotations and the cloud load balancer). 2. LoadBalancer Services also open node \
             ports unless allocateLoadBalancerNodePorts is false. 3. Restrict \
             loadBalancerSourceRanges or make it internal if it should not be public."
        }
        RuleId::DeniedAttempts => {
            "1. Someone tried to expose a Service and was refused. 2. Check the user and source IP: \
             repeated attempts or an unknown identity suggest probing with stolen credentials. \
             3. Review the admission or RBAC decision that blocked it and whether the user should \
             have tried at all."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_sit_under_their_tactics() {
        for rule in RuleId::ALL {
            for m in mitre(rule) {
                assert!(m.tactic_id.starts_with("TA"), "{m:?}");
                assert!(m.technique_id.starts_with('T') && !m.technique_id.starts_with("TA"));
            }
        }
        let nodeport = mitre(RuleId::NodePort);
        assert_eq!(
            (
                nodeport[0].tactic_id.as_str(),
                nodeport[0].technique_id.as_str()
            ),
            ("TA0001", "T1190")
        );
    }
}
