//! Assembling the exposition from the stores into an immutable [`Snapshot`], publishing it, and
//! serving views of it.
//!
//! The [`builder`] runs away from the scrape path: woken by a change, it waits out the minimum
//! interval (coalescing a burst of events into one rebuild), brings the snapshot up to date on
//! the blocking pool, and swaps it in. A scrape only loads the current `Arc<Snapshot>` and sends
//! chunks that already exist. Nothing here does network I/O or holds a lock across an `.await`.
//! See [`run_builder`], and [`Snapshot::view`] for the bodies a scrape sends.
//!
//! # Pieces
//! The exposition must be family-major (all samples of a family together), while changes
//! arrive per object. Each watch's objects are therefore grouped by namespace into *segments*,
//! and each segment's objects are spread over buckets by a hash of their UID; every bucket has
//! one *piece* per family: its objects' samples of that family, read in place from the rows the
//! store keeps (and, for views served compressed, the same bytes deflated alone). The text is
//! never copied into the snapshot: the rows are its one copy, and a plain scrape gathers them
//! into buffers as it sends them. A change replaces the members of the buckets it touched; a
//! snapshot is the list of headers and pieces in order, shared with the previous snapshot
//! wherever nothing changed. So the cost of a rebuild follows the size of a bucket, not
//! of the cluster, and the gzip body is never compressed whole: each kind's headers and pieces
//! are deflated in runs of about 32 KiB, each after the text before it as its dictionary (see
//! [`crate::deflate::run`]), and a run is compressed again only when its own parts or that text
//! changed.
//!
//! # Views
//! Within a family, pieces are ordered by namespace (cluster-scoped objects first), so the
//! samples of one namespace are a run of whole pieces. A view of some namespaces (a tenant's
//! scrape, `?namespace=`) is the same headers and a subset of the same pieces, plain or deflated:
//! it costs the tenant's pieces, found by binary search, never the full body.

pub mod body;
mod builder;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use bytes::Bytes;

use crate::deflate::{self, Deflated, GzipStream};
use crate::exposition::Format;
use crate::resources::FamilyHeader;

use body::Chunk;
pub use body::{Body, ChunkedBody, Chunks};
pub use builder::{BuildObserver, Builder, Compression, KindSource, build, run_builder};

/// One family's header, fixed for the run, in both formats, plain and deflated.
#[derive(Debug)]
struct FamilyHead {
    /// Index of the family in its kind's table (and in each object's rows).
    index: usize,
    text: Bytes,
    text_deflated: Deflated,
    openmetrics: Bytes,
    openmetrics_deflated: Deflated,
}

impl FamilyHead {
    fn new(index: usize, header: &FamilyHeader) -> FamilyHead {
        let render = |format| {
            let mut out = Vec::new();
            header.write(&mut out, format);
            Bytes::from(out)
        };
        let text = render(Format::Text);
        let mut openmetrics = render(Format::OpenMetrics);
        // The same buffer when both formats agree (every gauge): the full body's runs are
        // reused by the buffers they were made from, so both formats then share one
        // compression of each run (see `builder::RunIdentity`).
        if openmetrics == text {
            openmetrics = text.clone();
        }
        let text_deflated = deflate::piece(&text);
        FamilyHead {
            index,
            openmetrics_deflated: if openmetrics.as_ptr() == text.as_ptr() {
                text_deflated.clone()
            } else {
                deflate::piece(&openmetrics)
            },
            text_deflated,
            text,
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

/// One family's samples from one bucket, read in place from the bucket's rows: the store's
/// rendered rows are the only copy of the text, and a snapshot holds references to them.
///
/// # Invariants
/// - `members` is never changed while shared (the builder changes a bucket through
///   `Arc::make_mut`), so the same `Samples` always reads the same bytes, and `len` is their
///   length.
/// - Two `Samples` with the same [`PartId`] read the same bytes while either is held: the
///   address of `members` cannot be reused while it is alive.
#[derive(Clone, Debug)]
struct Samples {
    members: Arc<builder::Members>,
    /// Index of the family in the kind's table (and in each object's rows).
    family: usize,
    len: usize,
}

impl Samples {
    /// The samples, object by object in the bucket's order.
    fn slices(&self) -> impl Iterator<Item = &[u8]> {
        self.members.rows().map(|rows| rows.family(self.family))
    }

    /// Appends the samples from byte `skip` on.
    fn write_from(&self, mut skip: usize, out: &mut Vec<u8>) {
        for slice in self.slices() {
            if skip >= slice.len() {
                skip -= slice.len();
                continue;
            }
            out.extend_from_slice(&slice[skip..]);
            skip = 0;
        }
    }

    fn id(&self) -> PartId {
        PartId {
            address: Arc::as_ptr(&self.members) as usize,
            len: self.len,
            family: self.family + 1,
        }
    }
}

/// What a part of a body is, for telling parts apart across builds: a buffer by address and
/// length (`family` 0), or a bucket's samples of a family by the bucket's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PartId {
    address: usize,
    len: usize,
    family: usize,
}

fn bytes_id(bytes: &Bytes) -> PartId {
    PartId {
        address: bytes.as_ptr() as usize,
        len: bytes.len(),
        family: 0,
    }
}

/// One family's samples from one bucket, and the same bytes deflated alone when namespace views
/// are served compressed (see [`Builder::deflate_namespace_views`]).
#[derive(Clone, Debug)]
struct Piece {
    samples: Samples,
    deflated: Deflated,
}

/// One namespace's pieces of one family (`""`: the cluster-scoped objects').
#[derive(Debug)]
struct Segment {
    namespace: Arc<str>,
    /// Never empty, and no piece in it is empty.
    pieces: Vec<Piece>,
}

/// One family of a snapshot: its header and its segments.
#[derive(Debug)]
struct FamilyPart {
    head: Arc<FamilyHead>,
    /// Sorted by namespace, one per namespace.
    segments: Vec<Segment>,
}

/// One kind of a snapshot: its families, the namespaces its objects are in, and its part of
/// the full gzip body.
#[derive(Debug)]
struct KindPart {
    resource: &'static str,
    /// Sorted; the namespaces holding at least one object of the kind (`""` for cluster-scoped
    /// objects). Decides whether a view writes the kind's headers.
    namespaces: Vec<Arc<str>>,
    families: Vec<FamilyPart>,
    /// The kind's headers and samples, deflated in runs of consecutive parts that refer back
    /// into the kind's own preceding text (never another kind's, so a view of whole kinds
    /// joins them too): the full body's gzip form, per format. Empty without gzip.
    runs: KindRuns,
}

/// A kind's full gzip form in both formats: the same runs wherever the text before a run is
/// the same in both (the headers of most families are).
#[derive(Clone, Debug, Default)]
struct KindRuns {
    text: Arc<[Deflated]>,
    openmetrics: Arc<[Deflated]>,
}

impl KindRuns {
    fn get(&self, format: Format) -> &[Deflated] {
        match format {
            Format::Text => &self.text,
            Format::OpenMetrics => &self.openmetrics,
        }
    }
}

/// Which namespaces' samples a body holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Namespaces {
    /// Every sample, cluster-scoped objects' included: the full view.
    All,
    /// The samples of every namespace, none of cluster-scoped objects.
    EveryNamespace,
    /// The samples of these namespaces only. Sorted and without duplicates; see
    /// [`Namespaces::only`].
    Only(Arc<[Box<str>]>),
}

impl Namespaces {
    /// The view of exactly `namespaces` (any order, duplicates allowed).
    pub fn only<S: AsRef<str>>(namespaces: impl IntoIterator<Item = S>) -> Namespaces {
        let mut v: Vec<Box<str>> = namespaces
            .into_iter()
            .filter(|n| !n.as_ref().is_empty())
            .map(|n| Box::from(n.as_ref()))
            .collect();
        v.sort_unstable();
        v.dedup();
        Namespaces::Only(v.into())
    }

    /// This view narrowed to `requested` namespaces: never wider than `self`.
    pub fn narrow<S: AsRef<str>>(&self, requested: impl IntoIterator<Item = S>) -> Namespaces {
        let requested = Namespaces::only(requested);
        let Namespaces::Only(wanted) = requested else {
            unreachable!("only() builds Only")
        };
        Namespaces::only(wanted.iter().filter(|n| self.includes(n)))
    }

    /// Whether the samples of objects in `namespace` (`""`: cluster-scoped) are in this view.
    pub fn includes(&self, namespace: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::EveryNamespace => !namespace.is_empty(),
            Namespaces::Only(set) => set.binary_search_by(|n| (**n).cmp(namespace)).is_ok(),
        }
    }

    /// The members of `sorted` (by namespace) that this view includes, in order. Costs the
    /// view's namespaces times a binary search, not a walk over `sorted`.
    fn select<'a, T>(
        &'a self,
        sorted: &'a [T],
        key: impl Fn(&T) -> &str + Copy + 'a,
    ) -> Box<dyn Iterator<Item = &'a T> + 'a> {
        match self {
            Namespaces::All => Box::new(sorted.iter()),
            Namespaces::EveryNamespace => {
                Box::new(sorted.iter().filter(move |t| !key(t).is_empty()))
            }
            Namespaces::Only(set) => Box::new(set.iter().filter_map(move |ns| {
                sorted
                    .binary_search_by(|t| key(t).cmp(ns))
                    .ok()
                    .map(|i| &sorted[i])
            })),
        }
    }
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
/// - A published `Snapshot` is immutable: a scrape sees the old one or the new one, never a
///   mix, and each family appears once, as HELP, TYPE, then all its samples.
/// - Like kube-state-metrics' `MetricsWriter.WriteAll`, a body writes a kind's headers when it
///   holds at least one object of the kind, and only then. A view applies the same rule to the
///   objects it holds: its body is what the full body would be if the cluster held only the
///   view's objects.
#[derive(Debug)]
pub struct Snapshot {
    kinds: Vec<KindPart>,
    text: Chunks,
    text_gzip: Option<Chunks>,
    openmetrics: OnceLock<Chunks>,
    openmetrics_gzip: OnceLock<Chunks>,
    gzip_enabled: bool,
    /// Whether each piece is deflated too, so namespace views can be served compressed.
    views_deflated: bool,
    ready: bool,
    objects: usize,
    objects_by_resource: Vec<(&'static str, usize)>,
    generation: u64,
}

impl Snapshot {
    /// The snapshot served before the first build: empty, not ready.
    pub fn empty() -> Snapshot {
        Snapshot {
            kinds: Vec::new(),
            text: Chunks::default(),
            text_gzip: None,
            openmetrics: OnceLock::new(),
            openmetrics_gzip: OnceLock::new(),
            gzip_enabled: false,
            views_deflated: false,
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

    /// The full body for `format`; gzip-compressed when `gzip` is asked for and enabled.
    ///
    /// The text body and its gzip form are assembled with the snapshot; the OpenMetrics forms
    /// by the first scrape that asks for them, once per snapshot. Either way no sample is
    /// rendered or compressed here: the chunks exist already.
    pub fn body(&self, format: Format, gzip: bool) -> Body {
        let gzip = gzip && self.gzip_enabled;
        let all = || self.assemble(format, gzip, &|_| true, &Namespaces::All);
        let chunks = match (format, gzip) {
            (Format::Text, false) => self.text.clone(),
            (Format::Text, true) => self.text_gzip.clone().unwrap_or_else(all),
            (Format::OpenMetrics, false) => self.openmetrics.get_or_init(all).clone(),
            (Format::OpenMetrics, true) => self.openmetrics_gzip.get_or_init(all).clone(),
        };
        Body { chunks, gzip }
    }

    /// The body restricted to the `include`d resources and to `namespaces`, assembled from the
    /// snapshot's pieces without rendering or compressing anything; the full body when nothing
    /// is restricted.
    ///
    /// A view restricted by namespace is sent uncompressed when its pieces were not deflated
    /// (gzip is the server's choice; `Content-Encoding` says which it made).
    pub fn view(
        &self,
        format: Format,
        gzip: bool,
        include: &dyn Fn(&str) -> bool,
        namespaces: &Namespaces,
    ) -> Body {
        let gzip =
            gzip && self.gzip_enabled && (*namespaces == Namespaces::All || self.views_deflated);
        Body {
            chunks: self.assemble(format, gzip, include, namespaces),
            gzip,
        }
    }

    fn assemble(
        &self,
        format: Format,
        gzip: bool,
        include: &dyn Fn(&str) -> bool,
        namespaces: &Namespaces,
    ) -> Chunks {
        let kinds = self.kinds.iter().filter(|k| {
            include(k.resource) && namespaces.select(&k.namespaces, |n| n).next().is_some()
        });
        let eof = (format == Format::OpenMetrics).then(eof);
        if gzip {
            let mut out = GzipStream::default();
            for kind in kinds {
                if *namespaces == Namespaces::All {
                    for run in kind.runs.get(format) {
                        out.push(run);
                    }
                    continue;
                }
                for family in &kind.families {
                    out.push(family.head.plain(format).1);
                    for segment in namespaces.select(&family.segments, |s| &s.namespace) {
                        for p in &segment.pieces {
                            out.push(&p.deflated);
                        }
                    }
                }
            }
            if let Some((_, deflated)) = eof {
                out.push(deflated);
            }
            Chunks::from_bytes(out.finish())
        } else {
            let mut out = Vec::new();
            for family in kinds.flat_map(|k| &k.families) {
                out.push(Chunk::Bytes(family.head.plain(format).0.clone()));
                for segment in namespaces.select(&family.segments, |s| &s.namespace) {
                    out.extend(
                        segment
                            .pieces
                            .iter()
                            .map(|p| Chunk::Samples(p.samples.clone())),
                    );
                }
            }
            if let Some((plain, _)) = eof {
                out.push(Chunk::Bytes(plain.clone()));
            }
            Chunks::new(out)
        }
    }
}

/// Where the current snapshot lives. Cheap to clone; loads never block.
///
/// It also remembers whether a ready snapshot (every watch listed) was ever published, and
/// since when it has been waiting for one: `/metrics` answers 503 until then rather than serve
/// an empty or partial body as if it were the cluster's state.
///
/// # Invariants
/// Once [`Published::was_ever_ready`] is true it stays true (a later not-ready snapshot, e.g.
/// while a new leader's kinds list, never turns it back).
#[derive(Clone, Debug)]
pub struct Published {
    current: Arc<ArcSwap<Snapshot>>,
    ever_ready: Arc<AtomicBool>,
    /// The last build panicked: the published snapshot is no longer kept up to date.
    build_failed: Arc<AtomicBool>,
    /// Woken at each publish, for [`Published::published_after`].
    publishes: Arc<tokio::sync::Notify>,
    created: tokio::time::Instant,
}

impl Default for Published {
    fn default() -> Self {
        Published {
            current: Arc::new(ArcSwap::from_pointee(Snapshot::empty())),
            ever_ready: Arc::new(AtomicBool::new(false)),
            build_failed: Arc::new(AtomicBool::new(false)),
            publishes: Arc::new(tokio::sync::Notify::new()),
            created: tokio::time::Instant::now(),
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
        if snapshot.is_ready() {
            self.ever_ready.store(true, Ordering::Release);
        }
        self.current.store(Arc::new(snapshot));
        self.build_failed.store(false, Ordering::Release);
        self.publishes.notify_waiters();
    }

    /// Completes once a snapshot of a generation above `generation` is published: from then
    /// on no scrape is answered from an older one. Generations only increase
    /// ([`run_builder`]), so this is how a caller knows that rows it removed are gone
    /// from what scrapes see.
    pub async fn published_after(&self, generation: u64) {
        loop {
            let notified = self.publishes.notified();
            tokio::pin!(notified);
            // Registered before the check, so a publish between the two is not missed.
            notified.as_mut().enable();
            if self.load().generation() > generation {
                return;
            }
            notified.await;
        }
    }

    /// Records that a build panicked: the published snapshot stays (scrapes keep an answer) but
    /// is no longer current, so [`Published::is_ready`] is false until a build publishes again.
    pub fn build_failed(&self) {
        self.build_failed.store(true, Ordering::Release);
    }

    /// What `/readyz` reports: the current snapshot is ready (every watch listed) and the
    /// builder keeps it up to date (its last build did not panic).
    pub fn is_ready(&self) -> bool {
        self.load().is_ready() && !self.build_failed.load(Ordering::Acquire)
    }

    /// Whether a ready snapshot was ever published through this handle (or its clones).
    pub fn was_ever_ready(&self) -> bool {
        self.ever_ready.load(Ordering::Acquire)
    }

    /// How long ago this handle was created (at start, before any watch).
    pub fn age(&self) -> std::time::Duration {
        self.created.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowing_a_view_never_widens_it() {
        let tenant = Namespaces::only(["b", "a", "a"]);
        assert_eq!(tenant, Namespaces::only(["a", "b"]));
        assert_eq!(tenant.narrow(["a", "z"]), Namespaces::only(["a"]));
        assert_eq!(tenant.narrow(["z"]), Namespaces::only(Vec::<&str>::new()));
        assert_eq!(Namespaces::All.narrow(["z"]), Namespaces::only(["z"]));
        assert_eq!(
            Namespaces::EveryNamespace.narrow(["x", ""]),
            Namespaces::only(["x"])
        );
    }

    #[test]
    fn only_namespaced_views_exclude_cluster_scoped_rows() {
        assert!(Namespaces::All.includes(""));
        assert!(!Namespaces::EveryNamespace.includes(""));
        assert!(Namespaces::EveryNamespace.includes("a"));
        assert!(!Namespaces::only(["a"]).includes(""));
        assert!(Namespaces::only(["a"]).includes("a"));
        assert!(!Namespaces::only(["a"]).includes("b"));
    }
}
