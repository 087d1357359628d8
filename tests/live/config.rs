//! `--config FILE` against the real apiserver: a rewritten file changes what the running agent
//! exports without a restart, a bad rewrite keeps the previous output and flips the reload
//! telemetry, and a setting that needs a restart is reported and left alone.

use std::path::Path;
use std::time::Duration;

use testkit::agent::AgentProcess;
use testkit::exposition::Exposition;
use testkit::objects::{
    ConfigDir, TestNamespace, create_node, create_pod, delete_node, node, node_status, pod, unique,
};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(20);

/// The agent's self-metric `name` with `labels`, if it is exported.
async fn telemetry_value(agent: &AgentProcess, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let (_, body) = agent.get_telemetry("/metrics").await.ok()?;
    let e = Exposition::parse(&body).ok()?;
    e.samples_of(name)
        .find(|s| labels.iter().all(|(k, v)| s.label(k) == Some(*v)))
        .map(|s| s.value)
}

/// What the scrape shows of the test pod: whether `kube_pod_info` is there, and the label
/// names of its `kube_pod_labels` sample.
async fn pod_view(agent: &AgentProcess, ns: &str) -> Result<(bool, Vec<String>), String> {
    let e = agent.scrape().await?;
    let ours = |name: &'static str| {
        e.samples_of(name)
            .filter(|s| s.label("namespace") == Some(ns))
            .collect::<Vec<_>>()
    };
    let info = !ours("kube_pod_info").is_empty();
    let labels = ours("kube_pod_labels")
        .first()
        .map(|s| {
            s.labels
                .iter()
                .map(|(k, _)| k.clone())
                .filter(|k| k.starts_with("label_"))
                .collect()
        })
        .unwrap_or_default();
    Ok((info, labels))
}

fn config_path_label(file: &Path) -> String {
    file.display().to_string()
}

#[tokio::test]
async fn a_rewritten_config_file_changes_the_output_without_a_restart_and_a_bad_one_is_refused() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "cfg").await;
    let n = unique("cfg-node");
    create_node(&client, node(&n), node_status("True")).await;
    let p = pod("web-0")
        .in_namespace(ns.name())
        .on_node(&n)
        .label("team", "core")
        .label("app.kubernetes.io/name", "web")
        .running(0)
        .build();
    create_pod(&client, ns.name(), p).await;

    let dir = ConfigDir::new();
    dir.write("labels_allow_list:\n  pods: [team]\n");
    let file = dir.file();
    let mut agent = AgentProcess::start(
        &n,
        &[
            "--leader-election",
            "false",
            "--config",
            file.to_str().unwrap(),
        ],
    );
    agent.wait_ready(READY).await;
    let pid = agent.pid();
    let file_labels = [("type", "config"), ("filename", &config_path_label(&file))];

    poll_until("the first config's output", CONVERGE, || async {
        match pod_view(&agent, ns.name()).await? {
            (true, labels) if labels == ["label_team"] => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let hash_before = telemetry_value(&agent, "kube_state_metrics_config_hash", &file_labels)
        .await
        .expect("the config hash is exported");
    assert_eq!(
        telemetry_value(
            &agent,
            "kube_state_metrics_last_config_reload_successful",
            &file_labels
        )
        .await,
        Some(1.0)
    );

    // A denylist added and a key pattern: kube_pod_info goes, app.kubernetes.io/name comes.
    dir.write(
        "metric_denylist: ['^kube_pod_info$']\n\
         labels_allow_list:\n  pods: [team, app.kubernetes.io/*]\n",
    );
    poll_until("the rewritten config's output", CONVERGE, || async {
        match pod_view(&agent, ns.name()).await? {
            (false, labels) if labels == ["label_app_kubernetes_io_name", "label_team"] => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(agent.pid(), pid);
    assert_eq!(
        telemetry_value(&agent, "ksa_config_reloads_total", &[("result", "success")]).await,
        Some(1.0)
    );
    let hash_after = telemetry_value(&agent, "kube_state_metrics_config_hash", &file_labels)
        .await
        .unwrap();
    assert_ne!(hash_before, hash_after, "the hash follows the file");
    let (status, _) = agent.get("/readyz").await.unwrap();
    assert_eq!(status, 200, "still ready after the switch");

    // A bad rewrite: both lists. The running config stays; telemetry says the reload failed.
    dir.write("metric_allowlist: [kube_pod_.*]\nmetric_denylist: [kube_node_.*]\n");
    poll_until("the failed reload in telemetry", CONVERGE, || async {
        let ok = telemetry_value(
            &agent,
            "kube_state_metrics_last_config_reload_successful",
            &file_labels,
        )
        .await;
        let failures =
            telemetry_value(&agent, "ksa_config_reloads_total", &[("result", "failure")]).await;
        if ok == Some(0.0) && failures == Some(1.0) {
            Ok(())
        } else {
            Err(format!("successful={ok:?} failures={failures:?}"))
        }
    })
    .await;
    assert_eq!(
        pod_view(&agent, ns.name()).await.unwrap(),
        (
            false,
            vec![
                "label_app_kubernetes_io_name".to_string(),
                "label_team".to_string()
            ]
        ),
        "the previous config's output stays"
    );
    assert!(
        agent
            .log()
            .contains("--metric-allowlist and --metric-denylist"),
        "the error is logged:\n{}",
        agent.log()
    );

    // A fix that also asks for another port: applied, except the port, which needs a restart.
    dir.write("labels_allow_list:\n  pods: [team]\nport: 1\n");
    poll_until("the fixed config's output", CONVERGE, || async {
        match pod_view(&agent, ns.name()).await? {
            (true, labels) if labels == ["label_team"] => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(
        telemetry_value(&agent, "ksa_config_restart_required", &[]).await,
        Some(1.0)
    );
    assert_eq!(
        telemetry_value(
            &agent,
            "kube_state_metrics_last_config_reload_successful",
            &file_labels
        )
        .await,
        Some(1.0)
    );
    assert_eq!(agent.pid(), pid);
    drop(agent);
    delete_node(&client, &n).await;
}

#[tokio::test]
async fn a_bad_config_file_fails_the_start_naming_it() {
    let dir = ConfigDir::new();
    dir.write("labels_allow_list:\n  pod: [app]\n");
    let file = dir.file();
    let mut agent = AgentProcess::start(
        &unique("cfg-bad"),
        &[
            "--leader-election",
            "false",
            "--config",
            file.to_str().unwrap(),
        ],
    );
    let code = agent.wait_exit(CONVERGE).await;
    assert_eq!(code, Some(2));
    let log = agent.log();
    assert!(
        log.contains("--config") && log.contains("unknown resource \"pod\""),
        "{log}"
    );
}
