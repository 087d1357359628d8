//! Decodes and renders the benchmark pod in a loop, for profilers (`perf record`,
//! `valgrind --tool=callgrind`):
//!
//! ```text
//! cargo run --release -p kube-state-agent-benches --bin decode-render-loop -- [protobuf|json] [N]
//! ```
//!
//! `protobuf` (the default, as the agent reads pods) decodes the pod's `k8s\0` envelope and its
//! lean message, as a watch event's object is decoded; `json` decodes the same pod's JSON as the
//! `--api-encoding=json` path does. Prints the rate it reached. `print-json` prints the pod's
//! JSON instead, which is how `benches/data/pod-7.pb` was captured (see `benches/data/README.md`).

use std::hint::black_box;
use std::time::Instant;

use kube_state_agent::decode::Decoded;
use kube_state_agent::resources::pod;
use kube_state_agent_benches::{default_selection, pod_json, pod_protobuf, render_context};

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| "protobuf".into());
    let n: usize = args
        .next()
        .map(|a| {
            a.parse()
                .expect("the second argument is a number of iterations")
        })
        .unwrap_or(20_000);
    let json = pod_json(7, "node-1");
    let protobuf = pod_protobuf();
    let sel = default_selection(&pod::KIND);
    let ctx = render_context();
    let started = Instant::now();
    let size = match mode.as_str() {
        "print-json" => {
            println!("{json}");
            return;
        }
        "json" => {
            for _ in 0..n {
                let d: Decoded<pod::Pod> = serde_json::from_str(black_box(&json)).expect("decodes");
                let Decoded::Object(p) = d else {
                    panic!("fixture decodes")
                };
                black_box(pod::KIND.render(&p, &ctx, &sel));
            }
            json.len()
        }
        "protobuf" => {
            for _ in 0..n {
                let Decoded::Object(p) =
                    kube_state_agent_benches::decode_pod_event(black_box(protobuf.clone()))
                else {
                    panic!("fixture decodes")
                };
                black_box(pod::KIND.render(&p, &ctx, &sel));
            }
            protobuf.len()
        }
        other => panic!("unknown mode {other:?}: protobuf, json or print-json"),
    };
    let took = started.elapsed().as_secs_f64();
    println!(
        "{mode}: {n} pods of {size} bytes in {took:.3} s: {:.0} pods/s, {:.2} µs per pod",
        n as f64 / took,
        took * 1e6 / n as f64
    );
}
