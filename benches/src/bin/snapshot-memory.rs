//! Memory and rebuild time of a leader's snapshot at a given size, in one process:
//! `cargo run --release -p kube-state-agent-benches --bin snapshot-memory -- 100000
//! [--namespace-views]` (the second as with `--auth-filter`: pieces deflated for tenant views),
//! or `-- 110 --node` for a node agent's pods instead of the leader's mix.
//!
//! Lists the objects into stores as a watch would (rendering each, dropping the object), builds
//! the first snapshot with gzip, then changes one object at a time and rebuilds, as the agent's
//! builder does. Prints one `key=value` line per figure, for `scripts/bench-scale` and
//! `docs/benchmarks.md`.

use std::sync::Arc;
use std::time::Instant;

use std::alloc::System;

use kube_state_agent::exposition::Format;
use kube_state_agent::snapshot::KindSource;
use kube_state_agent::snapshot::{Builder, Namespaces};
use kube_state_agent::store::Writer;
use kube_state_agent_benches::{ClusterMix, node_pods, touch_pod};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// The system allocator, instrumented, so a figure can say what one operation allocates.
#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Bytes allocated while `f` runs.
fn allocated_by<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let region = Region::new(GLOBAL);
    let out = f();
    (out, region.change().bytes_allocated)
}

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Bytes the program holds at this moment as it asked for them (before the allocator's own
/// headers, rounding and free space), counted since `region` was made.
fn live_bytes(region: &Region<'_, System>) -> i64 {
    // A reallocation's growth or shrinkage is already counted in these two.
    let c = region.change();
    let signed = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    signed(c.bytes_allocated) - signed(c.bytes_deallocated)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// `gzip -6`'s size for `plain`: the reference the gzip body is held to.
fn gzip6(plain: &[u8]) -> usize {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(plain).expect("in memory");
    e.finish().expect("in memory").len()
}

/// The objects measured: a leader's mix of kinds, or a node agent's pods.
enum Fixture {
    Leader(ClusterMix),
    Node((Writer, KindSource)),
}

impl Fixture {
    fn sources(&self) -> Vec<KindSource> {
        match self {
            Fixture::Leader(mix) => mix.sources.clone(),
            Fixture::Node((_, source)) => vec![source.clone()],
        }
    }

    /// Renders object `i` again, as a MODIFIED event would.
    fn touch(&mut self, i: usize) {
        match self {
            Fixture::Leader(mix) => mix.touch(i),
            Fixture::Node((w, source)) => touch_pod(w, source, i),
        }
    }
}

fn main() {
    let objects: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("the argument is a number of objects"))
        .unwrap_or(100_000);
    let (rss0, _) = rss_kib();
    let heap = Region::new(GLOBAL);
    let started = Instant::now();
    let flag = |name: &str| std::env::args().skip(2).any(|a| a == name);
    let node = flag("--node");
    let mut fixture = if node {
        Fixture::Node(node_pods(objects))
    } else {
        Fixture::Leader(ClusterMix::new(objects))
    };
    let list_s = started.elapsed().as_secs_f64();
    let (rss_listed, _) = rss_kib();
    let live_listed = live_bytes(&heap);

    // As with --auth-filter: every piece deflated too, so tenant views are served compressed.
    let views = flag("--namespace-views");
    let mut builder =
        Builder::new(Arc::new(fixture.sources()), true).deflate_namespace_views(views);
    let started = Instant::now();
    let snapshot = builder.build();
    let first_build_s = started.elapsed().as_secs_f64();
    let (rss_first_build, _) = rss_kib();
    let text = snapshot.body(Format::Text, false).chunks.len();
    let gzip = snapshot.body(Format::Text, true).chunks.len();
    drop(snapshot);

    let mut rebuilds = Vec::new();
    let mut published = None;
    for i in 0..101 {
        fixture.touch(i * 13 % (objects / 4).max(1));
        let started = Instant::now();
        let s = builder.build();
        rebuilds.push(started.elapsed().as_secs_f64() * 1e3);
        // Keep the last published snapshot alive, as the agent does.
        published = Some(s);
    }
    let (rss_steady, hwm) = rss_kib();
    let live_steady = live_bytes(&heap);
    // Measured after the RSS figures: the plain body copied into one buffer for `gzip -6`
    // would move the allocator's thresholds and skew them.
    let mut snapshot = published.expect("101 rebuilds published");
    // Builds without a change until every stable run is recompressed thoroughly, as the
    // agent's builder does while the cluster is quiet.
    let started = Instant::now();
    let mut polish_builds = 0;
    while builder.wants_polish() && polish_builds < 10_000 {
        snapshot = builder.build();
        polish_builds += 1;
    }
    let polish_s = started.elapsed().as_secs_f64();
    let gzip_polished = snapshot.body(Format::Text, true).chunks.len();
    let gzip6_polished = gzip6(&snapshot.body(Format::Text, false).chunks.to_vec());
    // One change to the polished body: what a scrape gets right after it.
    fixture.touch(objects / 2);
    let started = Instant::now();
    let changed = builder.build();
    let changed_ms = started.elapsed().as_secs_f64() * 1e3;
    let gzip_changed = changed.body(Format::Text, true).chunks.len();
    let gzip6_changed = gzip6(&changed.body(Format::Text, false).chunks.to_vec());
    let polish_after_change = builder.wants_polish();
    drop(changed);
    // From nothing (a restart, a relist): builds until the body is within 1.1 × gzip -6.
    let mut fresh = Builder::new(Arc::new(fixture.sources()), true).deflate_namespace_views(views);
    let started = Instant::now();
    let first = fresh.build();
    let gzip6_first = gzip6(&first.body(Format::Text, false).chunks.to_vec());
    let first_ratio = first.body(Format::Text, true).chunks.len() as f64 / gzip6_first as f64;
    let mut builds_to_target = 1;
    let mut ratio = first_ratio;
    while ratio > 1.1 && fresh.wants_polish() {
        let s = fresh.build();
        builds_to_target += 1;
        ratio = s.body(Format::Text, true).chunks.len() as f64 / gzip6_first as f64;
    }
    let to_target_s = started.elapsed().as_secs_f64();
    drop((first, fresh));
    // A tenant's view of one namespace against the full gzip body, as a scrape assembles
    // them (the full gzip form is cached in the snapshot; assembling it again is what a
    // scrape without that cache would cost).
    let one = Namespaces::only(["team-7"]);
    let (view, view_alloc) =
        allocated_by(|| snapshot.view(Format::Text, true, &|_| true, &one).chunks);
    let (_, full_alloc) = allocated_by(|| {
        snapshot
            .view(Format::Text, true, &|_| true, &Namespaces::All)
            .chunks
    });
    let view_bytes = view.len();
    drop(snapshot);

    println!("objects={objects}");
    println!("fixture={}", if node { "node_pods" } else { "leader_mix" });
    println!("namespace_views={views}");
    println!("list_and_render_s={list_s:.3}");
    println!("first_build_s={first_build_s:.3}");
    println!("rebuild_one_change_median_ms={:.2}", median(rebuilds));
    println!("text_body_bytes={text}");
    println!("gzip_body_bytes={gzip}");
    println!("gzip6_of_text_bytes={gzip6_polished}");
    println!("gzip_ratio_to_gzip6={first_ratio:.3}");
    println!("polish_builds={polish_builds}");
    println!("polish_s={polish_s:.3}");
    println!("gzip_polished_bytes={gzip_polished}");
    println!(
        "gzip_polished_ratio_to_gzip6={:.3}",
        gzip_polished as f64 / gzip6_polished as f64
    );
    println!("one_change_after_polish_rebuild_ms={changed_ms:.2}");
    println!("gzip_one_change_after_polish_bytes={gzip_changed}");
    println!(
        "gzip_one_change_after_polish_ratio_to_gzip6={:.3}",
        gzip_changed as f64 / gzip6_changed as f64
    );
    println!("polish_pending_after_one_change={polish_after_change}");
    println!("builds_from_first_to_1.1x={builds_to_target}");
    println!("seconds_of_builder_time_to_1.1x={to_target_s:.3}");
    println!("ratio_reached={ratio:.3}");
    println!("view_one_namespace_gzip_bytes={view_bytes}");
    println!("view_one_namespace_alloc_bytes={view_alloc}");
    println!("full_gzip_assembly_alloc_bytes={full_alloc}");
    println!("rss_baseline_kib={rss0}");
    println!("rss_after_list_kib={rss_listed}");
    println!("rss_after_first_build_kib={rss_first_build}");
    println!("rss_steady_kib={rss_steady}");
    println!("rss_peak_kib={hwm}");
    let budget = 2 * text as u64 / 1024 + 32 * 1024;
    println!("rss_budget_kib={budget}");
    // What the allocator adds to the program's own bytes (headers, rounding, free space
    // it keeps): RSS minus these, minus the baseline.
    println!("heap_live_after_list_kib={}", live_listed / 1024);
    println!("heap_live_steady_kib={}", live_steady / 1024);
}
