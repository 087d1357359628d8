//! Assembling the exposition from the stores into an immutable [`Snapshot`], and publishing it.
//!
//! The builder runs away from the scrape path: woken by a [`ChangeSignal`], it waits out the
//! minimum interval (coalescing a burst of events into one rebuild), brings the snapshot up to
//! date on the blocking pool, and swaps it in. A scrape only loads the current `Arc<Snapshot>`
//! and sends chunks that already exist. Nothing here does network I/O or holds a lock across
//! an `.await`. See [`run_builder`].
//!
//! # Incremental rebuilds
//! The exposition must be family-major (all samples of a family together), while changes
//! arrive per object. Each watch's objects are therefore spread over buckets by a hash of their
//! UID, and every bucket keeps one *piece* per family: its objects' samples of that family,
//! joined, and the same bytes deflated (see [`crate::deflate`]). A change re-renders the pieces
//! of the buckets it touched; a snapshot is the list of headers and pieces in order, shared
//! with the previous snapshot wherever nothing changed. So the cost of a rebuild follows the
//! size of a bucket, not of the cluster, and the gzip body is never compressed whole.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::deflate::{self, Deflated, GzipStream};
use crate::exposition::Format;
use crate::resources::{FamilyHeader, FamilySelection, KindInfo, Rows};
use crate::store::{ChangeSignal, Dirty, Reader, Uid};

/// Buckets are sized for about this many objects: small enough that re-rendering and
/// compressing one bucket after a change stays far below the rebuild budget, large enough that
/// a piece compresses well and a scrape sends few chunks.
const OBJECTS_PER_BUCKET: usize = 256;

/// One family's header, fixed for the run, in both formats, plain and deflated.
#[derive(Debug)]
struct FamilyHead {
    resource: &'static str,
    /// Index of the family in its kind's table (and in each object's [`Rows`]).
    index: usize,
    text: Bytes,
    text_deflated: Deflated,
    openmetrics: Bytes,
    openmetrics_deflated: Deflated,
}

impl FamilyHead {
    fn new(resource: &'static str, index: usize, header: &FamilyHeader) -> FamilyHead {
        let render = |format| {
            let mut out = Vec::new();
            header.write(&mut out, format);
            Bytes::from(out)
        };
        let text = render(Format::Text);
        let openmetrics = render(Format::OpenMetrics);
        FamilyHead {
            resource,
            index,
            text_deflated: deflate::piece(&text),
            text,
            openmetrics_deflated: deflate::piece(&openmetrics),
            openmetrics,
        }
    }

    fn plain(&self, format: Format) -> (&Bytes, &Deflated) {
        match format {
            Format::Text => (&self.text, &self.text_deflated),
            Format::OpenMetrics => (&self.openmetrics, &self.openmetrics_deflated),
        }
    }
}

/// One family's samples from one bucket: plain, and deflated when gzip is enabled.
#[derive(Clone, Debug, Default)]
struct Piece {
    text: Bytes,
    deflated: Deflated,
}

/// One family of a snapshot: its header and its pieces in order.
#[derive(Debug)]
struct FamilyPart {
    head: Arc<FamilyHead>,
    pieces: Vec<Piece>,
}

/// The OpenMetrics terminator, plain and deflated.
fn eof() -> &'static (Bytes, Deflated) {
    static EOF: OnceLock<(Bytes, Deflated)> = OnceLock::new();
    EOF.get_or_init(|| {
        let plain = Bytes::from_static(b"# EOF\n");
        let deflated = deflate::piece(&plain);
        (plain, deflated)
    })
}

/// One published exposition.
///
/// # Invariants
/// A published `Snapshot` is immutable: a scrape sees the old one or the new one, never a mix,
/// and each family appears once, as HELP, TYPE, then all its samples.
#[derive(Debug)]
pub struct Snapshot {
    families: Vec<FamilyPart>,
    text: Chunks,
    text_gzip: Option<Chunks>,
    openmetrics: OnceLock<Chunks>,
    openmetrics_gzip: OnceLock<Chunks>,
    gzip_enabled: bool,
    ready: bool,
    objects: usize,
    objects_by_resource: Vec<(&'static str, usize)>,
    generation: u64,
}

/// A body as the chunks to send in order, with their total length.
#[derive(Clone, Debug, Default)]
pub struct Chunks {
    chunks: Arc<[Bytes]>,
    len: usize,
}

impl Chunks {
    fn new(chunks: Vec<Bytes>) -> Chunks {
        let chunks: Vec<Bytes> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        Chunks {
            len: chunks.iter().map(Bytes::len).sum(),
            chunks: chunks.into(),
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The body in one buffer (copies; for tests and small bodies).
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len);
        for c in self.chunks.iter() {
            out.extend_from_slice(c);
        }
        out
    }

    /// An HTTP body that sends the chunks without copying them, with an exact length.
    pub fn into_http_body(self) -> ChunkedBody {
        ChunkedBody {
            remaining: self.len as u64,
            chunks: self.chunks,
            next: 0,
        }
    }
}

/// [`http_body::Body`] over a snapshot's chunks.
#[derive(Debug)]
pub struct ChunkedBody {
    chunks: Arc<[Bytes]>,
    next: usize,
    remaining: u64,
}

impl http_body::Body for ChunkedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let Some(chunk) = self.chunks.get(self.next).cloned() else {
            return Poll::Ready(None);
        };
        self.next += 1;
        self.remaining -= chunk.len() as u64;
        Poll::Ready(Some(Ok(http_body::Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.chunks.len()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.remaining)
    }
}

/// The exposition body in one format, with its gzip form when one was asked for and enabled.
#[derive(Clone, Debug)]
pub struct Body {
    /// The chunks to send.
    pub chunks: Chunks,
    /// Whether `chunks` are gzip-compressed.
    pub gzip: bool,
}

impl Snapshot {
    /// The snapshot served before the first build: empty, not ready.
    pub fn empty() -> Snapshot {
        Snapshot {
            families: Vec::new(),
            text: Chunks::default(),
            text_gzip: None,
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

    /// Length of the text body in bytes.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }

    /// The body for `format`; gzip-compressed when `gzip` is asked for and enabled.
    ///
    /// The text body and its gzip form are assembled with the snapshot; the OpenMetrics forms
    /// by the first scrape that asks for them, once per snapshot. Either way no sample is
    /// rendered or compressed here: the chunks exist already.
    pub fn body(&self, format: Format, gzip: bool) -> Body {
        let gzip = gzip && self.gzip_enabled;
        let chunks = match (format, gzip) {
            (Format::Text, false) => self.text.clone(),
            (Format::Text, true) => self
                .text_gzip
                .clone()
                .unwrap_or_else(|| self.assemble(format, true, &|_| true)),
            (Format::OpenMetrics, false) => self
                .openmetrics
                .get_or_init(|| self.assemble(format, false, &|_| true))
                .clone(),
            (Format::OpenMetrics, true) => self
                .openmetrics_gzip
                .get_or_init(|| self.assemble(format, true, &|_| true))
                .clone(),
        };
        Body { chunks, gzip }
    }

    /// The body restricted to `include`d resources, assembled from the snapshot's pieces
    /// without re-rendering or compressing anything.
    pub fn filtered_body(
        &self,
        format: Format,
        gzip: bool,
        include: &dyn Fn(&str) -> bool,
    ) -> Body {
        let gzip = gzip && self.gzip_enabled;
        Body {
            chunks: self.assemble(format, gzip, include),
            gzip,
        }
    }

    fn assemble(&self, format: Format, gzip: bool, include: &dyn Fn(&str) -> bool) -> Chunks {
        let parts = self.families.iter().filter(|f| include(f.head.resource));
        let eof = (format == Format::OpenMetrics).then(eof);
        if gzip {
            let mut out = GzipStream::default();
            for part in parts {
                out.push(part.head.plain(format).1);
                for p in &part.pieces {
                    out.push(&p.deflated);
                }
            }
            if let Some((_, deflated)) = eof {
                out.push(deflated);
            }
            Chunks::new(out.finish())
        } else {
            let mut out = Vec::new();
            for part in parts {
                out.push(part.head.plain(format).0.clone());
                out.extend(part.pieces.iter().map(|p| p.text.clone()));
            }
            if let Some((plain, _)) = eof {
                out.push(plain.clone());
            }
            Chunks::new(out)
        }
    }
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

/// The objects of one bucket and, once rendered, their pieces (one per enabled family).
#[derive(Debug, Default)]
struct Bucket {
    /// Ordered by UID, so a bucket renders the same bytes for the same objects.
    members: BTreeMap<Uid, Arc<Rows>>,
    /// `None` when a member changed since the pieces were rendered.
    pieces: Option<Vec<Piece>>,
}

/// What the builder keeps of one shard between builds.
#[derive(Debug, Default)]
struct ShardCache {
    /// A power of two; empty until the first build.
    buckets: Vec<Bucket>,
    objects: usize,
}

fn bucket_of(uid: &str, buckets: usize) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    uid.hash(&mut h);
    (h.finish() as usize) & (buckets - 1)
}

fn buckets_for(objects: usize) -> usize {
    objects.div_ceil(OBJECTS_PER_BUCKET).next_power_of_two()
}

impl ShardCache {
    /// Brings the members up to date with `reader`, marking the buckets that changed.
    fn refresh(&mut self, reader: &Reader) {
        let dirty = if self.buckets.is_empty() {
            // First build: whatever the mark says, everything is new to this cache.
            let _ = reader.take_dirty();
            Dirty::All
        } else {
            reader.take_dirty()
        };
        match dirty {
            Dirty::All => self.redistribute(reader.rows_by_uid()),
            Dirty::Objects(uids) => {
                for uid in uids {
                    let n = self.buckets.len();
                    let bucket = &mut self.buckets[bucket_of(&uid, n)];
                    match reader.get(&uid) {
                        Some(rows) => bucket.members.insert(uid, rows),
                        None => bucket.members.remove(&uid),
                    };
                    bucket.pieces = None;
                }
                self.objects = self.buckets.iter().map(|b| b.members.len()).sum();
                // Keep buckets near their size: regroup when the shard grew or shrank a lot.
                let n = self.buckets.len();
                if self.objects > n * OBJECTS_PER_BUCKET * 2
                    || (n > 1 && self.objects < n * OBJECTS_PER_BUCKET / 4)
                {
                    let all = self
                        .buckets
                        .iter_mut()
                        .flat_map(|b| std::mem::take(&mut b.members))
                        .collect();
                    self.redistribute(all);
                }
            }
        }
    }

    fn redistribute(&mut self, all: Vec<(Uid, Arc<Rows>)>) {
        let n = buckets_for(all.len());
        self.buckets = (0..n).map(|_| Bucket::default()).collect();
        self.objects = all.len();
        for (uid, rows) in all {
            let b = bucket_of(&uid, n);
            self.buckets[b].members.insert(uid, rows);
        }
    }
}

/// Keeps the pieces of every source between builds and makes snapshots from them.
pub struct Builder {
    sources: Arc<Vec<KindSource>>,
    gzip: bool,
    /// Per source: the enabled families' headers.
    heads: Vec<Vec<Arc<FamilyHead>>>,
    /// Per source, per shard.
    caches: Vec<Vec<ShardCache>>,
    generation: u64,
}

impl Builder {
    /// A builder for `sources`; gzip pieces are made only when `gzip` is enabled.
    pub fn new(sources: Arc<Vec<KindSource>>, gzip: bool) -> Builder {
        let heads = sources
            .iter()
            .map(|s| {
                s.info
                    .family_headers()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| s.selection.is_enabled(*i))
                    .map(|(i, h)| Arc::new(FamilyHead::new(s.info.resource(), i, h)))
                    .collect()
            })
            .collect();
        let caches = sources
            .iter()
            .map(|s| s.shards.iter().map(|_| ShardCache::default()).collect())
            .collect();
        Builder {
            sources,
            gzip,
            heads,
            caches,
            generation: 0,
        }
    }

    /// Brings every shard's pieces up to date and assembles a snapshot.
    ///
    /// Like kube-state-metrics' `MetricsWriter.WriteAll`, a kind with no object contributes
    /// nothing, not even headers; a kind with objects writes every enabled family's header,
    /// then that family's samples from every shard.
    pub fn build(&mut self) -> Snapshot {
        self.generation += 1;
        let mut families = Vec::new();
        let mut objects = 0;
        let mut objects_by_resource = Vec::with_capacity(self.sources.len());
        let mut ready = true;
        for ((source, heads), caches) in self.sources.iter().zip(&self.heads).zip(&mut self.caches)
        {
            // Idle shards (leader-only kinds on a follower) do not hold readiness back.
            ready &= source.shards.iter().all(|s| !s.is_active() || s.is_ready());
            let mut kind_objects = 0;
            for (reader, cache) in source.shards.iter().zip(caches.iter_mut()) {
                cache.refresh(reader);
                for bucket in &mut cache.buckets {
                    if bucket.pieces.is_none() {
                        bucket.pieces = Some(render_pieces(&bucket.members, heads, self.gzip));
                    }
                }
                kind_objects += cache.objects;
            }
            objects_by_resource.push((source.info.resource(), kind_objects));
            if kind_objects == 0 {
                continue;
            }
            objects += kind_objects;
            for (f, head) in heads.iter().enumerate() {
                let pieces = caches
                    .iter()
                    .flat_map(|c| &c.buckets)
                    .filter_map(|b| b.pieces.as_ref().map(|p| &p[f]))
                    .filter(|p| !p.text.is_empty())
                    .cloned()
                    .collect();
                families.push(FamilyPart {
                    head: head.clone(),
                    pieces,
                });
            }
        }
        let mut snapshot = Snapshot {
            families,
            text: Chunks::default(),
            text_gzip: None,
            openmetrics: OnceLock::new(),
            openmetrics_gzip: OnceLock::new(),
            gzip_enabled: self.gzip,
            ready,
            objects,
            objects_by_resource,
            generation: self.generation,
        };
        snapshot.text = snapshot.assemble(Format::Text, false, &|_| true);
        if self.gzip {
            snapshot.text_gzip = Some(snapshot.assemble(Format::Text, true, &|_| true));
        }
        snapshot
    }
}

/// Joins one bucket's samples family by family.
fn render_pieces(
    members: &BTreeMap<Uid, Arc<Rows>>,
    heads: &[Arc<FamilyHead>],
    gzip: bool,
) -> Vec<Piece> {
    heads
        .iter()
        .map(|head| {
            let len = members.values().map(|r| r.family(head.index).len()).sum();
            let mut text = Vec::with_capacity(len);
            for rows in members.values() {
                text.extend_from_slice(rows.family(head.index));
            }
            let deflated = if gzip {
                deflate::piece(&text)
            } else {
                Deflated::default()
            };
            Piece {
                text: Bytes::from(text),
                deflated,
            }
        })
        .collect()
}

/// Assembles a snapshot from `sources` in one go, without keeping anything for the next
/// build. For tests and one-off uses; the agent keeps a [`Builder`].
///
/// NOTE: this takes the shards' change marks, which belong to the agent's builder.
pub fn build(sources: &[KindSource], gzip: bool) -> Snapshot {
    Builder::new(Arc::new(sources.to_vec()), gzip).build()
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
/// Runs until the task is aborted. The rebuild runs on the blocking pool so a large one never
/// delays event processing or scrapes on the async workers.
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
    let generation = published.load().generation();
    let fresh = || {
        let mut b = Builder::new(sources.clone(), gzip);
        b.generation = generation;
        b
    };
    let mut builder = Some(fresh());
    let mut last_build: Option<Instant> = None;
    loop {
        signal.changed().await;
        if let Some(last) = last_build {
            let since = last.elapsed();
            if since < interval {
                tokio::time::sleep(interval - since).await;
            }
        }
        let started = Instant::now();
        let mut b = builder.take().unwrap_or_else(fresh);
        let (b, snapshot) = match tokio::task::spawn_blocking(move || {
            let s = b.build();
            (b, s)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                // The builder's pieces went down with it; the next build starts from the
                // stores again (a full rebuild), and until then the previous snapshot stays.
                tracing::error!(error = %e, "snapshot build panicked; keeping the previous one");
                continue;
            }
        };
        builder = Some(b);
        let took = started.elapsed();
        let text_bytes = snapshot.text_len();
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
        String::from_utf8(b.chunks.to_vec()).unwrap()
    }

    #[test]
    fn families_appear_once_with_samples_from_every_shard() {
        let snap = build(&[source(&[("a", 1.0), ("b", 2.0), ("c", 3.0)], 2)], false);
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
        let snap = build(&[source(&[], 1)], false);
        assert!(snap.body(Format::Text, false).chunks.is_empty());
    }

    #[test]
    fn openmetrics_keeps_info_types_and_ends_with_eof() {
        let snap = build(&[source(&[("a", 1.0)], 1)], false);
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
        let snap = build(&[source(&[("a", 1.0), ("b", 2.0)], 1)], true);
        for format in [Format::Text, Format::OpenMetrics] {
            let plain = snap.body(format, false);
            let zipped = snap.body(format, true);
            assert!(zipped.gzip);
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&zipped.chunks.to_vec()[..])
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, plain.chunks.to_vec());
        }
        let no_gzip = build(&[source(&[("a", 1.0)], 1)], false);
        assert!(
            !no_gzip.body(Format::Text, true).gzip,
            "gzip stays off unless enabled"
        );
    }

    #[test]
    fn filtered_bodies_hold_only_the_included_resources() {
        let snap = build(&[source(&[("a", 1.0)], 1)], false);
        assert!(text(&snap.filtered_body(Format::Text, false, &|_| false)).is_empty());
        assert_eq!(
            snap.filtered_body(Format::Text, false, &|r| r == "things")
                .chunks
                .to_vec(),
            snap.body(Format::Text, false).chunks.to_vec()
        );
    }

    #[test]
    fn a_shard_still_listing_makes_the_snapshot_not_ready_an_idle_one_does_not() {
        let mut src = source(&[("a", 1.0)], 1);
        let (mut w, r) = shard("things", ChangeSignal::default());
        src.shards.push(r);
        assert!(
            build(std::slice::from_ref(&src), false).is_ready(),
            "idle shard"
        );
        w.activate();
        assert!(!build(&[src], false).is_ready(), "active, still listing");
    }

    fn thing_rows(name: &str, v: f64) -> crate::resources::Rows {
        let sel = FamilySelection::new(&THINGS.headers(), |_| true);
        let thing = Thing {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_string()),
                ..Default::default()
            },
            value: v,
        };
        THINGS.render(&thing, &RenderContext::default(), &sel)
    }

    /// A one-shard source of `n` things, with the writer to change it afterwards.
    fn live_source(n: usize) -> (crate::store::Writer, KindSource) {
        let (mut w, r) = shard("things", ChangeSignal::default());
        w.activate();
        w.apply(Change::Init);
        for i in 0..n {
            let name = format!("t{i}");
            w.apply(Change::InitApply(name.clone(), thing_rows(&name, i as f64)));
        }
        w.apply(Change::InitDone);
        let src = KindSource {
            info: &THINGS,
            selection: FamilySelection::new(&THINGS.headers(), |_| true),
            shards: vec![r],
        };
        (w, src)
    }

    fn sorted_lines(b: &Body) -> Vec<String> {
        let mut v: Vec<String> = text(b).lines().map(str::to_string).collect();
        v.sort();
        v
    }

    fn pieces(s: &Snapshot) -> Vec<Bytes> {
        s.families
            .iter()
            .flat_map(|f| f.pieces.iter().map(|p| p.text.clone()))
            .collect()
    }

    #[test]
    fn an_incremental_rebuild_equals_a_full_build_and_reuses_untouched_pieces() {
        let (mut w, src) = live_source(3000);
        let sources = Arc::new(vec![src.clone()]);
        let mut builder = Builder::new(sources, true);
        let first = builder.build();
        assert_eq!(first.objects(), 3000);
        let before = pieces(&first);
        assert!(
            before.len() >= 2 * 8,
            "3000 objects spread over several buckets"
        );

        w.apply(Change::Apply("t7".into(), thing_rows("t7", 700.5)));
        w.apply(Change::Delete("t8".into()));
        w.apply(Change::Apply("new".into(), thing_rows("new", 1.0)));
        let second = builder.build();

        let full = Builder::new(Arc::new(vec![src]), true).build();
        for format in [Format::Text, Format::OpenMetrics] {
            for gzip in [false, true] {
                assert_eq!(
                    second.body(format, gzip).chunks.to_vec(),
                    full.body(format, gzip).chunks.to_vec(),
                    "{format:?} gzip={gzip}"
                );
            }
        }
        let body = text(&second.body(Format::Text, false));
        assert!(body.contains("thing_value{thing=\"t7\"} 700.5\n"));
        assert!(!body.contains("{thing=\"t8\"}"));
        assert!(body.contains("thing_value{thing=\"new\"} 1\n"));

        // Only the touched buckets were re-rendered: most pieces are the very same buffers.
        let after = pieces(&second);
        let shared = after
            .iter()
            .filter(|p| before.iter().any(|b| b.as_ptr() == p.as_ptr()))
            .count();
        assert!(
            shared >= after.len() - 3 * 2,
            "{shared} of {} pieces reused",
            after.len()
        );
    }

    #[test]
    fn buckets_regroup_as_a_shard_grows_and_shrinks_without_losing_objects() {
        let (mut w, src) = live_source(10);
        let mut builder = Builder::new(Arc::new(vec![src]), false);
        assert_eq!(builder.build().objects(), 10);
        for i in 10..2000 {
            let name = format!("t{i}");
            w.apply(Change::Apply(name.clone(), thing_rows(&name, i as f64)));
        }
        let grown = builder.build();
        assert_eq!(grown.objects(), 2000);
        assert!(builder.caches[0][0].buckets.len() >= 4);
        let lines = sorted_lines(&grown.body(Format::Text, false));
        assert_eq!(
            lines
                .iter()
                .filter(|l| l.starts_with("thing_value{"))
                .count(),
            2000
        );
        for i in 5..2000 {
            w.apply(Change::Delete(format!("t{i}")));
        }
        let shrunk = builder.build();
        assert_eq!(shrunk.objects(), 5);
        assert_eq!(builder.caches[0][0].buckets.len(), 1);
        let values: Vec<String> = sorted_lines(&shrunk.body(Format::Text, false))
            .into_iter()
            .filter(|l| l.starts_with("thing_value{"))
            .collect();
        assert_eq!(values.len(), 5, "{values:?}");
    }

    #[test]
    fn a_relist_rebuilds_the_shard_whole() {
        let (mut w, src) = live_source(600);
        let mut builder = Builder::new(Arc::new(vec![src]), false);
        builder.build();
        w.apply(Change::Init);
        w.apply(Change::InitApply("only".into(), thing_rows("only", 3.0)));
        w.apply(Change::InitDone);
        let snap = builder.build();
        assert_eq!(snap.objects(), 1);
        let body = text(&snap.body(Format::Text, false));
        assert!(body.contains("thing_value{thing=\"only\"} 3\n"), "{body}");
        assert_eq!(body.matches("thing_value{").count(), 1);
    }
}
