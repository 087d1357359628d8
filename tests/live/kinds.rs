//! Every kind the 1.20 apiserver serves, rendered live: one object of each is created, and an
//! agent in `--scope=cluster` exports families for each.
//!
//! The kinds come from the agent's registry. Each is created from its object in
//! `fixtures/every-kind.yaml` when there is one, else from its golden `minimal.yaml` (the case a
//! new kind must have anyway), so adding a kind needs no edit here. Kinds whose API version 1.20
//! lacks (batch/v1 CronJob, policy/v1 PodDisruptionBudget, autoscaling/v2 HPA, discovery/v1
//! EndpointSlice, admission policies) are covered by golden fixtures; the test checks that list
//! against the apiserver's discovery, so a typo in a kind's API type cannot hide here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::Scope;
use testkit::agent::AgentProcess;
use testkit::kubectl::kubectl;
use testkit::objects::{TestNamespace, unique};
use testkit::{Cluster, poll_until};

const FIXTURE: &str = include_str!("fixtures/every-kind.yaml");

/// Kinds kube-apiserver 1.20 does not serve at the version the agent reads.
const NOT_SERVED_BY_1_20: &[&str] = &[
    "cronjobs",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "endpointslices",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
];

/// Kinds this test does not create from a fixture: pods and nodes are node-bound and covered
/// by the node-scope tests; the test's own Namespace stands for `namespaces`; a
/// CertificateSigningRequest needs a real PKCS#10 request, made by [`csr_manifest`].
const NOT_FROM_FIXTURES: &[&str] = &["pods", "nodes", "namespaces", "certificatesigningrequests"];

/// Whether `kind`'s API version is served, by discovery.
async fn served(client: &kube::Client, kind: &dyn KindInfo) -> bool {
    let found = if kind.api_group().is_empty() {
        client.list_core_api_resources(kind.api_version()).await
    } else {
        let gv = format!("{}/{}", kind.api_group(), kind.api_version());
        client.list_api_group_resources(&gv).await
    };
    found.is_ok_and(|list| list.resources.iter().any(|r| r.name == kind.plural()))
}

/// The prefix every family of `kind` starts with (`kube_deployment_`).
pub(crate) fn family_prefix(kind: &dyn KindInfo) -> String {
    let names: Vec<&str> = kind.family_headers().iter().map(|h| h.name).collect();
    let first = names[0];
    let common = names.iter().fold(first.len(), |len, name| {
        first
            .bytes()
            .zip(name.bytes())
            .take(len)
            .take_while(|(a, b)| a == b)
            .count()
    });
    let prefix = &first[..common];
    prefix[..=prefix.rfind('_').expect("kube_<kind>_")].to_string()
}

/// The group of `apiVersion` (`""` for the core group's `v1`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// `kind`'s object for this run: from `fixtures` when one has its apiVersion group and kind,
/// else its golden `minimal.yaml` with the server-set fields dropped, renamed with `sfx` and put
/// in `ns` when namespaced.
fn object_for(
    kind: &dyn KindInfo,
    fixtures: &[serde_norway::Value],
    ns: &str,
    sfx: &str,
) -> String {
    let is_kind = |doc: &&serde_norway::Value| {
        doc["kind"].as_str() == Some(kind.kind_name())
            && doc["apiVersion"].as_str().map(group_of) == Some(kind.api_group())
    };
    if let Some(doc) = fixtures.iter().find(is_kind) {
        return serde_norway::to_string(doc).unwrap();
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/golden")
        .join(kind.resource())
        .join("minimal.yaml");
    let yaml = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; every kind has a minimal case", path.display()));
    let mut doc: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
    let meta = doc["metadata"]
        .as_mapping_mut()
        .unwrap_or_else(|| panic!("{}: no metadata", path.display()));
    for server_set in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "generation",
        "managedFields",
        "ownerReferences",
    ] {
        meta.remove(server_set);
    }
    let name = meta
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or("obj")
        .to_string();
    meta.insert("name".into(), format!("{name}-{sfx}").into());
    if matches!(kind.scope(), Scope::Namespaced | Scope::NodeBound) {
        meta.insert("namespace".into(), ns.into());
    } else {
        meta.remove("namespace");
    }
    if let Some(map) = doc.as_mapping_mut() {
        map.remove("status");
    }
    serde_norway::to_string(&doc).unwrap()
}

/// A CertificateSigningRequest with a real PKCS#10 request from openssl.
pub(crate) fn csr_manifest(name: &str) -> String {
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
    let fixtures: Vec<serde_norway::Value> = FIXTURE
        .replace("__NS__", ns.name())
        .replace("__SFX__", &sfx)
        .split("\n---\n")
        .map(|doc| serde_norway::from_str(doc).expect("every-kind.yaml parses"))
        .collect();

    let mut unserved = BTreeSet::new();
    let mut kinds: Vec<&'static dyn KindInfo> = Vec::new();
    for kind in registry::KINDS.iter().copied() {
        if served(&client, kind).await {
            kinds.push(kind);
        } else {
            unserved.insert(kind.resource());
        }
    }
    assert_eq!(
        unserved,
        NOT_SERVED_BY_1_20.iter().copied().collect(),
        "the kinds discovery says this apiserver does not serve"
    );

    let mut manifest = csr_manifest(&format!("csr-{sfx}"));
    let mut cluster_scoped = vec![format!("certificatesigningrequest/csr-{sfx}")];
    for kind in kinds
        .iter()
        .filter(|k| !NOT_FROM_FIXTURES.contains(&k.resource()))
    {
        let object = object_for(*kind, &fixtures, ns.name(), &sfx);
        if kind.scope() == Scope::Cluster {
            let doc: serde_norway::Value = serde_norway::from_str(&object).unwrap();
            let name = doc["metadata"]["name"].as_str().unwrap();
            cluster_scoped.push(format!("{}/{name}", kind.kind_name().to_lowercase()));
        }
        manifest.push_str("---\n");
        manifest.push_str(&object);
    }
    kubectl(&["create", "-f", "-"], &manifest)
        .unwrap_or_else(|e| panic!("creating the fixtures: {e}"));

    let expected: Vec<(&str, String)> = kinds
        .iter()
        .filter(|k| !matches!(k.resource(), "pods" | "nodes"))
        .map(|k| (k.resource(), family_prefix(*k)))
        .collect();
    let resources: Vec<&str> = expected.iter().map(|(r, _)| *r).collect();
    let resources = resources.join(",");
    let mut agent = AgentProcess::start("", &["--scope", "cluster", "--resources", &resources]);
    agent.wait_ready(Duration::from_secs(60)).await;
    let missing = poll_until("every kind's families", Duration::from_secs(60), || async {
        let e = agent.scrape().await?;
        let missing: Vec<&str> = expected
            .iter()
            .filter(|(_, prefix)| {
                !e.samples.iter().any(|s| {
                    s.name.starts_with(prefix.as_str())
                        && (s.label("namespace") == Some(ns.name())
                            || s.labels.iter().any(|(_, v)| v.ends_with(&sfx)))
                })
            })
            .map(|(resource, _)| *resource)
            .collect();
        if missing.is_empty() {
            Ok(missing)
        } else {
            Err(format!("missing {missing:?}"))
        }
    })
    .await;
    assert!(missing.is_empty());
    assert!(
        expected.len() >= 29,
        "the 1.20 apiserver serves at least 29 of the kinds"
    );
    let mut args = vec!["delete", "--wait=false", "--ignore-not-found"];
    args.extend(cluster_scoped.iter().map(String::as_str));
    let _ = kubectl(&args, "");
}
