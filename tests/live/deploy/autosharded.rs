//! The autosharded overlay (`deploy/autosharded`): a StatefulSet of `--scope=cluster` replicas
//! that take their shard from their pod's ordinal and their StatefulSet's replicas.
//!
//! Rendered: the DaemonSet and the election's Role are gone, the StatefulSet passes the
//! downward API's pod name and namespace as `--pod`/`--pod-namespace`, and the Role grants
//! exactly what autosharding reads. Live: every object passes a server-side dry run, and an
//! agent run with a token whose only rights are that Role (plus listing the one kind it
//! exports) finds its StatefulSet, exports its shard and follows a scale.

use std::time::Duration;

use k8s_openapi::api::core::v1::ServiceAccount;
use kube::Api;
use kube::api::PostParams;
use kube_state_agent::sharding::Shard;
use serde_norway::Value;
use testkit::agent::AgentProcess;
use testkit::kubectl::kubectl;
use testkit::objects::{TestNamespace, service_account_token};
use testkit::{Cluster, poll_until};

use super::large_cluster::dry_run_in_a_namespace_of_its_own;
use super::{
    BASE, Manifests, assert_binds_the_service_account, at, flag, name, rules_of, str_at, strings,
};
use crate::shards::{configmaps, create_member, create_statefulset, exported, owned, set_replicas};

/// The overlay, relative to the workspace root.
const AUTOSHARDED: &str = "deploy/autosharded";

#[test]
fn the_statefulset_passes_its_pod_to_the_agent_and_the_role_grants_what_autosharding_reads() {
    let m = Manifests::render(AUTOSHARDED);
    let kinds: Vec<&str> = m.0.iter().map(|d| str_at(d, "kind")).collect();
    assert!(!kinds.contains(&"DaemonSet"), "{kinds:?}");
    let sts = m.one("StatefulSet");
    let c = at(sts, "spec.template.spec.containers.0");
    let args = strings(at(c, "args"));
    assert_eq!(flag(&args, "--scope"), Some("cluster"));
    assert_eq!(flag(&args, "--pod"), Some("$(POD_NAME)"));
    assert_eq!(flag(&args, "--pod-namespace"), Some("$(POD_NAMESPACE)"));
    assert_eq!(flag(&args, "--shard"), None);
    assert_eq!(flag(&args, "--total-shards"), None);
    let env = at(c, "env").as_sequence().expect("env");
    for (var, field) in [
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let entry = env.iter().find(|e| str_at(e, "name") == var).expect(var);
        assert_eq!(
            str_at(entry, "valueFrom.fieldRef.fieldPath"),
            field,
            "{var}"
        );
    }
    assert_eq!(
        str_at(sts, "spec.serviceName"),
        name(m.one("Service")),
        "the headless Service governs the StatefulSet"
    );

    // The container is the base's but for its args and resources.
    let base = Manifests::render(BASE);
    let base_c = at(base.one("DaemonSet"), "spec.template.spec.containers.0");
    for path in [
        "image",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "securityContext",
    ] {
        assert_eq!(at(c, path), at(base_c, path), "{path}");
    }

    // The one Role: get its pod, follow its StatefulSet; nothing else.
    let role = m.one("Role");
    let rules = rules_of(role);
    assert_eq!(
        rules,
        [
            (vec![""], vec!["pods"], vec!["get"]),
            (
                vec!["apps"],
                vec!["statefulsets"],
                vec!["get", "list", "watch"]
            ),
        ]
    );
    let rb = m.one("RoleBinding");
    assert_eq!(str_at(rb, "roleRef.name"), name(role));
    assert_binds_the_service_account(&m, rb);
}

#[tokio::test]
async fn the_autosharded_overlay_passes_a_server_side_dry_run() {
    let rendered = Manifests::render(AUTOSHARDED);
    dry_run_in_a_namespace_of_its_own(&rendered, "autosharded").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_with_only_the_overlays_role_finds_its_shard_and_follows_a_scale() {
    let admin = Cluster::get().client().await;
    let ns = TestNamespace::create(&admin, "autoshard-rbac").await;
    let ns = ns.name();
    let uids = configmaps(&admin, ns, 20).await;
    let statefulset = create_statefulset(&admin, ns, 2).await;
    create_member(&admin, ns, &statefulset, 1).await;

    // A ServiceAccount with the overlay's Role (moved into this namespace) and the right to
    // list and watch the one kind the agent exports here.
    let accounts: Api<ServiceAccount> = Api::namespaced(admin.clone(), ns);
    let account = ServiceAccount {
        metadata: kube::api::ObjectMeta {
            name: Some("agent".into()),
            ..Default::default()
        },
        ..ServiceAccount::default()
    };
    accounts
        .create(&PostParams::default(), &account)
        .await
        .expect("create the ServiceAccount");
    let mut role = Manifests::render(AUTOSHARDED).one("Role").clone();
    role["metadata"]["namespace"] = Value::from(ns);
    let grants = format!(
        "{role}---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: autosharding, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {role_name}}}\n\
         subjects: [{{kind: ServiceAccount, name: agent, namespace: {ns}}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\n\
         metadata: {{name: configmaps, namespace: {ns}}}\n\
         rules: [{{apiGroups: [''], resources: [configmaps], verbs: [list, watch]}}]\n---\n\
         apiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\n\
         metadata: {{name: configmaps, namespace: {ns}}}\n\
         roleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: configmaps}}\n\
         subjects: [{{kind: ServiceAccount, name: agent, namespace: {ns}}}]\n",
        role = serde_norway::to_string(&role).expect("YAML"),
        role_name = name(&role),
    );
    kubectl(&["apply", "-f", "-"], &grants).unwrap_or_else(|e| panic!("grants: {e}"));
    let token = service_account_token(&admin, ns, "agent").await;
    let kubeconfig = Cluster::get().kubeconfig_with_token(&token);

    let mut agent = AgentProcess::start_with_kubeconfig(
        &kubeconfig,
        "",
        &[
            "--scope",
            "cluster",
            "--pod",
            "ksa-1",
            "--pod-namespace",
            ns,
            "--resources",
            "configmaps",
            "--namespaces",
            ns,
        ],
    );
    agent.wait_ready(Duration::from_secs(30)).await;
    for total in [2, 3] {
        if total == 3 {
            set_replicas(&admin, ns, 3).await;
        }
        let want = owned(&uids, Shard { index: 1, total });
        poll_until(
            &format!("shard 1 of {total}"),
            Duration::from_secs(15),
            || async {
                let got = exported(&agent.scrape().await?, ns);
                if got == want {
                    Ok(())
                } else {
                    Err(format!("{got:?}, want {want:?}"))
                }
            },
        )
        .await;
    }
    let log = agent.log();
    assert!(!log.to_lowercase().contains("forbidden"), "{log}");
    let _ = std::fs::remove_file(&kubeconfig);
}
