//! Per-rule text an analyst reads: titles, MITRE ATT&CK mapping and triage runbooks.

use crate::model::{MitreTechnique, RuleId};

fn technique(tactic: &str, id: &str, name: &str) -> MitreTechnique {
    MitreTechnique {
        tactic: tactic.to_owned(),
        technique_id: id.to_owned(),
        technique: name.to_owned(),
    }
}

pub fn mitre(rule: RuleId) -> Vec<MitreTechnique> {
    let public_facing = technique(
        "initial-access",
        "T1190",
        "Exploit Public-Facing Application",
    );
    let persistence = technique("persistence", "TA0003", "Persistence");
    match rule {
        RuleId::NodePort | RuleId::LoadBalancer | RuleId::DeniedAttempts => {
            vec![public_facing, persistence]
        }
        // CVE-2020-8554: externalIPs let a Service capture traffic meant for any address.
        RuleId::ExternalIps => vec![technique(
            "credential-access",
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
