//! Assembling the exposition from the stores into an immutable [`Snapshot`], and publishing it.
//!
//! The builder runs away from the scrape path: woken by a [`ChangeSignal`], it waits out the
//! minimum interval (coalescing a burst of events into one rebuild), assembles the body on the
//! blocking pool, compresses it once, and swaps it in. A scrape only loads the current
//! `Arc<Snapshot>`. Nothing here does network I/O or holds a lock across an `.await`. See
//! [`run_builder`].

use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

use crate::exposition::Format;
use crate::resources::{FamilyHeader, FamilySelection, KindInfo};
use crate::store::{ChangeSignal, Reader};

/// Where one family sits in a snapshot's text body.
#[derive(Clone, Debug)]
struct FamilySpan {
    resource: &'static str,
    header: FamilyHeader,
    /// HELP + TYPE lines.
    header_range: Range<usize>,
    /// The samples that follow.
    samples_range: Range<usize>,
}

/// One published exposition.
///
/// # Invariants
/// A published `Snapshot` is immutable: a scrape sees the old one or the new one, never a mix,
/// and each family appears once, as HELP, TYPE, then all its samples.
#[derive(Debug)]
pub struct Snapshot {
    text: Bytes,
    text_gzip: Option<Bytes>,
    families: Vec<FamilySpan>,
    openmetrics: OnceLock<Bytes>,
    openmetrics_gzip: OnceLock<Bytes>,
    gzip_enabled: bool,
    ready: bool,
    objects: usize,
    objects_by_resource: Vec<(&'static str, usize)>,
    generation: u64,
}

/// The exposition body in one format, with its gzip form when one was asked for and enabled.
#[derive(Clone, Debug)]
pub struct Body {
    /// The bytes to send.
    pub bytes: Bytes,
    /// Whether `bytes` is gzip-compressed.
    pub gzip: bool,
}

impl Snapshot {
    /// The snapshot served before the first build: empty, not ready.
    pub fn empty() -> Snapshot {
        Snapshot {
            text: Bytes::new(),
            text_gzip: None,
            families: Vec::new(),
            openmetrics: OnceLock::new(),
            openmetrics_gzip: OnceLock::new(),
            gzip_enabled: false,
            ready: false,
            objects: 0,
            objects_by_resource: Vec::new(),
            generation: 0,
        }
    }

    /// Whether every watch had finished its first list when this snapshot was built.
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Objects rendered into this snapshot.
    pub fn objects(&self) -> usize {
        self.objects
    }

    /// Objects rendered into this snapshot, per enabled resource.
    pub fn objects_by_resource(&self) -> &[(&'static str, usize)] {
        &self.objects_by_resource
    }

    /// Increases with every published snapshot.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The body for `format`; gzip-compressed when `gzip` is asked for and enabled.
    ///
    /// The text body and its gzip form are built with the snapshot; the OpenMetrics forms are
    /// built by the first scrape that asks for them, once per snapshot.
    pub fn body(&self, format: Format, gzip: bool) -> Body {
        let gzip = gzip && self.gzip_enabled;
        match (format, gzip) {
            (Format::Text, false) => Body {
                bytes: self.text.clone(),
                gzip: false,
            },
            (Format::Text, true) => Body {
                bytes: self
                    .text_gzip
                    .clone()
                    .unwrap_or_else(|| compress(&self.text)),
                gzip: true,
            },
            (Format::OpenMetrics, false) => Body {
                bytes: self.openmetrics().clone(),
                gzip: false,
            },
            (Format::OpenMetrics, true) => Body {
                bytes: self
                    .openmetrics_gzip
                    .get_or_init(|| compress(self.openmetrics()))
                    .clone(),
                gzip: true,
            },
        }
    }

    /// The body restricted to `include`d resources, assembled from the snapshot's spans
    /// without re-rendering. Compressed per call: filtered scrapes are the exception.
    pub fn filtered_body(
        &self,
        format: Format,
        gzip: bool,
        include: &dyn Fn(&str) -> bool,
    ) -> Body {
        let mut out = Vec::with_capacity(self.text.len());
        for span in self.families.iter().filter(|s| include(s.resource)) {
            match format {
                Format::Text => out.extend_from_slice(&self.text[span.header_range.clone()]),
                Format::OpenMetrics => span.header.write(&mut out, Format::OpenMetrics),
            }
            out.extend_from_slice(&self.text[span.samples_range.clone()]);
        }
        if format == Format::OpenMetrics {
            out.extend_from_slice(b"# EOF\n");
        }
        let gzip = gzip && self.gzip_enabled;
        Body {
            bytes: if gzip {
                compress(&out)
            } else {
                Bytes::from(out)
            },
            gzip,
        }
    }

    fn openmetrics(&self) -> &Bytes {
        self.openmetrics.get_or_init(|| {
            let mut out = Vec::with_capacity(self.text.len() + 8);
            for span in &self.families {
                span.header.write(&mut out, Format::OpenMetrics);
                out.extend_from_slice(&self.text[span.samples_range.clone()]);
            }
            out.extend_from_slice(b"# EOF\n");
            Bytes::from(out)
        })
    }
}

fn compress(body: &[u8]) -> Bytes {
    use std::io::Write as _;
    // Level 1: scrapes are frequent and the body is regular text; the ratio barely improves
    // at higher levels while the CPU cost triples.
    let mut enc = GzEncoder::new(Vec::with_capacity(body.len() / 6), Compression::fast());
    enc.write_all(body).expect("writing to a Vec cannot fail");
    Bytes::from(enc.finish().expect("writing to a Vec cannot fail"))
}

/// One enabled kind as the builder sees it: its family table, which families render, and the
/// shards (one per watch) that hold its rows.
#[derive(Clone)]
pub struct KindSource {
    /// The kind.
    pub info: &'static dyn KindInfo,
    /// Families enabled in this run (opt-ins applied).
    pub selection: FamilySelection,
    /// One reader per watch of this kind.
    pub shards: Vec<Reader>,
}

/// Assembles a snapshot from `sources`, in their order.
///
/// Like kube-state-metrics' `MetricsWriter.WriteAll`, a kind with no object contributes
/// nothing, not even headers; a kind with objects writes every enabled family's header, then
/// that family's samples from every shard.
pub fn build(sources: &[KindSource], gzip: bool, generation: u64) -> Snapshot {
    let mut text = Vec::new();
    let mut families = Vec::new();
    let mut objects = 0;
    let mut objects_by_resource = Vec::with_capacity(sources.len());
    let mut ready = true;
    for source in sources {
        // Idle shards (leader-only kinds on a follower) do not hold readiness back.
        ready &= source.shards.iter().all(|s| !s.is_active() || s.is_ready());
        let rows: Vec<_> = source.shards.iter().flat_map(Reader::rows).collect();
        objects_by_resource.push((source.info.resource(), rows.len()));
        if rows.is_empty() {
            continue;
        }
        objects += rows.len();
        for (i, header) in source.info.family_headers().into_iter().enumerate() {
            if !source.selection.is_enabled(i) {
                continue;
            }
            let h0 = text.len();
            header.write(&mut text, Format::Text);
            let s0 = text.len();
            for r in &rows {
                text.extend_from_slice(r.family(i));
            }
            families.push(FamilySpan {
                resource: source.info.resource(),
                header,
                header_range: h0..s0,
                samples_range: s0..text.len(),
            });
        }
    }
    let text = Bytes::from(text);
    Snapshot {
        text_gzip: gzip.then(|| compress(&text)),
        text,
        families,
        openmetrics: OnceLock::new(),
        openmetrics_gzip: OnceLock::new(),
        gzip_enabled: gzip,
        ready,
        objects,
        objects_by_resource,
        generation,
    }
}

/// Where the current snapshot lives. Cheap to clone; loads never block.
#[derive(Clone, Debug)]
pub struct Published {
    current: Arc<ArcSwap<Snapshot>>,
}

impl Default for Published {
    fn default() -> Self {
        Published {
            current: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
        }
    }
}

impl Published {
    /// The current snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Publishes `snapshot`; scrapes see it from their next load.
    pub fn publish(&self, snapshot: Snapshot) {
        self.current.store(Arc::new(snapshot));
    }
}

/// What the builder reports about each build.
pub trait BuildObserver: Send + Sync + 'static {
    /// Called after each publish.
    fn built(&self, snapshot: &Snapshot, took: Duration, text_bytes: usize);
}

/// Rebuilds and publishes a snapshot after every change, at most once per `interval`.
///
/// Runs until the task is aborted. The assembly runs on the blocking pool so a large rebuild
/// never delays event processing or scrapes on the async workers.
pub async fn run_builder(
    sources: Arc<Vec<KindSource>>,
    published: Published,
    signal: ChangeSignal,
    interval: Duration,
    gzip: bool,
    observer: Arc<dyn BuildObserver>,
) {
    // Go on from what is published: a builder started by a config reload keeps the
    // generation increasing.
    let mut generation = published.load().generation();
    let mut last_build: Option<Instant> = None;
    loop {
        signal.changed().await;
        if let Some(last) = last_build {
            let since = last.elapsed();
            if since < interval {
                tokio::time::sleep(interval - since).await;
            }
        }
        generation += 1;
        let started = Instant::now();
        let sources = sources.clone();
        let snapshot = match tokio::task::spawn_blocking(move || build(&sources, gzip, generation))
            .await
        {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "snapshot build panicked; keeping the previous one");
                continue;
            }
        };
        let took = started.elapsed();
        let text_bytes = snapshot.text.len();
        observer.built(&snapshot, took, text_bytes);
        published.publish(snapshot);
        last_build = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Identity, MetricType, RenderContext, Series};
    use crate::resources::{Family, Kind, Scope};
    use crate::store::{Change, shard};

    #[derive(serde::Deserialize, Clone, Debug)]
    struct Thing {
        #[serde(deserialize_with = "crate::decode::lean_meta")]
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        value: f64,
    }
    crate::impl_object!(
        Thing,
        group = "example.com",
        version = "v1",
        kind = "Thing",
        plural = "things"
    );

    fn value(t: &Thing, out: &mut Series<'_>) {
        out.value(t.value);
    }
    fn doubled(t: &Thing, out: &mut Series<'_>) {
        out.sample([("x", "2")], t.value * 2.0);
    }
    static THINGS: Kind<Thing> = Kind {
        resource: "things",
        scope: Scope::Namespaced,
        identity: |t| Identity::new([("thing", t.metadata.name.as_deref().unwrap_or(""))]),
        families: &[
            Family::stable("thing_value", "The value.", MetricType::Gauge, value),
            Family::experimental("thing_info", "Doubled.", MetricType::Info, doubled),
        ],
    };

    fn source(objs: &[(&str, f64)], shards: usize) -> KindSource {
        let sel = FamilySelection::new(&THINGS.headers(), |_| true);
        let mut readers = Vec::new();
        for s in 0..shards {
            let (mut w, r) = shard("things", ChangeSignal::default());
            w.activate();
            w.apply(Change::Init);
            for (i, (name, v)) in objs.iter().enumerate() {
                if i % shards == s {
                    let thing = Thing {
                        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                            name: Some(name.to_string()),
                            ..Default::default()
                        },
                        value: *v,
                    };
                    let rows = THINGS.render(&thing, &RenderContext::default(), &sel);
                    w.apply(Change::InitApply(name.to_string(), rows));
                }
            }
            w.apply(Change::InitDone);
            readers.push(r);
        }
        KindSource {
            info: &THINGS,
            selection: sel,
            shards: readers,
        }
    }

    fn text(b: &Body) -> String {
        String::from_utf8(b.bytes.to_vec()).unwrap()
    }

    #[test]
    fn families_appear_once_with_samples_from_every_shard() {
        let snap = build(
            &[source(&[("a", 1.0), ("b", 2.0), ("c", 3.0)], 2)],
            false,
            1,
        );
        let body = text(&snap.body(Format::Text, false));
        assert_eq!(body.matches("# HELP thing_value").count(), 1);
        assert_eq!(body.matches("# TYPE thing_info gauge").count(), 1);
        let value_lines: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("thing_value{"))
            .collect();
        assert_eq!(value_lines.len(), 3);
        // Family-major: every thing_value sample comes before the thing_info header.
        let info_at = body.find("# HELP thing_info").unwrap();
        assert!(body.rfind("thing_value{").unwrap() < info_at);
        assert!(
            body.starts_with("# HELP thing_value [STABLE] The value.\n# TYPE thing_value gauge\n")
        );
        assert!(snap.is_ready());
        assert_eq!(snap.objects(), 3);
    }

    #[test]
    fn an_empty_kind_writes_no_headers() {
        let snap = build(&[source(&[], 1)], false, 1);
        assert!(snap.body(Format::Text, false).bytes.is_empty());
    }

    #[test]
    fn openmetrics_keeps_info_types_and_ends_with_eof() {
        let snap = build(&[source(&[("a", 1.0)], 1)], false, 1);
        let om = text(&snap.body(Format::OpenMetrics, false));
        assert!(om.contains("# TYPE thing_info info\n"), "{om}");
        assert!(om.ends_with("# EOF\n"));
        let plain = text(&snap.body(Format::Text, false));
        assert!(plain.contains("# TYPE thing_info gauge\n"));
        assert!(!plain.contains("# EOF"));
    }

    #[test]
    fn gzip_bodies_decompress_to_the_text_body() {
        use std::io::Read as _;
        let snap = build(&[source(&[("a", 1.0), ("b", 2.0)], 1)], true, 1);
        for format in [Format::Text, Format::OpenMetrics] {
            let plain = snap.body(format, false);
            let zipped = snap.body(format, true);
            assert!(zipped.gzip);
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&zipped.bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain.bytes.to_vec());
        }
        let no_gzip = build(&[source(&[("a", 1.0)], 1)], false, 1);
        assert!(
            !no_gzip.body(Format::Text, true).gzip,
            "gzip stays off unless enabled"
        );
    }

    #[test]
    fn filtered_bodies_hold_only_the_included_resources() {
        let snap = build(&[source(&[("a", 1.0)], 1)], false, 1);
        assert!(text(&snap.filtered_body(Format::Text, false, &|_| false)).is_empty());
        assert_eq!(
            snap.filtered_body(Format::Text, false, &|r| r == "things")
                .bytes,
            snap.body(Format::Text, false).bytes
        );
    }

    #[test]
    fn a_shard_still_listing_makes_the_snapshot_not_ready_an_idle_one_does_not() {
        let mut src = source(&[("a", 1.0)], 1);
        let (mut w, r) = shard("things", ChangeSignal::default());
        src.shards.push(r);
        assert!(
            build(std::slice::from_ref(&src), false, 1).is_ready(),
            "idle shard"
        );
        w.activate();
        assert!(!build(&[src], false, 1).is_ready(), "active, still listing");
    }
}
