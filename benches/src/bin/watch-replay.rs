//! A node agent's CPU per pod event at full rate: `cargo run --release -p
//! kube-state-agent-benches --bin watch-replay -- --events 200000 [--encoding protobuf|json]
//! [--pods 110] [--agent target/release/kube-state-agent]`.
//!
//! The loopback kube-apiserver writes a few hundred pod updates a second on a small machine,
//! so a live run measures the snapshot rebuild shared by few events more than the events. This
//! harness plays the API server itself, over HTTPS on 127.0.0.1, for one node agent: it answers
//! the agent's start-up requests (discovery of the core group, the pod list of one node, its
//! Node; 404 for anything else, which the agent reports unserved), then, on a signal, writes a watch stream of `--events` pre-encoded `MODIFIED` pod
//! events as fast as the agent reads them, each changing a container's restart count so that
//! rows really change. The pods are `benches/data/pod-7.pb` (the bytes the 1.20 API server sent)
//! with their name, namespace, UID, resourceVersion and restart count rewritten; over JSON,
//! [`pod_json`] with the same changes. Framing is the API server's: length-prefixed
//! `WatchEvent`s around `k8s\0` envelopes, or one JSON object per line.
//!
//! It starts the release agent in node scope against that server, waits until the agent's
//! `ksa_watch_events_total` has counted every event, and prints one `key=value` line per
//! figure: events/s, the agent's CPU (user + system, `/proc/PID/stat`) per event all-in and
//! with start-up and the list phase left out, snapshot builds, RSS, and the server thread's own
//! CPU per event. It then scrapes `/metrics` with gzip and checks that every pod shows the
//! restart count of its last event, so a run that lost or never applied events fails.

use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail, ensure};
use bytes::{Buf as _, Bytes};
use clap::{Parser, ValueEnum};
use hyper::body::Frame;
use kube_state_agent::wire::envelope;
use kube_state_agent::wire::event::{EventType, encode_event};
use kube_state_agent::wire::list::encode_list;
use kube_state_agent_benches::{node_json, pod_json};
use prost::Message as _;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};
use testkit::agent::{AgentProcess, http_request, workspace_root};
use testkit::exposition::Exposition;
use testkit::process::{Memory, cpu_seconds_in, memory};
use testkit::tls::Ca;
use tokio::sync::watch;

/// The node the agent serves.
const NODE: &str = "node-1";

/// Restart counts a pod cycles through: each event of a pod changes its count from the
/// previous event's, and the pre-encoded stream stays a few MB.
const VARIANTS: usize = 4;

/// Events handed to the HTTP layer per body frame.
const EVENTS_PER_FRAME: usize = 8;

#[derive(Parser)]
#[command(about = "Replays pod watch events at full rate into a release node agent")]
struct Args {
    /// Pod events in the watch stream, after the list.
    #[arg(long, default_value_t = 200_000)]
    events: usize,
    /// Pods on the node (listed, then modified in turn).
    #[arg(long, default_value_t = 110)]
    pods: usize,
    /// The agent's `--api-encoding`.
    #[arg(long, value_enum, default_value_t = Encoding::Protobuf)]
    encoding: Encoding,
    /// The agent binary (default: `target/release/kube-state-agent` of this workspace).
    #[arg(long)]
    agent: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn flag(self) -> &'static str {
        match self {
            Encoding::Protobuf => "protobuf",
            Encoding::Json => "json",
        }
    }
}

// ===== fixtures =====

/// The restart count of the `app` container after event `k` (pod `k % pods`).
fn restarts_after(k: usize, pods: usize) -> i64 {
    ((k / pods) % VARIANTS) as i64 + 1
}

/// The resourceVersion of event `k` of the pre-encoded cycle (the list is at 1,000,000).
fn resource_version(k: usize) -> String {
    (1_000_001 + k).to_string()
}

fn pod_name(i: usize) -> String {
    format!("web-{i}")
}

/// A protobuf field's value, as [`rewrite`] sets it.
enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// `message` with the first field `tag` replaced by `value`, every other field's bytes kept as
/// they were (field order included), so the object stays the API server's.
fn rewrite(message: &[u8], tag: u32, value: Value<'_>) -> Vec<u8> {
    edit(message, tag, |_| match value {
        Value::Varint(v) => {
            let mut out = Vec::new();
            encode_key(tag, WireType::Varint, &mut out);
            encode_varint(v, &mut out);
            out
        }
        Value::Bytes(b) => length_delimited(tag, b),
    })
}

/// `message` with the first length-delimited field `tag` (an embedded message) replaced by
/// `f` of its contents.
fn rewrite_within(message: &[u8], tag: u32, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    edit(message, tag, |contents| length_delimited(tag, &f(contents)))
}

fn length_delimited(tag: u32, contents: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_key(tag, WireType::LengthDelimited, &mut out);
    encode_varint(contents.len() as u64, &mut out);
    out.extend_from_slice(contents);
    out
}

/// Walks `message`'s fields and replaces the first one numbered `tag` by `f` of its contents
/// (the bytes of a length-delimited field, empty otherwise), which returns the whole field.
///
/// # Panics
/// When `message` is not a protobuf message or has no field `tag`: the fixture is wrong.
fn edit(message: &[u8], tag: u32, f: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut rest = message;
    let mut f = Some(f);
    let mut out = Vec::with_capacity(message.len() + 16);
    while !rest.is_empty() {
        let start = message.len() - rest.len();
        let (field, wire_type) = decode_key(&mut rest).expect("a field key");
        let mut contents: &[u8] = &[];
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut rest).expect("a varint");
            }
            WireType::LengthDelimited => {
                let len = decode_varint(&mut rest).expect("a length") as usize;
                contents = &rest[..len];
                rest.advance(len);
            }
            WireType::ThirtyTwoBit => rest.advance(4),
            WireType::SixtyFourBit => rest.advance(8),
            other => panic!("unexpected wire type {other:?} in the fixture"),
        }
        let end = message.len() - rest.len();
        match (field == tag).then(|| f.take()).flatten() {
            Some(f) => out.extend_from_slice(&f(contents)),
            None => out.extend_from_slice(&message[start..end]),
        }
    }
    assert!(f.is_none(), "no field {tag} in the fixture");
    out
}

/// Pod `i` of the node as a `v1.Pod` message: `benches/data/pod-7.pb` renamed, with its own
/// namespace, UID and resourceVersion, and `restarts` as the `app` container's restart count.
fn pod_message(template: &[u8], i: usize, rv: &str, restarts: i64) -> Vec<u8> {
    // Field numbers: k8s.io/api/core/v1/generated.proto and apimachinery's ObjectMeta.
    const METADATA: u32 = 1;
    const STATUS: u32 = 3;
    const NAME: u32 = 1;
    const NAMESPACE: u32 = 3;
    const UID: u32 = 5;
    const RESOURCE_VERSION: u32 = 6;
    const CONTAINER_STATUSES: u32 = 8;
    const RESTART_COUNT: u32 = 5;
    let name = pod_name(i);
    let namespace = format!("team-{}", i % 20);
    let uid = format!("{i:08x}-5d4f-4c1a-9b7e-{i:012x}");
    let pod = rewrite_within(template, METADATA, |meta| {
        let meta = rewrite(meta, NAME, Value::Bytes(name.as_bytes()));
        let meta = rewrite(&meta, NAMESPACE, Value::Bytes(namespace.as_bytes()));
        let meta = rewrite(&meta, UID, Value::Bytes(uid.as_bytes()));
        rewrite(&meta, RESOURCE_VERSION, Value::Bytes(rv.as_bytes()))
    });
    rewrite_within(&pod, STATUS, |status| {
        rewrite_within(status, CONTAINER_STATUSES, |app| {
            rewrite(app, RESTART_COUNT, Value::Varint(restarts as u64))
        })
    })
}

/// Pod `i` as JSON, with the same changes as [`pod_message`].
fn pod_object(i: usize, rv: &str, restarts: i64) -> serde_json::Value {
    let mut pod: serde_json::Value =
        serde_json::from_str(&pod_json(i, NODE)).expect("the fixture is JSON");
    pod["metadata"]["resourceVersion"] = rv.into();
    pod["status"]["containerStatuses"][0]["restartCount"] = restarts.into();
    pod
}

/// Everything the server sends, encoded before the agent starts.
struct Bodies {
    /// The answer to the node's pod list.
    pod_list: Bytes,
    /// The answer to the list of its Node.
    node_list: Bytes,
    /// One cycle of watch events, back to back as on the wire.
    cycle: Bytes,
    /// Where each event of `cycle` starts, and its end as the last entry.
    offsets: Vec<usize>,
    content_type: &'static str,
    watch_content_type: &'static str,
}

impl Bodies {
    fn new(encoding: Encoding, pods: usize) -> Bodies {
        let template = envelope::open(Bytes::from_static(include_bytes!("../../data/pod-7.pb")))
            .and_then(|e| e.into_raw("v1", "Pod"))
            .expect("pod-7.pb is an enveloped v1/Pod");
        let list_rv = "1000000";
        let listed_restarts = 0;
        let cycle_events = pods * VARIANTS;
        let mut cycle = Vec::new();
        let mut offsets = Vec::with_capacity(cycle_events + 1);
        match encoding {
            Encoding::Protobuf => {
                let items: Vec<Vec<u8>> = (0..pods)
                    .map(|i| pod_message(&template, i, list_rv, listed_restarts))
                    .collect();
                let node = kube_state_agent::wire::node::Node {
                    metadata: Some(kube_state_agent::wire::meta::ObjectMeta {
                        name: Some(NODE.into()),
                        uid: Some(format!("uid-{NODE}")),
                        resource_version: Some(list_rv.into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                for k in 0..cycle_events {
                    let pod = pod_message(
                        &template,
                        k % pods,
                        &resource_version(k),
                        restarts_after(k, pods),
                    );
                    let event =
                        encode_event(EventType::Modified, &envelope::seal("v1", "Pod", &pod));
                    offsets.push(cycle.len());
                    cycle.extend_from_slice(&(event.len() as u32).to_be_bytes());
                    cycle.extend_from_slice(&event);
                }
                offsets.push(cycle.len());
                Bodies {
                    pod_list: envelope::seal("v1", "PodList", &encode_list(list_rv, "", &items))
                        .into(),
                    node_list: envelope::seal(
                        "v1",
                        "NodeList",
                        &encode_list(list_rv, "", &[node.encode_to_vec()]),
                    )
                    .into(),
                    cycle: cycle.into(),
                    offsets,
                    content_type: "application/vnd.kubernetes.protobuf",
                    watch_content_type: "application/vnd.kubernetes.protobuf;stream=watch",
                }
            }
            Encoding::Json => {
                let items: Vec<serde_json::Value> = (0..pods)
                    .map(|i| pod_object(i, list_rv, listed_restarts))
                    .collect();
                let node: serde_json::Value =
                    serde_json::from_str(&node_json(NODE)).expect("the fixture is JSON");
                let list = |kind: &str, items: Vec<serde_json::Value>| -> Bytes {
                    serde_json::json!({"kind": kind, "apiVersion": "v1",
                        "metadata": {"resourceVersion": list_rv}, "items": items})
                    .to_string()
                    .into()
                };
                for k in 0..cycle_events {
                    let pod = pod_object(k % pods, &resource_version(k), restarts_after(k, pods));
                    offsets.push(cycle.len());
                    // `type` first, as the API server writes it (a `json!` map would sort
                    // `object` first).
                    cycle.extend_from_slice(br#"{"type":"MODIFIED","object":"#);
                    serde_json::to_writer(&mut cycle, &pod).expect("a Vec takes any JSON");
                    cycle.push(b'}');
                    cycle.push(b'\n');
                }
                offsets.push(cycle.len());
                Bodies {
                    pod_list: list("PodList", items),
                    node_list: list("NodeList", vec![node]),
                    cycle: cycle.into(),
                    offsets,
                    content_type: "application/json",
                    watch_content_type: "application/json",
                }
            }
        }
    }
}

// ===== the server =====

/// One request as the server saw it.
struct Seen {
    method: String,
    path_and_query: String,
    accept: String,
}

/// The state the server's connections share.
struct Server {
    bodies: Bodies,
    events: usize,
    /// Turns true when the replay may start; the pod watch's body waits for it.
    go: watch::Receiver<bool>,
    /// Set when the first pod watch opens: later watches stay idle, as they would on a
    /// server with nothing new to say.
    replaying: std::sync::atomic::AtomicBool,
    seen: Mutex<Vec<Seen>>,
}

/// A response body: a whole answer, the replayed watch stream, or a watch that stays open
/// with nothing to say.
enum Body {
    Whole(Option<Bytes>),
    Replay(Replay),
    Idle,
}

/// The pod watch stream: waits for the go signal, then hands out the pre-encoded events,
/// [`EVENTS_PER_FRAME`] at a time, until `events` have gone; then stays open.
struct Replay {
    start: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    server: Arc<Server>,
    sent: usize,
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Whole(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            // Never woken: the connection stays open until the process ends.
            Body::Idle => Poll::Pending,
            Body::Replay(r) => {
                if let Some(start) = r.start.as_mut() {
                    if start.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    r.start = None;
                }
                let server = &r.server;
                if r.sent == server.events {
                    return Poll::Pending;
                }
                let cycle_len = server.bodies.offsets.len() - 1;
                let at = r.sent % cycle_len;
                let n = EVENTS_PER_FRAME
                    .min(server.events - r.sent)
                    .min(cycle_len - at);
                let offsets = &server.bodies.offsets;
                let chunk = server.bodies.cycle.slice(offsets[at]..offsets[at + n]);
                r.sent += n;
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }
}

fn query_has(query: &str, pair: &str) -> bool {
    query.split('&').any(|p| p == pair)
}

fn answer(
    server: &Arc<Server>,
    req: &http::Request<hyper::body::Incoming>,
) -> http::Response<Body> {
    let path = req.uri().path();
    let query = percent_decode(req.uri().query().unwrap_or(""));
    server.seen.lock().expect("not poisoned").push(Seen {
        method: req.method().to_string(),
        path_and_query: format!("{path}?{query}"),
        accept: req
            .headers()
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string(),
    });
    let bodies = &server.bodies;
    let response = |content_type: &str, body: Body| {
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body)
            .expect("a valid response")
    };
    let pods =
        path == "/api/v1/pods" && query_has(&query, &format!("fieldSelector=spec.nodeName={NODE}"));
    if query_has(&query, "watch=true") || query_has(&query, "watch=1") {
        let first = pods
            && !server
                .replaying
                .swap(true, std::sync::atomic::Ordering::SeqCst);
        let body = if first {
            let mut go = server.go.clone();
            Body::Replay(Replay {
                start: Some(Box::pin(async move {
                    let _ = go.wait_for(|go| *go).await;
                })),
                server: server.clone(),
                sent: 0,
            })
        } else {
            Body::Idle
        };
        return response(bodies.watch_content_type, body);
    }
    if pods {
        return response(
            bodies.content_type,
            Body::Whole(Some(bodies.pod_list.clone())),
        );
    }
    if path == "/api/v1/nodes" {
        return response(
            bodies.content_type,
            Body::Whole(Some(bodies.node_list.clone())),
        );
    }
    if path == "/api/v1" {
        // Discovery of the core group: the two kinds a node agent watches. Every other group
        // answers 404 below, so the agent reports those kinds unserved and never lists them.
        let resources = r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"v1","resources":[
            {"name":"pods","singularName":"","namespaced":true,"kind":"Pod","verbs":["list","watch"]},
            {"name":"nodes","singularName":"","namespaced":false,"kind":"Node","verbs":["list","watch"]}]}"#;
        return response("application/json", Body::Whole(Some(resources.into())));
    }
    let status =
        r#"{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}"#;
    let mut res = response("application/json", Body::Whole(Some(status.into())));
    *res.status_mut() = http::StatusCode::NOT_FOUND;
    res
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

/// Serves HTTPS on `listener` from a thread of its own (one-thread runtime), so its CPU can be
/// read apart from the harness. Returns the thread's `/proc/self/task/<tid>/stat` path.
fn serve(
    listener: std::net::TcpListener,
    tls: rustls::ServerConfig,
    server: Arc<Server>,
) -> anyhow::Result<PathBuf> {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("replay-server".into())
        .spawn(move || {
            let stat = std::fs::read_link("/proc/thread-self")
                .map(|p| PathBuf::from("/proc").join(p).join("stat"));
            let _ = tid_tx.send(stat);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                listener.set_nonblocking(true).expect("non-blocking");
                let listener = tokio::net::TcpListener::from_std(listener).expect("a listener");
                let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        continue;
                    };
                    let _ = tcp.set_nodelay(true);
                    let (acceptor, server) = (acceptor.clone(), server.clone());
                    tokio::spawn(async move {
                        let Ok(tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let service = hyper::service::service_fn(move |req| {
                            let res = answer(&server, &req);
                            async move { Ok::<_, Infallible>(res) }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                            .await;
                    });
                }
            });
        })?;
    tid_rx.recv()?.context("reading /proc/thread-self")
}

fn server_tls(ca: &Ca) -> anyhow::Result<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let issued = ca.issue("replay-apiserver", &["127.0.0.1"]);
    let chain =
        CertificateDer::pem_slice_iter(issued.cert.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(issued.key.as_bytes())?;
    Ok(rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?)
}

fn write_kubeconfig(dir: &Path, ca_pem: &str, port: u16) -> anyhow::Result<PathBuf> {
    let ca = dir.join("ca.crt");
    std::fs::write(&ca, ca_pem)?;
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\n\
             clusters:\n- name: replay\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\n\
             users:\n- name: replay\n  user:\n    token: replay\n\
             contexts:\n- name: replay\n  context:\n    cluster: replay\n    user: replay\n\
             current-context: replay\n",
            ca.display()
        ),
    )?;
    Ok(kubeconfig)
}

// ===== measuring the agent =====

/// The agent's telemetry.
async fn telemetry(agent: &AgentProcess) -> anyhow::Result<Exposition> {
    let (status, body) = agent
        .get_telemetry("/metrics")
        .await
        .map_err(anyhow::Error::msg)?;
    ensure!(status == 200, "telemetry /metrics answered {status}");
    Exposition::parse(&body).map_err(anyhow::Error::msg)
}

/// Sum of `name` over the samples whose labels include `filter`.
fn sum(exposition: &Exposition, name: &str, filter: &[(&str, &str)]) -> f64 {
    exposition
        .samples
        .iter()
        .filter(|s| s.name == name && filter.iter().all(|(k, v)| s.label(k) == Some(v)))
        .map(|s| s.value)
        .sum()
}

/// Pods (by name) whose `app` restart count in `scrape` is not `expected`'s.
fn stale_pods(scrape: &Exposition, expected: &[i64]) -> Vec<String> {
    (0..expected.len())
        .filter(|&i| {
            let name = pod_name(i);
            let shown = scrape.samples.iter().find(|s| {
                s.name == "kube_pod_container_status_restarts_total"
                    && s.label("pod") == Some(&name)
                    && s.label("container") == Some("app")
            });
            shown.map(|s| s.value) != Some(expected[i] as f64)
        })
        .map(pod_name)
        .collect()
}

/// Scrapes `/metrics` with gzip, checks the answer is gzip and parses.
async fn scrape_gzip(agent: &AgentProcess) -> anyhow::Result<(usize, Exposition)> {
    let answer = http_request(agent.port, "/metrics", &[("Accept-Encoding", "gzip")])
        .await
        .map_err(anyhow::Error::msg)?;
    ensure!(answer.status == 200, "/metrics answered {}", answer.status);
    ensure!(
        answer.header("content-encoding") == Some("gzip"),
        "/metrics did not answer gzip"
    );
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(answer.body.as_slice()),
        &mut text,
    )
    .context("the gzip body does not inflate")?;
    let exposition = Exposition::parse(&text).map_err(anyhow::Error::msg)?;
    Ok((answer.body.len(), exposition))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.pods > 0 && args.events > 0,
        "--pods and --events must be positive"
    );
    let agent_bin = args
        .agent
        .clone()
        .unwrap_or_else(|| workspace_root().join("target/release/kube-state-agent"));
    ensure!(
        agent_bin.exists(),
        "{} is missing: cargo build --release -p kube-state-agent",
        agent_bin.display()
    );

    let encode_started = Instant::now();
    let bodies = Bodies::new(args.encoding, args.pods);
    let cycle_bytes = bodies.cycle.len();
    let event_bytes = cycle_bytes as f64 / (bodies.offsets.len() - 1) as f64;
    eprintln!(
        "[watch-replay] pre-encoded {} events ({} B) in {:.1} s",
        bodies.offsets.len() - 1,
        cycle_bytes,
        encode_started.elapsed().as_secs_f64()
    );

    let dir = std::env::temp_dir().join(format!("watch-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let ca = Ca::new("watch-replay");
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (go_tx, go) = watch::channel(false);
    let server = Arc::new(Server {
        bodies,
        events: args.events,
        go,
        replaying: Default::default(),
        seen: Mutex::new(Vec::new()),
    });
    let server_stat = serve(listener, server_tls(&ca)?, server.clone())?;
    let kubeconfig = write_kubeconfig(&dir, &ca.pem, port)?;

    let encoding_flag = format!("--api-encoding={}", args.encoding.flag());
    let mut agent = AgentProcess::spawn(
        &agent_bin,
        &kubeconfig,
        NODE,
        &[
            "--leader-election=false",
            "--enable-gzip-encoding",
            &encoding_flag,
        ],
        &[],
    );
    let agent_stat = PathBuf::from(format!("/proc/{}/stat", agent.pid()));
    agent.wait_ready(Duration::from_secs(60)).await;
    let pods_filter = [("resource", "pods")];
    // The pod watch must be open, waiting for the go signal, before the baseline is taken.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !server.replaying.load(std::sync::atomic::Ordering::SeqCst) {
        ensure!(
            Instant::now() < deadline,
            "the agent never opened its pod watch:\n{}",
            agent.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = telemetry(&agent).await?;
    let events_before = sum(&before, "ksa_watch_events_total", &pods_filter);
    let builds_before = sum(&before, "ksa_snapshot_builds_total", &[]);
    let build_seconds_before = sum(&before, "ksa_snapshot_build_seconds_sum", &[]);
    let rss_ready = memory(agent.pid())?.rss_kib;
    let cpu_ready = cpu_seconds_in(&agent_stat)?;
    let server_cpu_ready = cpu_seconds_in(&server_stat)?;
    let started = Instant::now();
    go_tx.send_replace(true);

    // Poll with a deadline: 50 ms apart, so polling costs the agent little next to the events.
    let target = events_before + args.events as f64;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (after, elapsed) = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let t = telemetry(&agent).await?;
        let seen = sum(&t, "ksa_watch_events_total", &pods_filter);
        if seen >= target {
            break (t, started.elapsed());
        }
        let errors = sum(&t, "ksa_watch_errors_total", &pods_filter);
        ensure!(
            errors == 0.0,
            "the agent's pod watch failed during the replay:\n{}",
            agent.log()
        );
        if let Some(code) = agent.try_exit_code() {
            bail!("the agent exited ({code:?}):\n{}", agent.log());
        }
        ensure!(
            Instant::now() < deadline,
            "ksa_watch_events_total{{resource=\"pods\"}} stayed at {seen}, below {target}"
        );
    };
    let cpu_end = cpu_seconds_in(&agent_stat)?;
    let server_cpu = cpu_seconds_in(&server_stat)? - server_cpu_ready;
    let Memory {
        rss_kib: rss,
        hwm_kib: hwm,
    } = memory(agent.pid())?;
    let events = sum(&after, "ksa_watch_events_total", &pods_filter) - events_before;
    let builds = sum(&after, "ksa_snapshot_builds_total", &[]) - builds_before;
    let build_seconds = sum(&after, "ksa_snapshot_build_seconds_sum", &[]) - build_seconds_before;
    let decode_errors = sum(&after, "ksa_watch_errors_total", &[]);

    // Every pod shows the restart count of its last event: nothing lost, the last applied.
    let mut expected = vec![0i64; args.pods];
    for k in args.events.saturating_sub(args.pods)..args.events {
        expected[k % args.pods] = restarts_after(k, args.pods);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    let (gzip_bytes, samples) = loop {
        let (bytes, scrape) = scrape_gzip(&agent).await?;
        let stale = stale_pods(&scrape, &expected);
        if stale.is_empty() {
            break (bytes, scrape.samples.len());
        }
        ensure!(
            Instant::now() < deadline,
            "after the replay, {} pods do not show their last event's restart count (first: {})",
            stale.len(),
            stale[0]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };

    let seen = server.seen.lock().expect("not poisoned");
    eprintln!("[watch-replay] the agent's requests:");
    for s in seen.iter() {
        eprintln!("  {} {} (Accept: {})", s.method, s.path_and_query, s.accept);
    }
    drop(seen);

    let per_event_us = |seconds: f64| seconds * 1e6 / events;
    let load = std::fs::read_to_string("/proc/loadavg")?;
    let figures = [
        ("encoding", args.encoding.flag().to_string()),
        ("pods", args.pods.to_string()),
        ("events", format!("{events}")),
        ("event_bytes", format!("{event_bytes:.0}")),
        ("seconds", format!("{:.3}", elapsed.as_secs_f64())),
        (
            "events_per_second",
            format!("{:.0}", events / elapsed.as_secs_f64()),
        ),
        (
            "agent_cpu_us_per_event_all_in",
            format!("{:.1}", per_event_us(cpu_end)),
        ),
        (
            "agent_cpu_us_per_event_after_list",
            format!("{:.1}", per_event_us(cpu_end - cpu_ready)),
        ),
        (
            "agent_cpu_seconds_start_and_list",
            format!("{cpu_ready:.2}"),
        ),
        (
            "events_per_second_per_core",
            format!("{:.0}", events / (cpu_end - cpu_ready)),
        ),
        ("snapshot_builds", format!("{builds}")),
        (
            "events_per_build",
            format!("{:.0}", events / builds.max(1.0)),
        ),
        (
            "snapshot_build_ms_mean",
            format!("{:.2}", build_seconds * 1e3 / builds.max(1.0)),
        ),
        (
            "snapshot_build_us_per_event",
            format!("{:.1}", per_event_us(build_seconds)),
        ),
        ("watch_errors", format!("{}", decode_errors + 0.0)),
        ("rss_kib_ready", rss_ready.to_string()),
        ("rss_kib_after", rss.to_string()),
        ("hwm_kib", hwm.to_string()),
        (
            "server_cpu_us_per_event",
            format!("{:.1}", per_event_us(server_cpu)),
        ),
        ("scrape_gzip_bytes", gzip_bytes.to_string()),
        ("scrape_samples", samples.to_string()),
        (
            "loadavg",
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    for (k, v) in figures {
        println!("{k}={v}");
    }
    drop(agent);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
