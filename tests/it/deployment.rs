//! The container image and Kubernetes manifests, checked as far as this machine allows (no
//! Docker, no cluster): every manifest parses, they reference each other consistently, the
//! probes hit the endpoints the ConfigMap's `[server]` serves, the pod runs non-root on a
//! read-only root filesystem, and the ConfigMap's configuration passes `validate`. Both
//! variants are checked: one replica on a volume (`config/kubernetes/`) and three replicas on
//! PostgreSQL (`config/kubernetes/ha/`).

use std::collections::{BTreeMap, BTreeSet};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{binary, root};

/// Every manifest of `config/kubernetes/<variant>`, by kind.
fn manifests(variant: &str) -> BTreeMap<String, Yaml> {
    let dir = root().join("config/kubernetes").join(variant);
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let docs =
            YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(docs.len(), 1, "{}: one document per file", path.display());
        let doc = docs.into_iter().next().unwrap();
        let kind = doc["kind"]
            .as_str()
            .unwrap_or_else(|| panic!("{}: no kind", path.display()))
            .to_owned();
        assert!(
            doc["apiVersion"].as_str().is_some(),
            "{}: no apiVersion",
            path.display()
        );
        if kind != "Kustomization" {
            assert!(
                doc["metadata"]["name"].as_str().is_some(),
                "{}: no name",
                path.display()
            );
        }
        let previous = out.insert(kind.clone(), doc);
        assert!(previous.is_none(), "{variant}: two {kind} manifests");
    }
    out
}

fn s(y: &Yaml) -> &str {
    y.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {y:?}"))
}

fn pod(m: &BTreeMap<String, Yaml>) -> &Yaml {
    &m["Deployment"]["spec"]["template"]["spec"]
}

fn container(m: &BTreeMap<String, Yaml>) -> &Yaml {
    &pod(m)["containers"][0]
}

/// The pod's volumes by mount path.
fn mounted(m: &BTreeMap<String, Yaml>) -> BTreeMap<&str, &Yaml> {
    let volumes: BTreeMap<&str, &Yaml> = pod(m)["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (s(&v["name"]), v))
        .collect();
    container(m)["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (s(&v["mountPath"]), volumes[s(&v["name"])]))
        .collect()
}

/// What both variants share: the command, non-root on a read-only root filesystem, probes on
/// the server's port, the config from the ConfigMap, the cloud identities, every secret from
/// the example Secret, kustomize applying all but that Secret, and a configuration that
/// `validate` accepts in the environment the Deployment gives it. Returns the configuration.
fn check_variant(variant: &str, m: &BTreeMap<String, Yaml>) -> String {
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "Deployment",
        "Service",
        "Secret",
        "Kustomization",
    ] {
        assert!(m.contains_key(kind), "{variant}: no {kind} manifest");
    }
    let deploy = &m["Deployment"];
    let pod = pod(m);
    let container = container(m);

    // The image's command, non-root, read-only root filesystem.
    let args: Vec<&str> = container["args"].as_vec().unwrap().iter().map(s).collect();
    assert_eq!(args, ["run", "--config", "/etc/nodeport-watch/config.toml"]);
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    assert_eq!(pod["securityContext"]["runAsUser"].as_i64(), Some(10001));
    assert_eq!(
        container["securityContext"]["readOnlyRootFilesystem"].as_bool(),
        Some(true)
    );
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"].as_bool(),
        Some(false)
    );
    for resource in ["cpu", "memory"] {
        assert!(
            container["resources"]["requests"][resource]
                .as_str()
                .is_some(),
            "{variant}: no {resource} request"
        );
    }
    assert!(
        container["resources"]["limits"]["memory"]
            .as_str()
            .is_some()
    );

    // Probes on the server's port.
    let port_name = s(&container["ports"][0]["name"]);
    let port = container["ports"][0]["containerPort"].as_i64().unwrap();
    assert_eq!(
        s(&container["livenessProbe"]["httpGet"]["path"]),
        "/healthz"
    );
    assert_eq!(
        s(&container["readinessProbe"]["httpGet"]["path"]),
        "/readyz"
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(s(&container[probe]["httpGet"]["port"]), port_name);
    }
    let config_text = s(&m["ConfigMap"]["data"]["config.toml"]).to_owned();
    assert!(
        config_text.contains(&format!("listen = \"0.0.0.0:{port}\"")),
        "{variant}: the ConfigMap's [server] listen must match containerPort {port}"
    );
    assert_eq!(
        m["Service"]["spec"]["ports"][0]["targetPort"].as_str(),
        Some(port_name)
    );
    assert_eq!(s(&m["Service"]["spec"]["type"]), "ClusterIP");

    // Volumes: config from the ConfigMap, a writable /tmp.
    let mounts = mounted(m);
    assert_eq!(
        s(&mounts["/etc/nodeport-watch"]["configMap"]["name"]),
        s(&m["ConfigMap"]["metadata"]["name"])
    );
    assert!(mounts["/tmp"]["emptyDir"].as_hash().is_some());

    // Identity: the ServiceAccount carries IRSA, GKE and AKS workload identity annotations.
    assert_eq!(
        s(&pod["serviceAccountName"]),
        s(&m["ServiceAccount"]["metadata"]["name"])
    );
    let annotations = &m["ServiceAccount"]["metadata"]["annotations"];
    for key in [
        "eks.amazonaws.com/role-arn",
        "iam.gke.io/gcp-service-account",
        "azure.workload.identity/client-id",
    ] {
        assert!(annotations[key].as_str().is_some(), "no {key} annotation");
    }
    assert_eq!(
        deploy["spec"]["template"]["metadata"]["labels"]["azure.workload.identity/use"].as_str(),
        Some("true")
    );

    // Every secret the pod reads exists in the example Secret; the pod's environment, with
    // the example values, is what `validate` runs with below.
    let secret = &m["Secret"]["stringData"];
    let mut env = Vec::new();
    for var in container["env"].as_vec().unwrap() {
        let name = s(&var["name"]).to_owned();
        let from = &var["valueFrom"];
        let value = if let Some(field) = from["fieldRef"]["fieldPath"].as_str() {
            assert_eq!(field, "metadata.name", "{variant}: {name}");
            "nodeport-watch-7d9f8b6c5-x2x4q".to_owned()
        } else {
            let r = &from["secretKeyRef"];
            assert_eq!(s(&r["name"]), s(&m["Secret"]["metadata"]["name"]));
            let key = s(&r["key"]);
            secret[key]
                .as_str()
                .unwrap_or_else(|| panic!("{variant}: the example Secret has no {key}"))
                .to_owned()
        };
        env.push((name, value));
    }

    // Kustomize applies every manifest but the example Secret.
    let listed: BTreeSet<&str> = m["Kustomization"]["resources"]
        .as_vec()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(!listed.contains("secret.example.yaml"));
    assert_eq!(listed.len(), m.len() - 2, "{variant}: {listed:?}");

    // The ConfigMap's configuration is valid, given the environment the Deployment provides.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &config_text).unwrap();
    let out = std::process::Command::new(binary())
        .args(["validate", "--config"])
        .arg(&path)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{variant}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    config_text
}

#[test]
fn kubernetes_manifests_fit_together() {
    let m = manifests("");
    check_variant("single replica", &m);
    let deploy = &m["Deployment"];
    // One writer per state database: never two pods on the volume, not even during a rollout.
    assert_eq!(s(&deploy["spec"]["strategy"]["type"]), "Recreate");
    assert_eq!(deploy["spec"]["replicas"].as_i64(), Some(1));
    assert_eq!(
        s(&mounted(&m)["/var/lib/nodeport-watch"]["persistentVolumeClaim"]["claimName"]),
        s(&m["PersistentVolumeClaim"]["metadata"]["name"])
    );
}

#[test]
fn ha_manifests_run_three_replicas_on_postgresql() {
    let m = manifests("ha");
    let config = check_variant("ha", &m);
    let spec = &m["Deployment"]["spec"];
    let labels = &spec["template"]["metadata"]["labels"];
    let selects_the_pods = |selector: &Yaml| {
        for (key, value) in selector["matchLabels"].as_hash().unwrap() {
            assert_eq!(&labels[s(key)], value, "selector {key:?}");
        }
    };

    // Three replicas, replaced one at a time, at most one down for a disruption.
    assert_eq!(spec["replicas"].as_i64(), Some(3));
    assert_eq!(s(&spec["strategy"]["type"]), "RollingUpdate");
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxUnavailable"].as_i64(),
        Some(1)
    );
    assert_eq!(
        spec["strategy"]["rollingUpdate"]["maxSurge"].as_i64(),
        Some(1)
    );
    let pdb = &m["PodDisruptionBudget"];
    assert_eq!(pdb["spec"]["minAvailable"].as_i64(), Some(2));
    selects_the_pods(&pdb["spec"]["selector"]);
    selects_the_pods(&spec["selector"]);

    // Spread: preferably one pod per node, and evenly over zones.
    let pod = pod(&m);
    let preferred =
        &pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0];
    assert_eq!(
        s(&preferred["podAffinityTerm"]["topologyKey"]),
        "kubernetes.io/hostname"
    );
    selects_the_pods(&preferred["podAffinityTerm"]["labelSelector"]);
    assert!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            .is_badvalue(),
        "a hard anti-affinity would block a rollout on a small cluster"
    );
    let spread = &pod["topologySpreadConstraints"][0];
    assert_eq!(s(&spread["topologyKey"]), "topology.kubernetes.io/zone");
    assert_eq!(spread["maxSkew"].as_i64(), Some(1));
    selects_the_pods(&spread["labelSelector"]);

    // Nothing on disk: no claim, no state volume; the state is PostgreSQL, reached through
    // secrets from the Secret, with the certificate checked.
    assert!(!m.contains_key("PersistentVolumeClaim"));
    for volume in pod["volumes"].as_vec().unwrap() {
        assert!(volume["persistentVolumeClaim"].is_badvalue(), "{volume:?}");
    }
    let state: toml::Table = toml::from_str::<toml::Table>(&config).unwrap()["state"]
        .as_table()
        .unwrap()
        .clone();
    assert!(state.get("path").is_none());
    assert_eq!(state["sslmode"].as_str(), Some("verify-full"));
    let env = container(&m)["env"].as_vec().unwrap();
    for key in ["url", "password"] {
        let var = state[key]["env"]
            .as_str()
            .unwrap_or_else(|| panic!("[state] {key} must come from the environment"));
        let given = env
            .iter()
            .find(|e| s(&e["name"]) == var)
            .unwrap_or_else(|| panic!("the Deployment does not set {var}"));
        assert!(given["valueFrom"]["secretKeyRef"]["key"].as_str().is_some());
    }

    // Each replica knows its pod's name.
    let pod_name = env.iter().find(|e| s(&e["name"]) == "POD_NAME").unwrap();
    assert_eq!(
        s(&pod_name["valueFrom"]["fieldRef"]["fieldPath"]),
        "metadata.name"
    );

    // What is not about replicas is the same as for one replica.
    let single = manifests("");
    for kind in ["Namespace", "ServiceAccount", "Service"] {
        assert_eq!(
            m[kind], single[kind],
            "ha/ and the single-replica {kind} differ"
        );
    }
}

#[test]
fn dockerfile_runs_the_daemon_non_root_with_a_healthcheck() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let runtime = text.rsplit("\nFROM ").next().unwrap();
    let line = |prefix: &str| {
        runtime
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix} in the runtime stage"))
            .to_owned()
    };
    assert_eq!(line("USER "), "USER 10001:10001");
    assert_eq!(
        line("CMD "),
        r#"CMD ["run", "--config", "/etc/nodeport-watch/config.toml"]"#
    );
    assert_eq!(
        line("ENTRYPOINT "),
        r#"ENTRYPOINT ["/usr/local/bin/nodeport-watch"]"#
    );
    assert!(line("VOLUME ").contains("/var/lib/nodeport-watch"));
    assert!(runtime.contains("SQLITE_TMPDIR=/var/lib/nodeport-watch"));
    let health = runtime
        .split("HEALTHCHECK")
        .nth(1)
        .expect("a HEALTHCHECK")
        .lines()
        .take(2)
        .collect::<String>();
    assert!(
        health.contains(r#""/usr/local/bin/nodeport-watch", "health""#),
        "{health}"
    );
    // The build copies what Cargo.toml declares (the bench target) so --locked builds.
    assert!(text.contains("COPY benches ./benches"));
    assert!(text.contains("cargo build --release --locked"));
}
