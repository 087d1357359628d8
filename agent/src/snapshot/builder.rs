//! The incremental snapshot builder: what it keeps of every watch's rows between builds, and
//! the task that rebuilds and publishes after changes. See [`Builder::build`] and
//! [`run_builder`].

use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    Chunk, FamilyHead, FamilyPart, KindPart, KindRuns, Namespaces, PartId, Piece, Published,
    Samples, Segment, Snapshot, bytes_id,
};
use crate::deflate::{self, Deflated, Effort};
use crate::exposition::Format;
use crate::registry::KindInfo;
use crate::resources::{FamilySelection, Rows};
use crate::store::{self, ChangeSignal, Dirty, Reader, Uid};

/// The full body's gzip form is compressed in runs of consecutive parts (headers and pieces)
/// of about this many plain bytes: with the text before it as a dictionary, a run this long
/// compresses within a few percent of one stream, and recompressing the runs a change touched
/// (and the run after each, whose dictionary changed) stays far below the rebuild budget.
const RUN_BYTES: usize = 32 * 1024;

/// Plain bytes compressed at [`Effort::Thorough`] per build, at most: runs new in this build
/// first, then runs compressed at [`Effort::Fast`] earlier that stayed the same since (about
/// 5 ms of CPU). Past it, new runs are compressed fast and polished by later builds, so a large
/// change never holds the snapshot back for long.
const THOROUGH_BYTES_PER_BUILD: usize = 512 * 1024;

/// A run compressed fast is recompressed thoroughly once it came through this many builds
/// unchanged: runs that change at every build are not worth the effort.
const POLISH_AFTER_BUILDS: u32 = 1;

/// Buckets are sized for about this many objects: small enough that re-rendering and
/// compressing one bucket after a change stays far below the rebuild budget, large enough that
/// a piece compresses well and a scrape sends few chunks.
const OBJECTS_PER_BUCKET: usize = 256;

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
///
/// The pieces read their text from `members` in place; a change goes through
/// `Arc::make_mut`, so the members a published snapshot reads from are never changed under it.
#[derive(Debug, Default)]
struct Bucket {
    members: Arc<Members>,
    /// `None` when a member changed since the pieces were rendered.
    pieces: Option<Vec<Piece>>,
}

/// A bucket's objects, ordered by UID so a bucket renders the same bytes for the same objects.
///
/// A vector sorted by UID rather than an ordered map: 32 bytes per object with no slack
/// (a `BTreeMap` node is two-thirds full on average, about 50 bytes per object), and a lookup
/// among a bucket's few hundred members is a binary search either way. The UID is the store's
/// shared `Arc<str>`, not a copy; keyed by the full UID, not a hash of it, so two objects can
/// never collide.
#[derive(Clone, Debug, Default)]
pub(super) struct Members(Vec<(Uid, Rows)>);

impl Members {
    /// `entries` with distinct UIDs, in any order.
    fn from_unsorted(mut entries: Vec<(Uid, Rows)>) -> Members {
        entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        entries.shrink_to_fit();
        Members(entries)
    }

    /// Sets `uid`'s rows; whether it is a new member.
    fn insert(&mut self, uid: Uid, rows: Rows) -> bool {
        match self
            .0
            .binary_search_by(|(u, _)| u.as_ref().cmp(uid.as_ref()))
        {
            Ok(i) => {
                self.0[i].1 = rows;
                false
            }
            Err(i) => {
                // Grown one at a time: the bucket is re-rendered whole after this anyway, and
                // a doubled vector would keep its slack for the life of the bucket.
                self.0.reserve_exact(1);
                self.0.insert(i, (uid, rows));
                true
            }
        }
    }

    /// Removes `uid`; whether it was a member.
    fn remove(&mut self, uid: &str) -> bool {
        match self.0.binary_search_by(|(u, _)| u.as_ref().cmp(uid)) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The members' rows in UID order.
    pub(super) fn rows(&self) -> impl Iterator<Item = &Rows> {
        self.0.iter().map(|(_, rows)| rows)
    }
}

/// One namespace's objects within one shard, over a power-of-two number of buckets.
#[derive(Debug)]
struct NamespaceCache {
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

impl NamespaceCache {
    fn with_members(members: Vec<(Uid, Rows)>) -> NamespaceCache {
        let n = buckets_for(members.len());
        let objects = members.len();
        let mut grouped: Vec<Vec<(Uid, Rows)>> = (0..n).map(|_| Vec::new()).collect();
        for (uid, rows) in members {
            grouped[bucket_of(&uid, n)].push((uid, rows));
        }
        NamespaceCache {
            buckets: grouped
                .into_iter()
                .map(|entries| Bucket {
                    members: Arc::new(Members::from_unsorted(entries)),
                    pieces: None,
                })
                .collect(),
            objects,
        }
    }

    /// Sets (or with `None` removes) one object's rows, marking its bucket for re-rendering.
    fn set(&mut self, uid: Uid, rows: Option<Rows>) {
        let n = self.buckets.len();
        let bucket = &mut self.buckets[bucket_of(&uid, n)];
        match rows {
            Some(rows) => {
                if Arc::make_mut(&mut bucket.members).insert(uid, rows) {
                    self.objects += 1;
                }
            }
            None => {
                if Arc::make_mut(&mut bucket.members).remove(&uid) {
                    self.objects -= 1;
                }
            }
        }
        bucket.pieces = None;
    }

    /// Keeps buckets near their size: regroups when the namespace grew or shrank a lot.
    fn regroup_if_needed(&mut self) {
        let n = self.buckets.len();
        if self.objects > n * OBJECTS_PER_BUCKET * 2
            || (n > 1 && self.objects < n * OBJECTS_PER_BUCKET / 4)
        {
            let all = self
                .buckets
                .iter_mut()
                .flat_map(|b| Arc::unwrap_or_clone(std::mem::take(&mut b.members)).0)
                .collect();
            *self = NamespaceCache::with_members(all);
        }
    }
}

/// What the builder keeps of one shard between builds.
#[derive(Debug, Default)]
struct ShardCache {
    /// By namespace (`""`: cluster-scoped objects); no entry is empty.
    namespaces: BTreeMap<Arc<str>, NamespaceCache>,
    objects: usize,
    built: bool,
}

impl ShardCache {
    /// Brings the members up to date with `reader`, marking the buckets that changed.
    fn refresh(&mut self, reader: &Reader) {
        let dirty = reader.take_dirty();
        // First build: whatever the mark says, everything is new to this cache.
        let dirty = if self.built { dirty } else { Dirty::All };
        self.built = true;
        match dirty {
            Dirty::All => self.redistribute(reader.rows_by_uid()),
            Dirty::Objects(marks) => {
                for (uid, marked) in marks {
                    let current = reader.get(&uid);
                    let namespace = marked.namespace();
                    match self.namespaces.get_mut(namespace) {
                        Some(cache) => cache.set(uid, current),
                        None => {
                            if let Some(rows) = current {
                                self.namespaces.insert(
                                    Arc::from(namespace),
                                    NamespaceCache::with_members(vec![(uid, rows)]),
                                );
                            }
                        }
                    }
                }
                self.namespaces.retain(|_, c| c.objects > 0);
                for cache in self.namespaces.values_mut() {
                    cache.regroup_if_needed();
                }
                self.objects = self.namespaces.values().map(|c| c.objects).sum();
            }
        }
    }

    fn redistribute(&mut self, all: Vec<(Uid, Rows)>) {
        self.objects = all.len();
        let mut by_namespace: BTreeMap<Arc<str>, Vec<(Uid, Rows)>> = BTreeMap::new();
        for (uid, rows) in all {
            match by_namespace.get_mut(rows.namespace()) {
                Some(members) => members.push((uid, rows)),
                None => {
                    by_namespace.insert(Arc::from(rows.namespace()), vec![(uid, rows)]);
                }
            }
        }
        self.namespaces = by_namespace
            .into_iter()
            .map(|(ns, members)| (ns, NamespaceCache::with_members(members)))
            .collect();
    }
}

/// What a run's compressed bytes depend on: the buffers of its own parts, and the buffers its
/// dictionary (the [`deflate::WINDOW`] bytes before it in its kind's body) is made of, with the
/// offset of the dictionary in the first. Buffers by address and length.
///
/// Two runs with the same identity have the same plain bytes after the same dictionary, so
/// they share one compression, across builds and across formats (a family header that is the
/// same in both formats is one buffer; see `FamilyHead::new`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct RunIdentity {
    parts: Vec<PartId>,
    window: Vec<PartId>,
    window_skip: usize,
}

/// A deflated run of the full body and the buffers it was made from.
///
/// # Invariants
/// `parts` and `window` hold the very buffers the run was compressed from and after: while
/// they are held, no other buffer can be allocated at their addresses, so a run with the same
/// [`RunIdentity`] in a later build has the same bytes and may reuse `deflated`.
struct CachedRun {
    identity: RunIdentity,
    parts: Vec<Chunk>,
    window: Vec<Chunk>,
    /// `None` until compressed, in the build that first needs it.
    deflated: Option<Deflated>,
    /// Builds this run came through unchanged.
    age: u32,
    /// Compressed at [`Effort::Thorough`].
    polished: bool,
}

/// What the builder keeps of one kind's runs between builds.
#[derive(Default)]
struct KindRunCache {
    /// The kind's parts (see [`kind_parts`]) in the text format when its runs were made: while
    /// they are the same, so are the runs of both formats.
    parts: Vec<PartId>,
    /// The runs made from them, both formats.
    runs: KindRuns,
    /// Every run in `cache` is compressed at [`Effort::Thorough`]: nothing left to do while the
    /// parts stay the same.
    settled: bool,
    cache: HashMap<RunIdentity, CachedRun>,
}

impl CachedRun {
    fn plain_len(&self) -> usize {
        self.parts.iter().map(Chunk::len).sum()
    }

    /// Compresses the run after its dictionary, both gathered into one buffer first (samples
    /// come object by object, and the compressor is faster on one long input).
    fn compress(&mut self, effort: Effort) {
        let mut plain = Vec::with_capacity(deflate::WINDOW + self.plain_len());
        let mut skip = self.identity.window_skip;
        for w in &self.window {
            w.write_from(skip, &mut plain);
            skip = 0;
        }
        let dictionary_len = plain.len();
        for p in &self.parts {
            p.write_from(0, &mut plain);
        }
        let (dictionary, parts) = plain.split_at(dictionary_len);
        self.deflated = Some(deflate::run(&[parts], dictionary, effort));
        self.polished = effort == Effort::Thorough;
    }
}

/// Keeps the pieces of every source between builds and makes snapshots from them.
pub struct Builder {
    sources: Arc<Vec<KindSource>>,
    gzip: bool,
    /// Whether every piece is deflated too, for namespace views served with gzip.
    namespace_views: bool,
    /// Per source: the enabled families' headers.
    heads: Vec<Vec<Arc<FamilyHead>>>,
    /// Per source, per shard.
    caches: Vec<Vec<ShardCache>>,
    /// Per source: the last build's runs of the kind, in both formats.
    runs: Vec<KindRunCache>,
    /// Plain bytes each build may compress at [`Effort::Thorough`] ([`THOROUGH_BYTES_PER_BUILD`]).
    thorough_budget: usize,
    /// Whether the last build left runs to polish (see [`Builder::wants_polish`]).
    polish_pending: bool,
    generation: u64,
}

impl Builder {
    /// A builder for `sources`; gzip pieces are made only when `gzip` is enabled.
    pub fn new(sources: Arc<Vec<KindSource>>, gzip: bool) -> Builder {
        let heads: Vec<Vec<Arc<FamilyHead>>> = sources
            .iter()
            .map(|s| {
                s.info
                    .family_headers()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| s.selection.is_enabled(*i))
                    .map(|(i, h)| Arc::new(FamilyHead::new(i, h)))
                    .collect()
            })
            .collect();
        let caches = sources
            .iter()
            .map(|s| s.shards.iter().map(|_| ShardCache::default()).collect())
            .collect();
        let runs = sources.iter().map(|_| KindRunCache::default()).collect();
        Builder {
            sources,
            gzip,
            namespace_views: false,
            heads,
            caches,
            runs,
            thorough_budget: THOROUGH_BYTES_PER_BUILD,
            polish_pending: false,
            generation: 0,
        }
    }

    /// Whether the last build left stable runs compressed at [`Effort::Fast`]: another build,
    /// even without a change, would make the gzip body smaller.
    pub fn wants_polish(&self) -> bool {
        self.polish_pending
    }

    /// Also deflates every piece, so that views of some namespaces (tenants under
    /// `--auth-filter`) are served gzip-compressed without compressing anything per scrape.
    /// Costs a second compression of what changed, and about one more gzip body of memory.
    pub fn deflate_namespace_views(mut self, on: bool) -> Builder {
        self.namespace_views = on;
        self
    }

    /// Brings every shard's pieces up to date and assembles a snapshot.
    ///
    /// Like kube-state-metrics' `MetricsWriter.WriteAll`, a kind with no object contributes
    /// nothing, not even headers; a kind with objects writes every enabled family's header,
    /// then that family's samples from every shard, namespace by namespace.
    pub fn build(&mut self) -> Snapshot {
        self.generation += 1;
        let mut kinds = Vec::new();
        let mut objects = 0;
        let mut objects_by_resource = Vec::with_capacity(self.sources.len());
        // Read before the rows: a shard seen listed has its list's rows in place already.
        let ready = store::all_listed(self.sources.iter().flat_map(|s| &s.shards));
        let deflate_pieces = self.gzip && self.namespace_views;
        // Per kind in the snapshot, the source it came from.
        let mut kind_sources = Vec::new();
        for (s, ((source, heads), caches)) in self
            .sources
            .iter()
            .zip(&self.heads)
            .zip(&mut self.caches)
            .enumerate()
        {
            let mut kind_objects = 0;
            for (reader, cache) in source.shards.iter().zip(caches.iter_mut()) {
                cache.refresh(reader);
                for ns in cache.namespaces.values_mut() {
                    for bucket in &mut ns.buckets {
                        if bucket.pieces.is_none() {
                            bucket.pieces = Some(pieces_of(&bucket.members, heads, deflate_pieces));
                        }
                    }
                }
                kind_objects += cache.objects;
            }
            objects_by_resource.push((source.info.resource(), kind_objects));
            if kind_objects == 0 {
                self.runs[s] = KindRunCache::default();
                continue;
            }
            objects += kind_objects;
            kinds.push(kind_part(source.info.resource(), heads, caches));
            kind_sources.push(s);
        }
        if self.gzip {
            let mut work: Vec<(&mut KindPart, KindRunCache)> = kinds
                .iter_mut()
                .zip(&kind_sources)
                .map(|(kind, &s)| (kind, std::mem::take(&mut self.runs[s])))
                .collect();
            self.polish_pending = deflate_runs(&mut work, self.thorough_budget);
            for ((_, cache), &s) in work.into_iter().zip(&kind_sources) {
                self.runs[s] = cache;
            }
        }
        let mut snapshot = Snapshot {
            kinds,
            text: super::Chunks::default(),
            text_gzip: None,
            openmetrics: OnceLock::new(),
            openmetrics_gzip: OnceLock::new(),
            gzip_enabled: self.gzip,
            views_deflated: deflate_pieces,
            ready,
            objects,
            objects_by_resource,
            generation: self.generation,
        };
        snapshot.text = snapshot.assemble(Format::Text, false, &|_| true, &Namespaces::All);
        if self.gzip {
            snapshot.text_gzip =
                Some(snapshot.assemble(Format::Text, true, &|_| true, &Namespaces::All));
        }
        snapshot
    }
}

/// One kind's families, each with its pieces gathered from every shard, namespace by
/// namespace.
fn kind_part(resource: &'static str, heads: &[Arc<FamilyHead>], caches: &[ShardCache]) -> KindPart {
    // Every namespace of every shard, with the shards' caches of it.
    let mut by_namespace: BTreeMap<&Arc<str>, Vec<&NamespaceCache>> = BTreeMap::new();
    for cache in caches {
        for (ns, c) in &cache.namespaces {
            by_namespace.entry(ns).or_default().push(c);
        }
    }
    let families = heads
        .iter()
        .enumerate()
        .map(|(f, head)| FamilyPart {
            head: head.clone(),
            segments: by_namespace
                .iter()
                .filter_map(|(ns, caches)| {
                    let pieces: Vec<Piece> = caches
                        .iter()
                        .flat_map(|c| &c.buckets)
                        .filter_map(|b| b.pieces.as_ref().map(|p| &p[f]))
                        .filter(|p| p.samples.len > 0)
                        .cloned()
                        .collect();
                    (!pieces.is_empty()).then(|| Segment {
                        namespace: Arc::clone(ns),
                        pieces,
                    })
                })
                .collect(),
        })
        .collect();
    KindPart {
        resource,
        namespaces: by_namespace.keys().map(|ns| Arc::clone(ns)).collect(),
        families,
        runs: KindRuns::default(),
    }
}

/// Groups each kind's body into runs and gives every kind its gzip form in both formats,
/// reusing the compression of every run whose [`RunIdentity`] is in `cache` (left holding this
/// build's runs). Returns whether runs compressed fast remain to polish.
///
/// A run's dictionary is the [`deflate::WINDOW`] bytes of the kind's body before it, so a run is
/// compressed again when its own parts changed or when the text just before it did: a change
/// costs its runs and, where it lies within a window of the run's end, the next run. Runs never
/// refer into another kind, so a view of whole kinds (`?resources=`) joins the same runs.
///
/// New runs are compressed at [`Effort::Thorough`] while `thorough_budget` lasts,
/// then at [`Effort::Fast`]; what budget remains polishes fast runs that came through
/// [`POLISH_AFTER_BUILDS`] builds unchanged, so the body stays near `gzip -6`'s size through
/// changes, and a large change (a first build, a relist) gets there over a few builds.
fn deflate_runs(kinds: &mut [(&mut KindPart, KindRunCache)], thorough_budget: usize) -> bool {
    // Every kind's runs in one list, so the budget goes to new runs of every kind first; per
    // kind, the range of its runs there, and its slots (indices into that list) per format.
    let mut runs: Vec<CachedRun> = Vec::new();
    let mut reused = Vec::new();
    let mut plans: Vec<Option<KindPlan>> = Vec::with_capacity(kinds.len());
    for (kind, kept) in kinds.iter_mut() {
        let parts: Vec<PartId> = kind_parts(kind, Format::Text)
            .iter()
            .map(PartRef::id)
            .collect();
        if kept.settled && kept.parts == parts {
            // Nothing changed in the kind and nothing is left to polish: the same runs.
            plans.push(None);
            continue;
        }
        kept.parts = parts;
        let mut previous = std::mem::take(&mut kept.cache);
        let mut index: HashMap<RunIdentity, usize> = HashMap::new();
        let first = runs.len();
        let starts = run_starts(kind);
        let mut slots_of = |format: Format, runs: &mut Vec<CachedRun>, reused: &mut Vec<usize>| {
            let parts = kind_parts(kind, format);
            let mut out = Vec::with_capacity(starts.len());
            for (i, &start) in starts.iter().enumerate() {
                let end = starts.get(i + 1).copied().unwrap_or(parts.len());
                let (identity, window) = run_identity(&parts, start..end);
                if let Some(&slot) = index.get(&identity) {
                    out.push(slot);
                    continue;
                }
                let run = match previous.remove(&identity) {
                    Some(mut run) => {
                        run.age = run.age.saturating_add(1);
                        reused.push(runs.len());
                        run
                    }
                    None => CachedRun {
                        identity: identity.clone(),
                        parts: parts[start..end].iter().map(|p| p.to_chunk()).collect(),
                        window: window.iter().map(|p| p.to_chunk()).collect(),
                        deflated: None,
                        age: 0,
                        polished: false,
                    },
                };
                index.insert(identity, runs.len());
                out.push(runs.len());
                runs.push(run);
            }
            out
        };
        let text = slots_of(Format::Text, &mut runs, &mut reused);
        let openmetrics = slots_of(Format::OpenMetrics, &mut runs, &mut reused);
        plans.push(Some(KindPlan {
            runs: first..runs.len(),
            slots: [text, openmetrics],
        }));
    }

    let mut budget = thorough_budget;
    let mut pending = false;
    for run in runs.iter_mut().filter(|r| r.deflated.is_none()) {
        if budget > 0 {
            budget = budget.saturating_sub(run.plain_len());
            run.compress(Effort::Thorough);
        } else {
            run.compress(Effort::Fast);
            pending = true;
        }
    }
    for &i in &reused {
        let run = &mut runs[i];
        if run.polished {
            continue;
        }
        if budget > 0 && run.age >= POLISH_AFTER_BUILDS {
            budget = budget.saturating_sub(run.plain_len());
            run.compress(Effort::Thorough);
        } else {
            pending = true;
        }
    }

    let deflated = |runs: &[CachedRun], slots: &[usize]| -> Vec<Deflated> {
        slots
            .iter()
            .map(|&i| {
                runs[i]
                    .deflated
                    .clone()
                    .expect("every run compressed above")
            })
            .collect()
    };
    let mut runs = runs.into_iter();
    for ((kind, kept), plan) in kinds.iter_mut().zip(plans) {
        let Some(plan) = plan else {
            kind.runs = kept.runs.clone();
            continue;
        };
        let [text, openmetrics] = &plan.slots;
        let first = plan.runs.start;
        let own: Vec<CachedRun> = runs.by_ref().take(plan.runs.len()).collect();
        let local = |slots: &[usize]| slots.iter().map(|i| i - first).collect::<Vec<_>>();
        kept.runs = KindRuns {
            text: deflated(&own, &local(text)).into(),
            openmetrics: deflated(&own, &local(openmetrics)).into(),
        };
        kept.settled = own.iter().all(|r| r.polished);
        kept.cache = own.into_iter().map(|r| (r.identity.clone(), r)).collect();
        kind.runs = kept.runs.clone();
    }
    pending
}

/// One kind's share of a build's runs: where they are in the build's list, and which of them
/// make up each format's body.
struct KindPlan {
    runs: std::ops::Range<usize>,
    slots: [Vec<usize>; 2],
}

/// A part of a kind's body, borrowed from the snapshot being built.
#[derive(Clone, Copy)]
enum PartRef<'a> {
    Head(&'a Bytes),
    Samples(&'a Samples),
}

impl PartRef<'_> {
    fn len(&self) -> usize {
        match self {
            PartRef::Head(b) => b.len(),
            PartRef::Samples(s) => s.len,
        }
    }

    fn id(&self) -> PartId {
        match self {
            PartRef::Head(b) => bytes_id(b),
            PartRef::Samples(s) => s.id(),
        }
    }

    fn to_chunk(self) -> Chunk {
        match self {
            PartRef::Head(b) => Chunk::Bytes(b.clone()),
            PartRef::Samples(s) => Chunk::Samples(s.clone()),
        }
    }
}

/// A kind's body in `format` as consecutive parts: each family's header, then its pieces.
fn kind_parts(kind: &KindPart, format: Format) -> Vec<PartRef<'_>> {
    let mut parts = Vec::new();
    for family in &kind.families {
        parts.push(PartRef::Head(family.head.plain(format).0));
        for segment in &family.segments {
            parts.extend(segment.pieces.iter().map(|p| PartRef::Samples(&p.samples)));
        }
    }
    parts
}

/// Where the kind's runs begin, as indices into [`kind_parts`] (the same in both formats).
///
/// Boundaries must stay put when a piece changes, or one change would recompress every run
/// after it. So a run ends before a family header or a namespace's pieces whose hash (of the
/// family and namespace) is a multiple of `m` (`m` chosen from the kind's average segment
/// size, a power of two so it rarely moves), or once it holds [`RUN_BYTES`] of samples.
/// Headers do not count toward the size: their lengths differ between formats, and the
/// boundaries must not.
fn run_starts(kind: &KindPart) -> Vec<usize> {
    let (bytes, segments) =
        kind.families
            .iter()
            .flat_map(|f| &f.segments)
            .fold((0, 0), |(bytes, count), s| {
                let len: usize = s.pieces.iter().map(|p| p.samples.len).sum();
                (bytes + len, count + 1)
            });
    let per_segment = (bytes / segments.max(1)).max(1);
    let m = (RUN_BYTES / per_segment)
        .clamp(1, 1 << 12)
        .next_power_of_two() as u64;
    let mut starts = vec![0];
    let mut part = 0;
    let mut current = 0;
    for family in &kind.families {
        let family_index = family.head.index;
        if current > 0 && anchor_hash(family_index, None) & (m - 1) == 0 {
            starts.push(part);
            current = 0;
        }
        part += 1;
        for (i, segment) in family.segments.iter().enumerate() {
            if i > 0
                && current > 0
                && anchor_hash(family_index, Some(&segment.namespace)) & (m - 1) == 0
            {
                starts.push(part);
                current = 0;
            }
            for piece in &segment.pieces {
                part += 1;
                current += piece.samples.len;
                if current >= RUN_BYTES {
                    starts.push(part);
                    current = 0;
                }
            }
        }
    }
    // A boundary after the last part starts no run.
    if starts.len() > 1 && starts.last() == Some(&part) {
        starts.pop();
    }
    starts
}

/// The identity of the run of `parts[range]`, and the parts of its dictionary.
fn run_identity<'a>(
    parts: &[PartRef<'a>],
    range: std::ops::Range<usize>,
) -> (RunIdentity, Vec<PartRef<'a>>) {
    let mut window = Vec::new();
    let mut need = deflate::WINDOW;
    let mut skip = 0;
    for p in parts[..range.start].iter().rev() {
        if need == 0 {
            break;
        }
        if p.len() == 0 {
            continue;
        }
        let take = p.len().min(need);
        skip = p.len() - take;
        need -= take;
        window.push(*p);
    }
    window.reverse();
    let identity = RunIdentity {
        parts: parts[range].iter().map(PartRef::id).collect(),
        window: window.iter().map(PartRef::id).collect(),
        window_skip: skip,
    };
    (identity, window)
}

fn anchor_hash(family: usize, namespace: Option<&str>) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    family.hash(&mut h);
    namespace.hash(&mut h);
    h.finish()
}

/// One bucket's pieces, family by family: the length of each family's samples, read in place
/// from the members; deflated alone only for namespace views served compressed (the full gzip
/// body is deflated in runs, never from these), since otherwise the copy is never read and
/// would cost about one more gzip body of memory.
fn pieces_of(members: &Arc<Members>, heads: &[Arc<FamilyHead>], deflate_each: bool) -> Vec<Piece> {
    heads
        .iter()
        .map(|head| {
            let samples = Samples {
                members: Arc::clone(members),
                family: head.index,
                len: members.rows().map(|r| r.family(head.index).len()).sum(),
            };
            let deflated = if deflate_each {
                let mut text = Vec::with_capacity(samples.len);
                samples.write_from(0, &mut text);
                deflate::piece(&text)
            } else {
                Deflated::default()
            };
            Piece { samples, deflated }
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

/// What the builder reports about each build.
pub trait BuildObserver: Send + Sync + 'static {
    /// Called after each publish.
    fn built(&self, snapshot: &Snapshot, took: Duration, text_bytes: usize);
}

/// What the builder compresses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Compression {
    /// Build gzip bodies (`--enable-gzip-encoding`).
    pub gzip: bool,
    /// Deflate every piece too, for namespace views (see [`Builder::deflate_namespace_views`]).
    pub namespace_views: bool,
}

/// Rebuilds and publishes a snapshot after every change, at most once per `interval`.
///
/// A burst of changes within one interval costs one build: the [`ChangeSignal`] keeps one
/// wake-up, and the build after it takes every change made meanwhile. Runs until the task is
/// aborted. The rebuild runs on the blocking pool so a large one never delays event processing
/// or scrapes on the async workers.
///
/// # Recovery
/// A build that panics publishes nothing (the previous snapshot stays) and loses the pieces
/// kept between builds; the next change starts from the stores again, a full rebuild. Each
/// builder, a fresh one after a panic or the next configuration's, goes on from the published
/// generation, so generations only increase.
pub async fn run_builder(
    sources: Arc<Vec<KindSource>>,
    published: Published,
    signal: ChangeSignal,
    interval: Duration,
    compression: Compression,
    observer: Arc<dyn BuildObserver>,
) {
    let fresh = || {
        let mut b = Builder::new(sources.clone(), compression.gzip)
            .deflate_namespace_views(compression.namespace_views);
        b.generation = published.load().generation();
        b
    };
    let mut builder = Some(fresh());
    let mut last_build: Option<tokio::time::Instant> = None;
    let mut polish = false;
    loop {
        if polish {
            // Stable runs are left to recompress: build again after the interval even if
            // nothing changes (a change arriving meanwhile is taken by the same build).
            tokio::select! {
                () = signal.changed() => {}
                () = tokio::time::sleep(interval) => {}
            }
        } else {
            signal.changed().await;
        }
        if let Some(last) = last_build {
            tokio::time::sleep_until(last + interval).await;
        }
        // This build takes every change made so far, those whose wake-up is still pending too.
        signal.forget_pending();
        let started = Instant::now();
        let mut b = builder.take().unwrap_or_else(fresh);
        let (b, snapshot) = match tokio::task::spawn_blocking(move || {
            let s = b.build();
            (b, s)
        })
        .await
        {
            Ok(done) => done,
            // The runtime is shutting down: nothing to report.
            Err(e) if e.is_cancelled() => return,
            Err(e) => {
                // The builder's state went with the panic: the next build starts afresh.
                tracing::error!(error = %e,
                    "snapshot build panicked; serving the previous snapshot, not ready until a build succeeds");
                published.build_failed();
                continue;
            }
        };
        polish = b.wants_polish();
        builder = Some(b);
        let took = started.elapsed();
        let text_bytes = snapshot.text_len();
        observer.built(&snapshot, took, text_bytes);
        published.publish(snapshot);
        last_build = Some(tokio::time::Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Identity, MetricType, RenderContext, Series};
    use crate::resources::{ApiType, Family, Kind, Scope, WatchShape};
    use crate::snapshot::Body;
    use crate::store::{Change, shard};

    #[derive(serde::Deserialize, Clone, Debug)]
    struct Thing {
        #[serde(deserialize_with = "crate::decode::lean_meta")]
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
        value: f64,
    }
    crate::impl_object!(Thing => THINGS);

    fn value(t: &Thing, out: &mut Series<'_>) {
        out.value(t.value);
    }
    fn doubled(t: &Thing, out: &mut Series<'_>) {
        out.sample([("x", "2")], t.value * 2.0);
    }
    static THINGS: Kind<Thing> = Kind {
        resource: "things",
        api: ApiType::new("example.com", "v1", "Thing", "things"),
        scope: Scope::Namespaced,
        shapes: &[WatchShape::FULL],
        protobuf: None,
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
            w.start_listing();
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
        assert!(text(&snap.view(Format::Text, false, &|_| false, &Namespaces::All)).is_empty());
        assert_eq!(
            snap.view(Format::Text, false, &|r| r == "things", &Namespaces::All)
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
        w.start_listing();
        assert!(!build(&[src], false).is_ready(), "active, still listing");
    }

    fn thing_rows(name: &str, v: f64) -> crate::resources::Rows {
        let sel = FamilySelection::new(&THINGS.headers(), |_| true);
        // `ns-name` lives in namespace `ns`; a name without `-` is cluster-scoped.
        let namespace = name.split_once('-').map(|(ns, _)| ns.to_string());
        let thing = Thing {
            metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                name: Some(name.to_string()),
                namespace,
                ..Default::default()
            },
            value: v,
        };
        THINGS.render(&thing, &RenderContext::default(), &sel)
    }

    /// A one-shard source of the named things (see [`thing_rows`] for their namespaces).
    fn named_source(names: &[&str]) -> (crate::store::Writer, KindSource) {
        signalled_source(names, ChangeSignal::default())
    }

    /// [`named_source`] whose shard wakes `signal` on every change.
    fn signalled_source(
        names: &[&str],
        signal: ChangeSignal,
    ) -> (crate::store::Writer, KindSource) {
        let (mut w, r) = shard("things", signal);
        w.start_listing();
        w.apply(Change::Init);
        for (i, name) in names.iter().enumerate() {
            w.apply(Change::InitApply(
                name.to_string(),
                thing_rows(name, i as f64),
            ));
        }
        w.apply(Change::InitDone);
        let src = KindSource {
            info: &THINGS,
            selection: FamilySelection::new(&THINGS.headers(), |_| true),
            shards: vec![r],
        };
        (w, src)
    }

    /// The namespaces holding objects of the snapshot's (one) kind.
    fn namespaces(s: &Snapshot) -> Vec<Arc<str>> {
        s.kinds.iter().flat_map(|k| k.namespaces.clone()).collect()
    }

    fn gunzip(b: &Body) -> Vec<u8> {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&b.chunks.to_vec()[..])
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    /// The full body with every sample whose object `keep` rejects removed (headers stay).
    fn without_samples(full: &str, keep: impl Fn(&str) -> bool) -> String {
        full.lines()
            .filter(|l| {
                l.starts_with('#')
                    || l.split_once("thing=\"")
                        .and_then(|(_, rest)| rest.split_once('"'))
                        .is_some_and(|(name, _)| keep(name))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn a_namespace_view_is_the_full_body_without_other_namespaces_samples_in_every_form() {
        let names: Vec<String> = (0..400)
            .map(|i| match i % 4 {
                0 => format!("a-{i}"),
                1 => format!("b-{i}"),
                2 => format!("c-{i}"),
                _ => format!("cluster{i}"),
            })
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (_w, src) = named_source(&names);
        let snap = Builder::new(Arc::new(vec![src]), true)
            .deflate_namespace_views(true)
            .build();
        let in_ns = |ns: &'static str| move |name: &str| name.starts_with(&format!("{ns}-"));
        for format in [Format::Text, Format::OpenMetrics] {
            let full = text(&snap.body(format, false));
            for (view, keep) in [
                (
                    Namespaces::only(["c", "a"]),
                    Box::new(move |n: &str| in_ns("a")(n) || in_ns("c")(n))
                        as Box<dyn Fn(&str) -> bool>,
                ),
                (Namespaces::only(["b"]), Box::new(in_ns("b"))),
                (
                    Namespaces::EveryNamespace,
                    Box::new(|n: &str| n.contains('-')),
                ),
                (Namespaces::All, Box::new(|_: &str| true)),
            ] {
                let expected = without_samples(&full, keep);
                assert!(expected.matches("thing_value{").count() >= 100, "{view:?}");
                let plain = snap.view(format, false, &|_| true, &view);
                assert_eq!(text(&plain), expected, "{format:?} {view:?}");
                let zipped = snap.view(format, true, &|_| true, &view);
                assert!(zipped.gzip);
                assert_eq!(String::from_utf8(gunzip(&zipped)).unwrap(), expected);
            }
        }
    }

    #[test]
    fn namespace_views_are_sent_plain_unless_their_pieces_were_deflated() {
        let (_w, src) = named_source(&["a-1", "b-1"]);
        let snap = build(&[src], true);
        let a = Namespaces::only(["a"]);
        let view = snap.view(Format::Text, true, &|_| true, &a);
        assert!(!view.gzip, "no deflated pieces to join");
        assert!(text(&view).contains("thing=\"a-1\""));
        assert!(
            snap.view(Format::Text, true, &|r| r == "things", &Namespaces::All)
                .gzip,
            "a view of whole kinds joins the full body's runs"
        );
    }

    /// The compressed runs of the snapshot's first kind, text format.
    fn runs(s: &Snapshot) -> Vec<Bytes> {
        s.kinds[0]
            .runs
            .text
            .iter()
            .map(|r| r.bytes.clone())
            .collect()
    }

    fn gzip6(plain: &[u8]) -> usize {
        use std::io::Write as _;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(plain).unwrap();
        e.finish().unwrap().len()
    }

    #[test]
    fn pieces_keep_a_deflated_copy_only_when_namespace_views_read_it() {
        let (_w, src) = named_source(&["a-1", "a-2", "b-1"]);
        let deflated_pieces = |views: bool| -> (usize, usize) {
            let snap = Builder::new(Arc::new(vec![src.clone()]), true)
                .deflate_namespace_views(views)
                .build();
            let pieces: Vec<&Piece> = snap
                .kinds
                .iter()
                .flat_map(|k| &k.families)
                .flat_map(|f| &f.segments)
                .flat_map(|s| &s.pieces)
                .collect();
            let deflated = pieces.iter().filter(|p| !p.deflated.bytes.is_empty());
            (pieces.len(), deflated.count())
        };
        let (pieces, deflated) = deflated_pieces(false);
        assert!(pieces > 0);
        assert_eq!(deflated, 0, "the full gzip body is made from runs");
        assert_eq!(
            deflated_pieces(true),
            (pieces, pieces),
            "every piece of a namespace view"
        );
    }

    #[test]
    fn the_full_body_is_compressed_in_runs_that_survive_unrelated_changes() {
        let names: Vec<String> = (0..3000).map(|i| format!("ns{}-{i}", i % 60)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (mut w, src) = named_source(&names);
        let mut builder = Builder::new(Arc::new(vec![src.clone()]), true);
        let first = builder.build();
        let before = runs(&first);
        let pieces = first.kinds[0]
            .families
            .iter()
            .flat_map(|f| &f.segments)
            .map(|s| s.pieces.len())
            .sum::<usize>();
        assert!(
            before.len() * 4 <= pieces,
            "runs join many small pieces: {} runs for {pieces} pieces",
            before.len()
        );
        w.apply(Change::Apply("ns7-7".into(), thing_rows("ns7-7", 99.0)));
        let second = builder.build();
        let after = runs(&second);
        let reused = after
            .iter()
            .filter(|r| before.iter().any(|b| b.as_ptr() == r.as_ptr()))
            .count();
        // Per family: the changed run, and the next one, whose dictionary changed.
        assert!(
            reused + 2 * 2 >= after.len() && reused > 0,
            "{reused} of {} runs reused",
            after.len()
        );
        // Both formats share the runs before the first header they differ in (`thing_info`'s
        // type), and only those.
        let kind = &second.kinds[0];
        let shared = (kind.runs.text.iter().zip(kind.runs.openmetrics.iter()))
            .take_while(|(t, o)| t.bytes.as_ptr() == o.bytes.as_ptr())
            .count();
        assert!(
            shared > 0 && shared < kind.runs.text.len(),
            "{shared} shared"
        );
        let full = Builder::new(Arc::new(vec![src]), true).build();
        for format in [Format::Text, Format::OpenMetrics] {
            assert_eq!(
                gunzip(&second.body(format, true)),
                full.body(format, false).chunks.to_vec()
            );
            assert_eq!(
                gunzip(&second.body(format, true)),
                second.body(format, false).chunks.to_vec()
            );
        }
    }

    #[test]
    fn runs_with_dictionaries_stay_near_gzip_6_through_changes_and_polish_what_overflows() {
        let names: Vec<String> = (0..4000).map(|i| format!("ns{}-{i}", i % 40)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (mut w, src) = named_source(&names);
        let mut builder = Builder::new(Arc::new(vec![src]), true);
        // A small budget, so that the first build overflows it as a large one would.
        builder.thorough_budget = 32 * 1024;
        let first = builder.build();
        let plain = first.body(Format::Text, false).chunks.to_vec();
        let fast = first.body(Format::Text, true).chunks.len();
        assert!(
            builder.wants_polish(),
            "past the budget, runs are compressed fast"
        );
        let mut builds = 1;
        let mut last = first;
        while builder.wants_polish() {
            last = builder.build();
            builds += 1;
            assert!(
                builds <= plain.len().div_ceil(32 * 1024) + 2,
                "polishing takes one budget per build"
            );
        }
        let polished = last.body(Format::Text, true);
        assert_eq!(gunzip(&polished), plain, "same text, smaller body");
        let reference = gzip6(&plain);
        assert!(
            polished.chunks.len() * 100 <= reference * 110,
            "{} bytes polished, gzip -6 {reference}, {fast} fast",
            polished.chunks.len()
        );
        // A change within the budget (its runs and the next ones, in both families) is
        // compressed thoroughly at once: nothing left to polish, and the body stays as close
        // to gzip -6.
        builder.thorough_budget = 8 * RUN_BYTES;
        w.apply(Change::Apply("ns3-3".into(), thing_rows("ns3-3", 1.5)));
        let changed = builder.build();
        assert!(!builder.wants_polish());
        let body = changed.body(Format::Text, true);
        let text = gunzip(&body);
        assert!(
            String::from_utf8_lossy(&text).contains("thing_value{thing=\"ns3-3\"} 1.5\n"),
            "the change is in the body"
        );
        assert_eq!(text, changed.body(Format::Text, false).chunks.to_vec());
        assert!(body.chunks.len() * 100 <= gzip6(&text) * 110);
    }

    #[test]
    fn every_incremental_gzip_body_inflates_to_its_plain_body_through_random_changes() {
        let names: Vec<String> = (0..1500).map(|i| format!("ns{:02}-{i}", i % 30)).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let (mut w, src) = named_source(&names);
        let mut builder =
            Builder::new(Arc::new(vec![src.clone()]), true).deflate_namespace_views(true);
        // Small, so that builds mix thorough, fast and polished runs.
        builder.thorough_budget = 16 * 1024;
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for round in 0..25 {
            for _ in 0..1 + next(4) {
                // The first and last namespaces (the body's edges), or any, or cluster-scoped.
                let ns = match next(4) {
                    0 => 0,
                    1 => 29,
                    _ => next(30),
                };
                let name = match next(5) {
                    0 => format!("edge{}", next(40)),
                    _ => format!("ns{ns:02}-{}", next(3000)),
                };
                if next(3) == 0 {
                    w.apply(Change::Delete(name));
                } else {
                    let rows = thing_rows(&name, next(1_000_000) as f64 * 1e6);
                    w.apply(Change::Apply(name, rows));
                }
            }
            let snap = builder.build();
            for format in [Format::Text, Format::OpenMetrics] {
                let plain = snap.body(format, false).chunks.to_vec();
                assert!(!plain.is_empty());
                assert_eq!(
                    gunzip(&snap.body(format, true)),
                    plain,
                    "{round} {format:?}"
                );
                let view = Namespaces::only(["ns00", "ns29"]);
                assert_eq!(
                    gunzip(&snap.view(format, true, &|_| true, &view)),
                    snap.view(format, false, &|_| true, &view).chunks.to_vec(),
                    "{round} {format:?} view"
                );
            }
        }
        let full = Builder::new(Arc::new(vec![src]), true).build();
        assert_eq!(
            builder.build().body(Format::Text, false).chunks.to_vec(),
            full.body(Format::Text, false).chunks.to_vec()
        );
    }

    #[test]
    fn a_view_holding_no_object_of_a_kind_writes_none_of_its_headers() {
        let (_w, src) = named_source(&["a-1", "node1"]);
        let snap = build(&[src], true);
        for view in [
            Namespaces::only(["b"]),
            Namespaces::only(Vec::<&str>::new()),
        ] {
            let body = snap.view(Format::OpenMetrics, false, &|_| true, &view);
            assert_eq!(text(&body), "# EOF\n", "{view:?}");
        }
        let every = text(&snap.view(Format::Text, false, &|_| true, &Namespaces::EveryNamespace));
        assert!(every.contains("thing=\"a-1\""));
        assert!(
            !every.contains("node1"),
            "cluster-scoped rows are in full views only"
        );
        let (_w, cluster_only) = named_source(&["node1"]);
        let snap = build(&[cluster_only], false);
        assert!(
            snap.view(Format::Text, false, &|_| true, &Namespaces::EveryNamespace)
                .chunks
                .is_empty()
        );
    }

    #[test]
    fn namespaces_come_and_go_with_their_objects_across_incremental_rebuilds() {
        let (mut w, src) = named_source(&["a-1", "b-1"]);
        let mut builder =
            Builder::new(Arc::new(vec![src.clone()]), true).deflate_namespace_views(true);
        let first = builder.build();
        assert_eq!(namespaces(&first), [Arc::from("a"), Arc::from("b")]);
        w.apply(Change::Delete("b-1".into()));
        w.apply(Change::Apply("c-1".into(), thing_rows("c-1", 5.0)));
        w.apply(Change::Apply("a-2".into(), thing_rows("a-2", 6.0)));
        let second = builder.build();
        assert_eq!(namespaces(&second), [Arc::from("a"), Arc::from("c")]);
        assert!(!builder.caches[0][0].namespaces.contains_key("b"));
        let a = text(&second.view(Format::Text, false, &|_| true, &Namespaces::only(["a"])));
        assert_eq!(a.matches("thing_value{").count(), 2, "{a}");
        assert!(
            text(&second.view(Format::Text, false, &|_| true, &Namespaces::only(["b"]))).is_empty()
        );
        let full = Builder::new(Arc::new(vec![src]), true).build();
        for gzip in [false, true] {
            assert_eq!(
                second.body(Format::Text, gzip).chunks.to_vec(),
                full.body(Format::Text, gzip).chunks.to_vec()
            );
        }
    }

    /// A one-shard source of `n` cluster-scoped things, with the writer to change it
    /// afterwards.
    fn live_source(n: usize) -> (crate::store::Writer, KindSource) {
        let names: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
        named_source(&names.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn sorted_lines(b: &Body) -> Vec<String> {
        let mut v: Vec<String> = text(b).lines().map(str::to_string).collect();
        v.sort();
        v
    }

    fn pieces(s: &Snapshot) -> Vec<PartId> {
        s.kinds
            .iter()
            .flat_map(|k| &k.families)
            .flat_map(|f| &f.segments)
            .flat_map(|s| s.pieces.iter().map(|p| p.samples.id()))
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

        // Only the touched buckets changed: most pieces read the very same members.
        let after = pieces(&second);
        let shared = after.iter().filter(|p| before.contains(p)).count();
        assert!(
            shared >= after.len() - 3 * 2,
            "{shared} of {} pieces reused",
            after.len()
        );
    }

    #[test]
    fn a_published_snapshot_keeps_its_bytes_while_the_rows_it_reads_change() {
        let (mut w, src) = live_source(3000);
        let mut builder = Builder::new(Arc::new(vec![src]), true);
        let first = builder.build();
        let plain = first.body(Format::Text, false).chunks.to_vec();
        let gzip = first.body(Format::Text, true).chunks.to_vec();

        for i in (0..3000).step_by(7) {
            let name = format!("t{i}");
            w.apply(Change::Apply(name.clone(), thing_rows(&name, -1.0)));
        }
        w.apply(Change::Delete("t1".into()));
        let second = builder.build();
        assert_ne!(second.body(Format::Text, false).chunks.to_vec(), plain);

        assert_eq!(first.body(Format::Text, false).chunks.to_vec(), plain);
        assert_eq!(first.body(Format::Text, true).chunks.to_vec(), gzip);
        assert!(String::from_utf8(plain).unwrap().contains("{thing=\"t1\"}"));
    }

    #[test]
    fn a_plain_body_goes_out_in_frames_of_gathered_samples_with_an_exact_length() {
        use http_body_util::BodyExt;

        let (_w, src) = live_source(3000);
        let snapshot = Builder::new(Arc::new(vec![src]), false).build();
        let chunks = snapshot.body(Format::Text, false).chunks;
        let expected = chunks.to_vec();
        let body = chunks.into_http_body();
        assert_eq!(
            http_body::Body::size_hint(&body).exact(),
            Some(expected.len() as u64)
        );
        let frames: Vec<Bytes> = futures::executor::block_on(async {
            let mut body = body;
            let mut frames = Vec::new();
            while let Some(frame) = body.frame().await {
                frames.push(frame.unwrap().into_data().unwrap());
            }
            frames
        });
        assert_eq!(frames.concat(), expected);
        // Samples are gathered: far fewer frames than pieces, none much past the gather size.
        let pieces = pieces(&snapshot).len();
        assert!(
            frames.len() * 4 < pieces,
            "{} frames for {pieces} pieces",
            frames.len()
        );
        assert!(
            frames
                .iter()
                .all(|f| f.len() <= 2 * super::super::body::GATHER_BYTES)
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
        assert!(builder.caches[0][0].namespaces[""].buckets.len() >= 4);
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
        assert_eq!(builder.caches[0][0].namespaces[""].buckets.len(), 1);
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

    /// Reports each published snapshot's generation and object count.
    struct Builds(tokio::sync::mpsc::UnboundedSender<(u64, usize)>);

    impl BuildObserver for Builds {
        fn built(&self, snapshot: &Snapshot, _: Duration, _: usize) {
            let _ = self.0.send((snapshot.generation(), snapshot.objects()));
        }
    }

    const INTERVAL: Duration = Duration::from_millis(100);

    /// Starts [`run_builder`] over `sources`, publishing into `published`, and returns the
    /// stream of its builds.
    fn start_builder(
        sources: Vec<KindSource>,
        published: &Published,
        signal: &ChangeSignal,
    ) -> (
        tokio::task::JoinHandle<()>,
        tokio::sync::mpsc::UnboundedReceiver<(u64, usize)>,
    ) {
        let (tx, builds) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(run_builder(
            Arc::new(sources),
            published.clone(),
            signal.clone(),
            INTERVAL,
            Compression::default(),
            Arc::new(Builds(tx)),
        ));
        (task, builds)
    }

    /// The next build, within a minute of tokio's clock.
    async fn next_build(
        builds: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, usize)>,
    ) -> (u64, usize) {
        tokio::time::timeout(Duration::from_secs(60), builds.recv())
            .await
            .expect("a build within a minute")
            .expect("the builder runs")
    }

    /// Whether another build comes within ten intervals.
    async fn builds_again(builds: &mut tokio::sync::mpsc::UnboundedReceiver<(u64, usize)>) -> bool {
        tokio::time::timeout(10 * INTERVAL, builds.recv())
            .await
            .is_ok()
    }

    fn published_text(published: &Published) -> String {
        text(&published.load().body(Format::Text, false))
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_of_changes_within_an_interval_costs_one_build() {
        let signal = ChangeSignal::default();
        let (mut w, src) = signalled_source(&["t0", "t1", "t2"], signal.clone());
        let published = Published::default();
        let (task, mut builds) = start_builder(vec![src], &published, &signal);
        assert_eq!(
            next_build(&mut builds).await,
            (1, 3),
            "the listed state, at once"
        );
        let first = tokio::time::Instant::now();

        for i in 0..50 {
            let name = format!("t{i}");
            w.apply(Change::Apply(
                name.clone(),
                thing_rows(&name, 1000.0 + f64::from(i)),
            ));
        }
        assert_eq!(
            next_build(&mut builds).await,
            (2, 50),
            "one build takes the burst"
        );
        assert!(
            tokio::time::Instant::now() >= first + INTERVAL,
            "builds are at least an interval apart"
        );
        let body = published_text(&published);
        assert!(body.contains("thing_value{thing=\"t49\"} 1049\n"), "{body}");
        assert!(body.contains("thing_value{thing=\"t0\"} 1000\n"), "{body}");
        assert!(!builds_again(&mut builds).await, "nothing changed since");
        assert_eq!(published.load().generation(), 2);
        task.abort();
    }

    /// A kind with one family: its rows do not fit [`THINGS`]' two, so building them panics.
    static ONE_FAMILY: Kind<Thing> = Kind {
        resource: "things",
        api: ApiType::new("example.com", "v1", "Thing", "things"),
        scope: Scope::Namespaced,
        shapes: &[WatchShape::FULL],
        protobuf: None,
        identity: |t| Identity::new([("thing", t.metadata.name.as_deref().unwrap_or(""))]),
        families: &[Family::stable(
            "thing_value",
            "The value.",
            MetricType::Gauge,
            value,
        )],
    };

    #[tokio::test(start_paused = true)]
    async fn after_a_build_panics_the_next_change_rebuilds_whole_and_generations_go_on() {
        let signal = ChangeSignal::default();
        let (mut w, src) = signalled_source(&["t0", "t1"], signal.clone());
        let published = Published::default();
        let (task, mut builds) = start_builder(vec![src.clone()], &published, &signal);
        assert_eq!(next_build(&mut builds).await, (1, 2));

        // Rows that break the build (the panic is printed by the test harness).
        let sel = FamilySelection::new(&ONE_FAMILY.headers(), |_| true);
        let thing = Thing {
            metadata: Default::default(),
            value: 1.0,
        };
        let bad = ONE_FAMILY.render(&thing, &RenderContext::default(), &sel);
        w.apply(Change::Apply("bad".into(), bad));
        assert!(
            !builds_again(&mut builds).await,
            "a panicked build publishes nothing"
        );
        assert_eq!(
            published.load().generation(),
            1,
            "the previous snapshot stays"
        );
        assert!(
            published.load().is_ready(),
            "the previous snapshot was ready"
        );
        assert!(
            !published.is_ready(),
            "but it is no longer kept current: not ready"
        );

        w.apply(Change::Delete("bad".into()));
        w.apply(Change::Apply("t2".into(), thing_rows("t2", 2.0)));
        assert_eq!(
            next_build(&mut builds).await,
            (2, 3),
            "the next change publishes, after the last published generation"
        );
        let full = build(&[src], false);
        assert_eq!(
            published_text(&published),
            text(&full.body(Format::Text, false))
        );
        assert!(published.is_ready(), "ready again once a build publishes");
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_builder_of_new_sources_goes_on_from_the_published_generation() {
        let published = Published::default();
        let signal = ChangeSignal::default();
        let (_w, old) = signalled_source(&["old"], signal.clone());
        let (task, mut builds) = start_builder(vec![old], &published, &signal);
        assert_eq!(next_build(&mut builds).await, (1, 1));
        task.abort();

        let signal = ChangeSignal::default();
        let (_w, new) = signalled_source(&["new-1", "new-2"], signal.clone());
        let (task, mut builds) = start_builder(vec![new], &published, &signal);
        assert_eq!(next_build(&mut builds).await, (2, 2));
        assert!(published_text(&published).contains("thing=\"new-1\""));
        task.abort();
    }
}
