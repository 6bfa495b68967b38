use chrono::{Duration, TimeZone};

use super::*;
use crate::model::{MitreTechnique, Provider};
use crate::sinks::aws_security_hub::fields::MAX_ID;
use crate::sinks::aws_security_hub::product_fields::{MAX_DESCRIPTION, MAX_VALUE};
use crate::sinks::test_alert::alert;

const TARGET: Target<'static> = Target {
    account: "123456789012",
    region: "eu-west-1",
};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 8, 0, 0).unwrap()
}

fn eks_alert() -> Alert {
    let mut a = alert(0);
    a.provider = Provider::Eks;
    a.cluster = Some("prod-eu".into());
    a.account = Some("210987654321".into());
    a.region = Some("eu-central-1".into());
    a.namespace = Some("shop".into());
    a.service = Some("web".into());
    a.exposure_id = Some("exp-1".into());
    a.event_time = Some(Utc.with_ymd_and_hms(2026, 3, 1, 11, 59, 0).unwrap());
    a.runbook = "1. Check the owner.".into();
    a.mitre = vec![MitreTechnique {
        tactic: "Initial Access".into(),
        tactic_id: "TA0001".into(),
        technique_id: "T1190".into(),
        technique: "Exploit Public-Facing Application".into(),
    }];
    a
}

#[test]
fn an_open_alert_is_a_new_active_finding_with_the_required_attributes() {
    let f = finding(&eks_alert(), &TARGET, now());
    assert_eq!(f.schema_version(), Some("2018-10-08"));
    assert_eq!(f.id(), Some("nodeport-watch/exposure/exp-1"));
    assert_eq!(
        f.product_arn(),
        Some("arn:aws:securityhub:eu-west-1:123456789012:product/123456789012/default")
    );
    assert_eq!(f.generator_id(), Some("nodeport-watch/nodeport"));
    // The account that imports the finding, not the cluster's: Security Hub requires it.
    assert_eq!(f.aws_account_id(), Some("123456789012"));
    assert_eq!(f.created_at(), Some("2026-03-01T11:59:00.000Z"));
    assert_eq!(f.first_observed_at(), Some("2026-03-01T11:59:00.000Z"));
    assert_eq!(f.updated_at(), Some("2026-03-02T08:00:00.000Z"));
    assert_eq!(
        f.severity().and_then(|s| s.label()),
        Some(&SeverityLabel::High)
    );
    assert_eq!(
        f.types(),
        [
            "Software and Configuration Checks/AWS Security Best Practices/Network Reachability",
            "TTPs/Initial Access/T1190",
        ]
    );
    let provider = f.finding_provider_fields().unwrap();
    assert_eq!(provider.types(), f.types());
    assert_eq!(
        provider.severity().and_then(|s| s.label()),
        Some(&SeverityLabel::High)
    );
    assert_eq!(f.title(), Some("t"));
    assert!(f.description().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        f.workflow().and_then(|w| w.status()),
        Some(&WorkflowStatus::New)
    );
    assert_eq!(f.record_state(), Some(&RecordState::Active));
    assert_eq!(
        f.remediation()
            .and_then(|r| r.recommendation())
            .and_then(|r| r.text()),
        Some("1. Check the owner.")
    );
    let fields = f.product_fields().unwrap();
    assert_eq!(fields["nodeport-watch/alert_id"], "a");
    assert_eq!(fields["nodeport-watch/exposure_id"], "exp-1");
}

#[test]
fn the_service_and_its_eks_cluster_are_the_resources() {
    let f = finding(&eks_alert(), &TARGET, now());
    let [service, cluster] = f.resources() else {
        panic!("{:?}", f.resources())
    };
    assert_eq!(service.r#type(), Some("Other"));
    assert_eq!(service.id(), Some("prod-eu/shop/web"));
    assert_eq!(service.region(), Some("eu-central-1"));
    let other = service.details().and_then(|d| d.other()).unwrap();
    assert_eq!(other["namespace"], "shop");
    assert_eq!(other["service"], "web");
    assert_eq!(other["rule"], "nodeport");
    assert_eq!(other["provider"], "eks");
    assert_eq!(cluster.r#type(), Some("AwsEksCluster"));
    assert_eq!(
        cluster.id(),
        Some("arn:aws:eks:eu-central-1:210987654321:cluster/prod-eu")
    );
    assert_eq!(
        cluster
            .details()
            .and_then(|d| d.aws_eks_cluster())
            .and_then(|c| c.name()),
        Some("prod-eu")
    );

    let mut gke = eks_alert();
    gke.provider = Provider::Gke;
    gke.region = Some("not a region\n".into());
    let f = finding(&gke, &TARGET, now());
    let [service] = f.resources() else {
        panic!("{:?}", f.resources())
    };
    assert_eq!(service.r#type(), Some("Other"));
    assert_eq!(service.region(), Some("eu-west-1"));
}

#[test]
fn a_close_archives_the_same_finding_later() {
    let open = eks_alert();
    let mut close = open.clone();
    close.id = "closed-id".into();
    close.status = AlertStatus::Closed;
    close.event_time = Some(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let opened = finding(&open, &TARGET, now());
    let closed = finding(&close, &TARGET, now() + Duration::hours(2));
    assert_eq!(opened.id(), closed.id());
    assert_eq!(closed.record_state(), Some(&RecordState::Archived));
    assert_eq!(
        closed.workflow().and_then(|w| w.status()),
        Some(&WorkflowStatus::Resolved)
    );
    assert!(closed.updated_at() > opened.updated_at());
    assert_eq!(closed.last_observed_at(), Some("2026-03-02T09:00:00.000Z"));
    // A request in the future of a skewed clock still gives UpdatedAt >= CreatedAt.
    let early = finding(&close, &TARGET, now() - Duration::days(30));
    assert_eq!(early.updated_at(), early.created_at());
}

#[test]
fn the_id_falls_back_to_the_alert_and_is_sanitized() {
    let mut a = alert(0);
    a.rule = RuleId::DeniedAttempts;
    assert_eq!(finding_id(&a), "nodeport-watch/alert/a");
    a.exposure_id = Some(String::new());
    assert_eq!(finding_id(&a), "nodeport-watch/alert/a");
    a.exposure_id = Some(format!("../x:y/{}", "z".repeat(2000)));
    let hostile = finding_id(&a);
    assert!(
        hostile.starts_with("nodeport-watch/exposure/.._x_y_zz"),
        "{hostile}"
    );
    assert!(hostile.len() <= MAX_ID);
    assert_eq!(types(&a), ["Unusual Behaviors/User"]);
}

#[test]
fn hostile_names_stay_data_within_the_limits() {
    let mut a = eks_alert();
    a.namespace = Some("shop/../kube-system".into());
    a.service = Some(format!("web\u{1b}]8;;http://evil\u{7}{}", "w".repeat(5000)));
    a.cluster = Some("prod:eu/arn".into());
    a.title = format!("T\r\n{}", "x".repeat(5000));
    a.runbook = "r".repeat(5000);
    a.user.username = Some("u".repeat(100_000));
    let f = finding(&a, &TARGET, now());
    let service = &f.resources()[0];
    let resource_id = service.id().unwrap();
    assert!(resource_id.starts_with("prod_eu_arn/shop_.._kube-system/web__8__http___evil_w"));
    assert!(resource_id.len() <= MAX_ID);
    assert!(
        f.resources()[1]
            .id()
            .is_some_and(|arn| arn.ends_with(":cluster/prod_eu_arn"))
    );
    assert_eq!(f.title().map(|t| t.chars().count()), Some(256));
    assert!(f.title().is_some_and(|t| !t.contains(['\r', '\n'])));
    assert!(f.description().unwrap().chars().count() <= MAX_DESCRIPTION);
    let other = service.details().and_then(|d| d.other()).unwrap();
    assert!(other.values().all(|v| v.chars().count() < 1024));
    assert!(!other["service"].contains('\u{1b}'));
    let fields = f.product_fields().unwrap();
    assert!(fields.len() <= 50);
    assert!(fields.values().all(|v| v.chars().count() <= MAX_VALUE));
    // A finding may weigh 240 KB: even with every field at its limit this one stays far below
    // (UTF-8 is at most 4 bytes a character).
    let chars: usize = fields
        .iter()
        .map(|(k, v)| k.len() + v.chars().count())
        .sum::<usize>()
        + other.values().map(|v| v.chars().count()).sum::<usize>()
        + f.description().map_or(0, str::len)
        + f.title().map_or(0, str::len)
        + 512 * 3;
    assert!(chars * 4 < 240 * 1024, "{chars}");
}

#[test]
fn partitions_follow_the_region() {
    let china = Target {
        account: "123456789012",
        region: "cn-north-1",
    };
    assert_eq!(
        china.product_arn(),
        "arn:aws-cn:securityhub:cn-north-1:123456789012:product/123456789012/default"
    );
    let gov = Target {
        account: "123456789012",
        region: "us-gov-west-1",
    };
    assert_eq!(gov.partition().1, Partition::AwsUsGov);
}
