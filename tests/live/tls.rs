//! `--tls-config` against the real apiserver: both ports speak TLS with the configured
//! certificate, plain HTTP is refused, client certificates are required and checked against the
//! client CA when configured, the telemetry port can opt out, and a rotated certificate is
//! served without a restart while a bad one keeps the last good certificate.

use std::path::PathBuf;
use std::time::Duration;

use testkit::agent::{AgentProcess, http_get};
use testkit::exposition::Exposition;
use testkit::objects::{
    TestNamespace, create_node, create_pod, delete_node, node, node_status, pod, unique,
};
use testkit::tls::{Ca, Issued, TlsClient};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(20);
/// Node-scope agents without the election: only the node's own pods and Node are watched.
const NO_ELECTION: &[&str] = &["--leader-election", "false"];

/// A private directory for the web config, certificate and key; removed on drop.
struct TlsDir(PathBuf);

impl TlsDir {
    fn new() -> TlsDir {
        let dir = std::env::temp_dir().join(unique("ksa-tls"));
        std::fs::create_dir_all(&dir).unwrap();
        TlsDir(dir)
    }

    /// Replaces `name` whole (write a sibling, rename), as cert-manager's writers and editors do.
    fn write(&self, name: &str, contents: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, contents).unwrap();
        std::fs::rename(&tmp, self.0.join(name)).unwrap();
    }

    /// The server's certificate and key.
    fn serve(&self, issued: &Issued) {
        self.write("tls.crt", &issued.cert);
        self.write("tls.key", &issued.key);
    }

    /// Writes the web config with `extra` lines under `tls_server_config`; returns its path.
    fn web_config(&self, extra: &str) -> String {
        self.write(
            "web.yaml",
            &format!("tls_server_config:\n  cert_file: tls.crt\n  key_file: tls.key\n{extra}"),
        );
        self.0.join("web.yaml").display().to_string()
    }
}

impl Drop for TlsDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A namespace with one running pod on a fresh node: what the node agent for that node
/// exports. Returns (namespace guard, node name).
async fn a_node_with_a_pod(client: &kube::Client, prefix: &str) -> (TestNamespace, String) {
    let ns = TestNamespace::create(client, prefix).await;
    let n = unique("tls-node");
    create_node(client, node(&n), node_status("True")).await;
    let p = pod("web").in_namespace(ns.name()).on_node(&n).running(0);
    create_pod(client, ns.name(), p.build()).await;
    (ns, n)
}

/// Polls the scrape until it holds the test pod and the node: real metric lines over TLS.
async fn wait_for_real_rows(agent: &AgentProcess, ns: &str, node: &str) -> Exposition {
    poll_until("the pod and node rows over TLS", CONVERGE, || async {
        let e = agent.scrape().await?;
        let pod = e
            .samples_of("kube_pod_info")
            .any(|s| s.label("namespace") == Some(ns) && s.label("pod") == Some("web"));
        let node_info = e
            .samples_of("kube_node_info")
            .any(|s| s.label("node") == Some(node));
        if pod && node_info {
            Ok(e)
        } else {
            Err(format!("pod row: {pod}, node row: {node_info}"))
        }
    })
    .await
}

#[tokio::test]
async fn a_scrape_with_the_ca_returns_real_metrics_and_plain_http_to_either_port_fails() {
    let client = Cluster::get().client().await;
    let (ns, n) = a_node_with_a_pod(&client, "tls-scrape").await;
    let dir = TlsDir::new();
    let ca = Ca::new("ksa test CA");
    dir.serve(&ca.issue("kube-state-agent", &["127.0.0.1"]));
    let web = dir.web_config("");
    let mut args = vec!["--tls-config", web.as_str()];
    args.extend_from_slice(NO_ELECTION);
    let mut agent = AgentProcess::start(&n, &args).with_tls(TlsClient::new(&ca.pem, None), true);
    agent.wait_ready(READY).await;

    let e = wait_for_real_rows(&agent, ns.name(), &n).await;
    assert!(e.samples_of("kube_pod_status_phase").count() > 0);

    // Both ports speak TLS only.
    for port in [agent.port, agent.telemetry_port] {
        let plain = http_get(port, "/metrics").await;
        assert!(
            plain.is_err(),
            "plain HTTP to TLS port {port} was answered: {plain:?}"
        );
    }
    let (status, body) = agent.get_telemetry("/metrics").await.unwrap();
    assert_eq!(status, 200);
    assert!(
        body.contains("ksa_tls_certificate_expiry_timestamp_seconds"),
        "{body}"
    );

    // A client that does not trust the CA refuses the agent.
    let stranger = TlsClient::new(&Ca::new("another CA").pem, None);
    assert!(stranger.get(agent.port, "/metrics").await.is_err());
    let failures = poll_until("the handshake errors counted", CONVERGE, || async {
        let v = agent
            .self_metric(
                "ksa_tls_handshake_errors_total",
                &[("listener", "metrics"), ("reason", "error")],
            )
            .await?;
        if v >= 2.0 { Ok(v) } else { Err(format!("{v}")) }
    })
    .await;
    assert!(failures >= 2.0, "plain HTTP and the untrusting client");
    delete_node(&client, &n).await;
}

#[tokio::test]
async fn a_client_certificate_is_required_and_checked_against_the_client_ca() {
    let client = Cluster::get().client().await;
    let (ns, n) = a_node_with_a_pod(&client, "tls-mtls").await;
    let dir = TlsDir::new();
    let (server_ca, client_ca, other_ca) = (
        Ca::new("server CA"),
        Ca::new("client CA"),
        Ca::new("other CA"),
    );
    dir.serve(&server_ca.issue("kube-state-agent", &["127.0.0.1"]));
    dir.write("client-ca.crt", &client_ca.pem);
    let web = dir.web_config(
        "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: client-ca.crt\n",
    );
    let mut args = vec!["--tls-config", web.as_str(), "--telemetry-tls=false"];
    args.extend_from_slice(NO_ELECTION);
    let prometheus = client_ca.issue("prometheus", &["prometheus.monitoring.svc"]);
    let mut agent = AgentProcess::start(&n, &args)
        .with_tls(TlsClient::new(&server_ca.pem, Some(&prometheus)), false);
    agent.wait_ready(READY).await;

    // Signed by the client CA: served.
    wait_for_real_rows(&agent, ns.name(), &n).await;
    // No certificate, or one from another CA: refused.
    let without = TlsClient::new(&server_ca.pem, None);
    let result = without.get(agent.port, "/metrics").await;
    assert!(
        result.is_err(),
        "no client certificate was served: {result:?}"
    );
    let intruder = other_ca.issue("prometheus", &["prometheus.monitoring.svc"]);
    let wrong = TlsClient::new(&server_ca.pem, Some(&intruder));
    let result = wrong.get(agent.port, "/metrics").await;
    assert!(
        result.is_err(),
        "a certificate of another CA was served: {result:?}"
    );

    // --telemetry-tls=false: the telemetry port stays plain HTTP (kubelet probes need no
    // certificate there).
    let (status, _) = http_get(agent.telemetry_port, "/readyz").await.unwrap();
    assert_eq!(status, 200);
    let refused = agent
        .self_metric(
            "ksa_tls_handshake_errors_total",
            &[("listener", "metrics"), ("reason", "error")],
        )
        .await
        .unwrap();
    assert!(refused >= 2.0, "both refusals counted: {refused}");
    delete_node(&client, &n).await;
}

#[tokio::test]
async fn a_rotated_certificate_is_served_without_a_restart_and_a_bad_one_keeps_the_last_good() {
    let client = Cluster::get().client().await;
    let (ns, n) = a_node_with_a_pod(&client, "tls-rotate").await;
    let dir = TlsDir::new();
    let ca = Ca::new("rotation CA");
    let (first, second) = (
        ca.issue("kube-state-agent-1", &["127.0.0.1"]),
        ca.issue("kube-state-agent-2", &["127.0.0.1"]),
    );
    dir.serve(&first);
    let web = dir.web_config("");
    let mut args = vec!["--tls-config", web.as_str()];
    args.extend_from_slice(NO_ELECTION);
    let https = TlsClient::new(&ca.pem, None);
    let mut agent = AgentProcess::start(&n, &args).with_tls(https.clone(), true);
    agent.wait_ready(READY).await;
    let pid = agent.pid();
    assert_eq!(
        https.peer_certificate(agent.port).await.unwrap(),
        first.der()
    );
    assert_eq!(
        https.peer_certificate(agent.telemetry_port).await.unwrap(),
        first.der()
    );

    // Rotate: a new certificate and key, each file replaced whole.
    dir.serve(&second);
    poll_until(
        "the rotated certificate on a new connection",
        CONVERGE,
        || async {
            let served = https.peer_certificate(agent.port).await?;
            if served == second.der() {
                Ok(())
            } else {
                Err("still the first certificate".to_string())
            }
        },
    )
    .await;
    assert_eq!(
        https.peer_certificate(agent.telemetry_port).await.unwrap(),
        second.der()
    );
    assert_eq!(agent.try_exit_code(), None, "the agent kept running");
    assert_eq!(agent.pid(), pid);
    wait_for_real_rows(&agent, ns.name(), &n).await;
    let successes = agent
        .self_metric("ksa_tls_reloads_total", &[("result", "success")])
        .await
        .unwrap();
    assert!(successes >= 1.0, "{successes}");

    // A bad certificate file: counted as a failure, the last good one stays.
    let before = agent
        .self_metric("ksa_tls_reloads_total", &[("result", "failure")])
        .await
        .unwrap();
    dir.write(
        "tls.crt",
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n",
    );
    poll_until("the failed reload counted", CONVERGE, || async {
        let now = agent
            .self_metric("ksa_tls_reloads_total", &[("result", "failure")])
            .await?;
        if now > before {
            Ok(())
        } else {
            Err(format!("failures: {now}"))
        }
    })
    .await;
    assert_eq!(
        https.peer_certificate(agent.port).await.unwrap(),
        second.der()
    );
    wait_for_real_rows(&agent, ns.name(), &n).await;
    assert!(
        agent.log().contains("keeping the served one"),
        "the refused file is logged:\n{}",
        agent.log()
    );
    delete_node(&client, &n).await;
}

#[tokio::test]
async fn a_tls_config_that_cannot_be_served_stops_the_agent_at_start_naming_the_key() {
    let dir = TlsDir::new();
    dir.write(
        "web.yaml",
        "tls_server_config:\n  cert_file: missing.crt\n  key_file: tls.key\n",
    );
    let web = dir.0.join("web.yaml").display().to_string();
    let mut agent = AgentProcess::start(&unique("tls-bad"), &["--tls-config", &web]);
    let code = agent.wait_exit(CONVERGE).await;
    assert_eq!(code, Some(2), "{}", agent.log());
    let log = agent.log();
    assert!(
        log.contains("--tls-config")
            && log.contains("tls_server_config.cert_file")
            && log.contains("missing.crt"),
        "{log}"
    );
}
