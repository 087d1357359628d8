//! Abusive clients against the node agent's scrape port: many idle connections, a slowloris, a
//! huge request head. During each, a normal scrape still answers within 50 ms and a pod change
//! is still visible within 1 s; afterwards the server has closed what it should have.

use std::time::{Duration, Instant};

use testkit::agent::AgentProcess;
use testkit::exposition::Exposition;
use testkit::objects::{
    TestNamespace, create_node, create_pod, node, node_status, pod, set_pod_status, unique,
};
use testkit::{Cluster, poll_until};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

const READY: Duration = Duration::from_secs(30);

/// Idle connections held open at once, below the default `--server-max-connections` (1024).
const IDLE_CONNECTIONS: usize = 1000;

/// A node agent with one pod of its node; returns the namespace guard, the node, the agent.
async fn agent_with_a_pod(prefix: &str, extra: &[&str]) -> (TestNamespace, String, AgentProcess) {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, prefix).await;
    let n = unique("abuse");
    create_node(&client, node(&n), node_status("True")).await;
    create_pod(
        &client,
        ns.name(),
        pod("web")
            .in_namespace(ns.name())
            .on_node(&n)
            .running(0)
            .build(),
    )
    .await;
    let mut args = vec!["--leader-election", "false"];
    args.extend_from_slice(extra);
    let mut agent = AgentProcess::start(&n, &args);
    agent.wait_ready(READY).await;
    (ns, n, agent)
}

fn restarts(e: &Exposition, ns: &str) -> Option<f64> {
    e.samples_of("kube_pod_container_status_restarts_total")
        .find(|s| s.label("namespace") == Some(ns) && s.label("pod") == Some("web"))
        .map(|s| s.value)
}

/// The fastest of five scrapes, which must hold the pod: what a scraper waits at best while
/// the abuse goes on (one slow answer on a shared 2-core machine says nothing about the server).
async fn best_scrape(agent: &AgentProcess, ns: &str) -> Duration {
    let mut best = Duration::MAX;
    for _ in 0..5 {
        let started = Instant::now();
        let e = agent.scrape().await.expect("a scrape answers");
        best = best.min(started.elapsed());
        assert!(restarts(&e, ns).is_some(), "the pod is in the scrape");
    }
    best
}

/// Changes the pod's restart count to `n` and returns how long until a scrape shows it.
async fn change_visible_after(agent: &AgentProcess, ns: &str, n: i32) -> Duration {
    let client = Cluster::get().client().await;
    let status = pod("web").running(n).build().status.expect("a status");
    set_pod_status(&client, ns, "web", status).await;
    let written = Instant::now();
    poll_until(
        "the change in the scrape",
        Duration::from_secs(20),
        || async {
            let e = agent.scrape().await?;
            match restarts(&e, ns) {
                Some(v) if v == f64::from(n) => Ok(()),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await;
    written.elapsed()
}

/// Both bounds the abuse must not break.
async fn still_served(agent: &AgentProcess, ns: &str, n: i32, during: &str) {
    let best = best_scrape(agent, ns).await;
    assert!(
        best <= Duration::from_millis(50),
        "{during}: best scrape {best:?}"
    );
    let seen = change_visible_after(agent, ns, n).await;
    eprintln!("{during}: best of 5 scrapes {best:?}, a pod change visible after {seen:?}");
    assert!(
        seen <= Duration::from_secs(1),
        "{during}: change seen after {seen:?}"
    );
}

async fn read_until_closed(s: &mut TcpStream, within: Duration) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(within, read)
        .await
        .map_err(|_| format!("still open after {within:?}"))?;
    Ok(out)
}

#[tokio::test]
async fn a_thousand_idle_connections_do_not_slow_a_scrape_and_are_closed_when_idle() {
    let (ns, _node, agent) = agent_with_a_pod("abuse-idle", &["--server-idle-timeout", "3s"]).await;
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for _ in 0..IDLE_CONNECTIONS {
        let mut c = TcpStream::connect(("127.0.0.1", agent.port))
            .await
            .expect("connects");
        // A complete request, so each connection is past its head timeout and merely idle.
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        idle.push(c);
    }
    still_served(&agent, ns.name(), 3, "1,000 idle connections").await;
    // Every idle connection is closed by the idle timeout, not held for ever.
    for c in &mut idle {
        read_until_closed(c, Duration::from_secs(30))
            .await
            .expect("closed when idle");
    }
}

#[tokio::test]
async fn a_slowloris_does_not_slow_a_scrape_and_is_cut_at_the_header_timeout() {
    let (ns, _node, agent) =
        agent_with_a_pod("abuse-slow", &["--server-read-header-timeout", "2s"]).await;
    let port = agent.port;
    let slowloris = tokio::spawn(async move {
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connects");
        let started = Instant::now();
        // The request line, then one header byte every 100 ms: a head that would take 30 s.
        let mut sent = c.write_all(b"GET /metrics HTTP/1.1\r\nX-A: ").await;
        for _ in 0..300 {
            if sent.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            sent = c.write_all(b"a").await;
        }
        let answered = read_until_closed(&mut c, Duration::from_secs(30)).await;
        (started.elapsed(), answered)
    });
    still_served(&agent, ns.name(), 4, "a slowloris").await;
    let (cut_after, answered) = slowloris.await.unwrap();
    let answered = answered.expect("the server closed the slowloris");
    assert!(
        !String::from_utf8_lossy(&answered).contains("kube_pod_info"),
        "the slowloris was never served"
    );
    assert!(
        cut_after < Duration::from_secs(30),
        "cut after {cut_after:?}"
    );
    let (status, telemetry) = agent.get_telemetry("/metrics").await.unwrap();
    assert_eq!(status, 200);
    let telemetry = Exposition::parse(&telemetry).unwrap();
    assert!(
        telemetry
            .samples_of("ksa_http_connections_closed_total")
            .any(|s| { s.label("reason") == Some("read_header_timeout") && s.value >= 1.0 }),
        "the cut is counted"
    );
}

#[tokio::test]
async fn a_one_mib_request_head_gets_431_and_scrapes_go_on() {
    let (ns, _node, agent) = agent_with_a_pod("abuse-head", &[]).await;
    let port = agent.port;
    let huge = tokio::spawn(async move {
        let mut c = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connects");
        let head = format!(
            "GET /metrics HTTP/1.1\r\nHost: t\r\nX-Huge: {}\r\n\r\n",
            "a".repeat(1 << 20)
        );
        // The server may answer and close before the whole head is written.
        let _ = c.write_all(head.as_bytes()).await;
        read_until_closed(&mut c, Duration::from_secs(30)).await
    });
    still_served(&agent, ns.name(), 5, "a 1 MiB request head").await;
    let answer = huge.await.unwrap().expect("the server closed it");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}
