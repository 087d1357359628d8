//! Decodes and renders the benchmark pod in a loop, for profilers (`perf record`,
//! `valgrind --tool=callgrind`): `cargo run --release -p kube-state-agent-benches --bin
//! decode-render-loop -- 20000`. Prints the rate it reached.

use std::hint::black_box;
use std::time::Instant;

use kube_state_agent::decode::Decoded;
use kube_state_agent::resources::pod;
use kube_state_agent_benches::{default_selection, pod_json, render_context};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the argument is a number of iterations"))
        .unwrap_or(20_000);
    let json = pod_json(7, "node-1");
    let sel = default_selection(&pod::KIND);
    let ctx = render_context();
    let started = Instant::now();
    for _ in 0..n {
        let d: Decoded<pod::Pod> = serde_json::from_str(black_box(&json)).expect("decodes");
        let Decoded::Object(p) = d else {
            panic!("fixture decodes")
        };
        black_box(pod::KIND.render(&p, &ctx, &sel));
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "{n} pods of {} bytes in {took:.3} s: {:.0} pods/s",
        json.len(),
        n as f64 / took
    );
}
