//! The container image and Kubernetes manifests, checked as far as this machine allows (no
//! Docker, no cluster): every manifest parses, they reference each other consistently, the
//! probes hit the endpoints the ConfigMap's `[server]` serves, the pod runs non-root on a
//! read-only root filesystem, and the ConfigMap's configuration passes `validate`.

use std::collections::{BTreeMap, BTreeSet};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{binary, root};

fn manifests() -> BTreeMap<String, Yaml> {
    let dir = root().join("config/kubernetes");
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
            .unwrap_or_else(|| panic!("{}: no kind", path.display()));
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
        out.insert(kind.to_owned(), doc);
    }
    out
}

fn s(y: &Yaml) -> &str {
    y.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {y:?}"))
}

#[test]
fn kubernetes_manifests_fit_together() {
    let m = manifests();
    for kind in [
        "Namespace",
        "ServiceAccount",
        "ConfigMap",
        "PersistentVolumeClaim",
        "Deployment",
        "Service",
        "Secret",
        "Kustomization",
    ] {
        assert!(m.contains_key(kind), "no {kind} manifest");
    }
    let deploy = &m["Deployment"];
    let pod = &deploy["spec"]["template"]["spec"];
    let container = &pod["containers"][0];

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
    assert_eq!(s(&deploy["spec"]["strategy"]["type"]), "Recreate");
    assert_eq!(deploy["spec"]["replicas"].as_i64(), Some(1));

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
        "the ConfigMap's [server] listen must match containerPort {port}"
    );
    assert_eq!(
        m["Service"]["spec"]["ports"][0]["targetPort"].as_str(),
        Some(port_name)
    );
    assert_eq!(s(&m["Service"]["spec"]["type"]), "ClusterIP");

    // Volumes: config from the ConfigMap, state on the claim, a writable /tmp.
    let mounts: BTreeMap<&str, &str> = container["volumeMounts"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (s(&v["mountPath"]), s(&v["name"])))
        .collect();
    let volumes: BTreeMap<&str, &Yaml> = pod["volumes"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|v| (s(&v["name"]), v))
        .collect();
    let config_volume = volumes[mounts["/etc/nodeport-watch"]];
    assert_eq!(
        s(&config_volume["configMap"]["name"]),
        s(&m["ConfigMap"]["metadata"]["name"])
    );
    let state_volume = volumes[mounts["/var/lib/nodeport-watch"]];
    assert_eq!(
        s(&state_volume["persistentVolumeClaim"]["claimName"]),
        s(&m["PersistentVolumeClaim"]["metadata"]["name"])
    );
    assert!(volumes[mounts["/tmp"]]["emptyDir"].as_hash().is_some());

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

    // Every secret the pod reads exists in the example Secret.
    let secret_keys: BTreeSet<&str> = m["Secret"]["stringData"]
        .as_hash()
        .unwrap()
        .keys()
        .map(s)
        .collect();
    let mut env = Vec::new();
    for var in container["env"].as_vec().unwrap() {
        let r = &var["valueFrom"]["secretKeyRef"];
        assert_eq!(s(&r["name"]), s(&m["Secret"]["metadata"]["name"]));
        assert!(
            secret_keys.contains(s(&r["key"])),
            "missing key {:?}",
            r["key"]
        );
        env.push(s(&var["name"]).to_owned());
    }

    // Kustomize applies every manifest but the example Secret.
    let listed: BTreeSet<&str> = m["Kustomization"]["resources"]
        .as_vec()
        .unwrap()
        .iter()
        .map(s)
        .collect();
    assert!(!listed.contains("secret.example.yaml"));
    assert_eq!(listed.len(), 6);

    // The ConfigMap's configuration is valid, given the environment the Deployment provides.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &config_text).unwrap();
    let mut cmd = std::process::Command::new(binary());
    cmd.args(["validate", "--config"]).arg(&path);
    for name in &env {
        cmd.env(name, "https://receiver.example.com/some-token");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
