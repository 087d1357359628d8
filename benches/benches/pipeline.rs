//! The agent's hot paths: decoding and rendering one object, assembling a snapshot, serving a
//! scrape. Run: `cargo bench -p kube-state-agent-benches`; results and the machine they ran on
//! are in `docs/benchmarks.md`.

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use http::Request;
use kube_state_agent::decode::Decoded;
use kube_state_agent::http::{AppState, router};
use kube_state_agent::registry::KindInfo;
use kube_state_agent::resources::{node, pod};
use kube_state_agent::snapshot::{Builder, KindSource, Published, build};
use kube_state_agent::store::Change;
use kube_state_agent::telemetry::Telemetry;
use kube_state_agent_benches::{
    ClusterMix, decode_pod_event, default_selection, node_json, node_pods, pod_json, pod_protobuf,
    render_context,
};
use tower::ServiceExt;

/// Decode (as a watch event's object is decoded) and render: `pod` and `node` over JSON
/// (`--api-encoding=json`: raw capture + lean decode), `pod_protobuf` the same pod as the API
/// server sends it over protobuf (the default): the watch event, the `k8s\0` envelope, the
/// lean message.
fn decode_render(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode_render");
    let pod = pod_json(7, "node-1");
    let sel = default_selection(&pod::KIND);
    let ctx = render_context();
    let frame = pod_protobuf();
    g.throughput(Throughput::Bytes(frame.len() as u64));
    g.bench_function("pod_protobuf", |b| {
        b.iter(|| {
            let Decoded::Object(p) = decode_pod_event(black_box(frame.clone())) else {
                panic!("fixture decodes")
            };
            black_box(pod::KIND.render(&p, &ctx, &sel))
        })
    });
    g.throughput(Throughput::Bytes(pod.len() as u64));
    g.bench_function("pod", |b| {
        b.iter(|| {
            let d: Decoded<pod::Pod> = serde_json::from_str(black_box(&pod)).unwrap();
            let Decoded::Object(p) = d else {
                panic!("fixture decodes")
            };
            black_box(pod::KIND.render(&p, &ctx, &sel))
        })
    });
    let node = node_json("node-1");
    let sel = default_selection(&node::KIND);
    g.throughput(Throughput::Bytes(node.len() as u64));
    g.bench_function("node", |b| {
        b.iter(|| {
            let d: Decoded<node::Node> = serde_json::from_str(black_box(&node)).unwrap();
            let Decoded::Object(n) = d else {
                panic!("fixture decodes")
            };
            black_box(node::KIND.render(&n, &ctx, &sel))
        })
    });
    g.finish();
}

/// Render cost per custom object: the golden case `all-verticalpodautoscaler-metrics` (KSM's
/// documented VerticalPodAutoscaler config, 15 families, 18 samples per object) from the
/// object's JSON text, as a custom watch renders each event: parse into a JSON value,
/// `ResourceMetrics::render`, rows per family (`KindInfo::render_json`). Not included: the
/// event envelope's identity parse the watch does first (shared with built-in JSON kinds).
fn custom_render(c: &mut Criterion) {
    const CASE: &str = "../agent/tests/golden-custom/all-verticalpodautoscaler-metrics";
    let read = |file: &str| {
        std::fs::read_to_string(format!("{}/{CASE}/{file}", env!("CARGO_MANIFEST_DIR")))
            .expect("the golden case is readable")
    };
    let source = read("config.yaml");
    let resources = kube_state_agent::custom::parse(&source).expect("the golden config compiles");
    let custom = kube_state_agent::config::CustomResources {
        source,
        resources: Arc::new(resources),
    };
    let kind: &'static dyn KindInfo = kube_state_agent::custom::kind::leak(&custom)[0];
    let object: serde_json::Value =
        serde_norway::from_str(&read("object.yaml")).expect("the golden object parses");
    let json = serde_json::to_string(&object).unwrap();
    let sel = default_selection(kind);
    let ctx = render_context();
    let mut g = c.benchmark_group("custom_render");
    g.throughput(Throughput::Bytes(json.len() as u64));
    g.bench_function("verticalpodautoscaler", |b| {
        b.iter(|| black_box(kind.render_json(black_box(&json), &ctx, &sel).unwrap()))
    });
    g.finish();
}

/// A pod source with `n` pods, listed into one shard.
fn pod_source(n: usize) -> KindSource {
    node_pods(n).1
}

fn snapshot_build(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot_build");
    g.sample_size(10);
    for n in [110usize, 10_000] {
        let sources = [pod_source(n)];
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("pods_text", n), &sources, |b, s| {
            b.iter(|| black_box(build(s, false)))
        });
        g.bench_with_input(BenchmarkId::new("pods_text_gzip", n), &sources, |b, s| {
            b.iter(|| black_box(build(s, true)))
        });
    }
    for n in [10_000usize, 100_000] {
        let mix = ClusterMix::new(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("cluster_text_gzip", n), &mix, |b, m| {
            b.iter(|| black_box(build(&m.sources, true)))
        });
    }
    g.finish();
}

/// The builder kept between builds, as the agent runs it: one object changes, then a rebuild.
fn snapshot_rebuild(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot_rebuild_one_change");
    g.sample_size(20);
    {
        let (mut w, source) = node_pods(110);
        let mut builder = Builder::new(Arc::new(vec![source]), true);
        builder.build();
        let sel = default_selection(&pod::KIND);
        let mut i = 0;
        g.bench_function("pods_text_gzip/110", |b| {
            b.iter(|| {
                i = (i + 1) % 110;
                let Decoded::Object(p) =
                    serde_json::from_str::<Decoded<pod::Pod>>(&pod_json(i, "node-1")).unwrap()
                else {
                    panic!("fixture decodes")
                };
                w.apply(Change::Apply(
                    format!("uid-{i}"),
                    pod::KIND.render(&p, &render_context(), &sel),
                ));
                black_box(builder.build())
            })
        });
    }
    for n in [10_000usize, 100_000] {
        let mut mix = ClusterMix::new(n);
        let mut builder = Builder::new(Arc::new(mix.sources.clone()), true);
        builder.build();
        let mut i = 0;
        g.bench_function(BenchmarkId::new("cluster_text_gzip", n), |b| {
            b.iter(|| {
                i = (i + 7) % (n / 4);
                mix.touch(i);
                black_box(builder.build())
            })
        });
    }
    g.finish();
}

fn scrape(c: &mut Criterion) {
    let mut g = c.benchmark_group("scrape");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let published = Published::default();
    published.publish(build(&[pod_source(110)], true));
    let app = router(AppState {
        published,
        telemetry: Telemetry::new(),
        auth: None,
        election: Default::default(),
    });
    let cluster = Published::default();
    // As with --auth-filter: pieces deflated too, so views are served compressed.
    cluster.publish(
        Builder::new(Arc::new(ClusterMix::new(100_000).sources), true)
            .deflate_namespace_views(true)
            .build(),
    );
    let cluster_app = router(AppState {
        published: cluster,
        telemetry: Telemetry::new(),
        auth: None,
        election: Default::default(),
    });
    let mut scrapes = |app: &axum::Router, cases: &[(&str, &str, &str)]| {
        for &(name, path, encoding) in cases {
            g.bench_function(name, |b| {
                b.iter(|| {
                    rt.block_on(async {
                        let req = Request::get(path)
                            .header("accept-encoding", encoding)
                            .body(Body::empty())
                            .unwrap();
                        let res = app.clone().oneshot(req).await.unwrap();
                        black_box(
                            axum::body::to_bytes(res.into_body(), usize::MAX)
                                .await
                                .unwrap(),
                        )
                    })
                })
            });
        }
    };
    // A tenant's view is assembled by the same code whether the namespaces come from its
    // token's decision or from `?namespace=`; the query keeps the bench free of a reviewer.
    scrapes(
        &cluster_app,
        &[
            ("plain_100k_cluster", "/metrics", "identity"),
            ("gzip_100k_cluster", "/metrics", "gzip"),
            (
                "plain_100k_cluster_one_namespace_view",
                "/metrics?namespace=team-7",
                "identity",
            ),
            (
                "gzip_100k_cluster_one_namespace_view",
                "/metrics?namespace=team-7",
                "gzip",
            ),
        ],
    );
    scrapes(
        &app,
        &[
            ("plain_110_pods", "/metrics", "identity"),
            ("gzip_110_pods", "/metrics", "gzip"),
        ],
    );
    g.finish();
}

criterion_group!(
    benches,
    decode_render,
    custom_render,
    snapshot_build,
    snapshot_rebuild,
    scrape
);
criterion_main!(benches);
