//! Every kind the 1.20 apiserver serves, rendered live: one object of each is created, and an
//! agent in `--scope=cluster` exports families for each. (Kinds whose API version 1.20 lacks —
//! batch/v1 CronJob, policy/v1 PodDisruptionBudget, autoscaling/v2 HPA, discovery/v1
//! EndpointSlice, admission policies — are covered by golden fixtures.)

use std::process::{Command, Stdio};
use std::time::Duration;

use testkit::agent::AgentProcess;
use testkit::kubectl::kubectl;
use testkit::objects::{TestNamespace, unique};
use testkit::{Cluster, poll_until};

const FIXTURE: &str = include_str!("fixtures/every-kind.yaml");

/// (resource, metric prefix, namespaced)
const KINDS: &[(&str, &str, bool)] = &[
    ("deployments", "kube_deployment_", true),
    ("replicasets", "kube_replicaset_", true),
    ("statefulsets", "kube_statefulset_", true),
    ("daemonsets", "kube_daemonset_", true),
    (
        "replicationcontrollers",
        "kube_replicationcontroller_",
        true,
    ),
    ("jobs", "kube_job_", true),
    ("services", "kube_service_", true),
    ("configmaps", "kube_configmap_", true),
    ("secrets", "kube_secret_", true),
    ("serviceaccounts", "kube_serviceaccount_", true),
    ("endpoints", "kube_endpoint_", true),
    (
        "persistentvolumeclaims",
        "kube_persistentvolumeclaim_",
        true,
    ),
    ("resourcequotas", "kube_resourcequota_", true),
    ("limitranges", "kube_limitrange_", true),
    ("ingresses", "kube_ingress_", true),
    ("networkpolicies", "kube_networkpolicy_", true),
    ("roles", "kube_role_", true),
    ("rolebindings", "kube_rolebinding_", true),
    ("leases", "kube_lease_", true),
    ("namespaces", "kube_namespace_", true),
    ("persistentvolumes", "kube_persistentvolume_", false),
    ("storageclasses", "kube_storageclass_", false),
    ("volumeattachments", "kube_volumeattachment_", false),
    ("ingressclasses", "kube_ingressclass_", false),
    ("clusterroles", "kube_clusterrole_", false),
    ("clusterrolebindings", "kube_clusterrolebinding_", false),
    (
        "validatingwebhookconfigurations",
        "kube_validatingwebhookconfiguration_",
        false,
    ),
    (
        "mutatingwebhookconfigurations",
        "kube_mutatingwebhookconfiguration_",
        false,
    ),
    (
        "certificatesigningrequests",
        "kube_certificatesigningrequest_",
        false,
    ),
];

/// A CertificateSigningRequest with a real PKCS#10 request from openssl.
fn csr_manifest(name: &str) -> String {
    let out = Command::new("openssl")
        .args([
            "req",
            "-new",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=ksa-test",
            "-keyout",
            "/dev/null",
        ])
        .stderr(Stdio::null())
        .output()
        .expect("openssl is installed (scripts/cluster deps)");
    assert!(out.status.success());
    let pem = String::from_utf8(out.stdout).unwrap();
    let b64 = base64_encode(pem.as_bytes());
    format!(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\nmetadata: {{name: {name}}}\n\
         spec: {{request: {b64}, signerName: example.test/signer, usages: [client auth]}}\n"
    )
}

fn base64_encode(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_served_kind_is_exported_live_in_cluster_scope() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "kinds").await;
    let sfx = unique("k");
    let manifest = FIXTURE
        .replace("__NS__", ns.name())
        .replace("__SFX__", &sfx)
        + "---\n"
        + &csr_manifest(&format!("csr-{sfx}"));
    kubectl(&["create", "-f", "-"], &manifest)
        .unwrap_or_else(|e| panic!("creating the fixtures: {e}"));

    let resources: Vec<&str> = KINDS.iter().map(|k| k.0).collect();
    let resources = resources.join(",");
    let mut agent = AgentProcess::start("", &["--scope", "cluster", "--resources", &resources]);
    agent.wait_ready(Duration::from_secs(60)).await;
    let missing = poll_until("every kind's families", Duration::from_secs(60), || async {
        let e = agent.scrape().await?;
        let missing: Vec<&str> = KINDS
            .iter()
            .filter(|(_, prefix, namespaced)| {
                !e.samples.iter().any(|s| {
                    s.name.starts_with(prefix)
                        && if *namespaced {
                            s.label("namespace") == Some(ns.name())
                        } else {
                            s.labels.iter().any(|(_, v)| v.ends_with(&sfx))
                        }
                })
            })
            .map(|k| k.0)
            .collect();
        if missing.is_empty() {
            Ok(missing)
        } else {
            Err(format!("missing {missing:?}"))
        }
    })
    .await;
    assert!(missing.is_empty());
    let cluster_scoped: Vec<String> = [
        "persistentvolume/pv",
        "storageclass/fast",
        "volumeattachment/va",
        "ingressclass/nginx",
        "clusterrole/viewer",
        "clusterrolebinding/viewer",
        "validatingwebhookconfiguration/check",
        "mutatingwebhookconfiguration/mutate",
        "certificatesigningrequest/csr",
    ]
    .iter()
    .map(|k| format!("{k}-{sfx}"))
    .collect();
    let mut args = vec!["delete", "--wait=false"];
    args.extend(cluster_scoped.iter().map(String::as_str));
    let _ = kubectl(&args, "");
}
