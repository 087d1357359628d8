//! Rendered rows of the objects one watch has seen, keyed by UID.
//!
//! A [`Writer`] belongs to exactly one watch task and applies its [`Change`]s; any number of
//! [`Reader`]s (the snapshot builder) see the rows concurrently without blocking it. This module
//! never touches the API client, HTTP or task spawning, and it cannot fail. See [`shard`].
//!
//! The resync protocol is kube-runtime's `apply_watcher_event`: a relist fills a private buffer
//! from `Init` to `InitDone`, then replaces the visible rows whole, so objects deleted while the
//! watch was down disappear and readers never see a half-listed kind.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use dashmap::DashMap;
use tokio::sync::Notify;

use crate::resources::Rows;

/// One step of a watch, already rendered. Mirrors `kube_runtime::watcher::Event` as plain data.
#[derive(Debug)]
pub enum Change {
    /// A (re)list starts: following `InitApply`s go to a fresh buffer.
    Init,
    /// An object of the (re)list.
    InitApply(String, Rows),
    /// The (re)list is complete: the buffer replaces the visible rows.
    InitDone,
    /// An object was added or modified: its rows are replaced whole.
    Apply(String, Rows),
    /// An object was deleted, or can no longer be rendered: its rows go.
    Delete(String),
}

/// Wakes the snapshot builder when any shard changes. Cheap to clone.
///
/// A notification while the builder is busy is kept (one permit), so no change is lost and a
/// burst of changes costs one wake-up.
#[derive(Clone, Debug, Default)]
pub struct ChangeSignal {
    notify: Arc<Notify>,
}

impl ChangeSignal {
    /// Records that something changed.
    pub fn notify(&self) {
        self.notify.notify_one();
    }

    /// Waits for the next change (or returns at once if one is pending).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

/// An object's UID, shared between the store, the change marks and the snapshot builder's
/// buckets instead of copied into each.
pub type Uid = Arc<str>;

type RowMap = DashMap<Uid, Arc<Rows>>;

/// Which objects changed since the snapshot builder last looked.
#[derive(Debug, PartialEq, Eq)]
pub enum Dirty {
    /// Every row may have changed (a relist finished, or the shard was cleared).
    All,
    /// The rows of these UIDs were replaced or removed; nothing else changed. Each UID maps to
    /// its latest rows as the writer saw them: the new rows, or the rows it removed. Their
    /// [`Rows::namespace`] (which never changes for a UID) tells the builder where the object
    /// lives, even when it is gone.
    Objects(HashMap<Uid, Arc<Rows>>),
}

impl Default for Dirty {
    fn default() -> Self {
        Dirty::Objects(HashMap::new())
    }
}

impl Dirty {
    fn mark(&mut self, uid: &Uid, rows: &Arc<Rows>) {
        if let Dirty::Objects(marks) = self {
            marks.insert(uid.clone(), rows.clone());
        }
    }
}

/// The state shared by one writer and its readers.
#[derive(Debug)]
struct Shard {
    resource: &'static str,
    rows: ArcSwap<RowMap>,
    /// A watch feeds this shard now; inactive shards do not count for readiness.
    active: AtomicBool,
    ready: AtomicBool,
    /// Bumped on every visible change, so readers can tell a shard moved on.
    version: AtomicU64,
    /// What changed since the last [`Reader::take_dirty`]. Marked after the rows change and
    /// before the signal, so a builder that takes a mark always finds the new rows.
    dirty: Mutex<Dirty>,
}

/// Creates a shard for one watch of `resource`: the writer goes to the watch task, the reader
/// to the snapshot builder.
pub fn shard(resource: &'static str, signal: ChangeSignal) -> (Writer, Reader) {
    let shard = Arc::new(Shard {
        resource,
        rows: ArcSwap::from_pointee(RowMap::new()),
        active: AtomicBool::new(false),
        ready: AtomicBool::new(false),
        version: AtomicU64::new(0),
        dirty: Mutex::new(Dirty::All),
    });
    (
        Writer {
            shard: shard.clone(),
            buffer: None,
            signal,
        },
        Reader { shard },
    )
}

/// Applies one watch's changes.
///
/// # Invariants
/// - Exactly one `Writer` per shard: it is not `Clone`.
/// - A UID's rows are replaced whole, never patched.
/// - Rows listed during a relist become visible together at `InitDone`, replacing every row of
///   the previous list; until then readers keep seeing the previous state.
#[derive(Debug)]
pub struct Writer {
    shard: Arc<Shard>,
    buffer: Option<HashMap<Uid, Arc<Rows>>>,
    signal: ChangeSignal,
}

impl Writer {
    /// Applies `change`.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::Init => self.buffer = Some(HashMap::new()),
            Change::InitApply(uid, rows) => {
                // An InitApply outside Init..InitDone cannot come from kube's watcher; treat it
                // as a plain apply rather than lose it.
                match &mut self.buffer {
                    Some(buffer) => {
                        buffer.insert(uid.into(), Arc::new(rows));
                    }
                    None => self.apply(Change::Apply(uid, rows)),
                }
            }
            Change::InitDone => {
                let listed = self.buffer.take().unwrap_or_default();
                let map: RowMap = listed.into_iter().collect();
                self.shard.rows.store(Arc::new(map));
                self.shard.ready.store(true, Ordering::Release);
                self.mark_all();
                self.changed();
            }
            Change::Apply(uid, rows) => {
                let uid: Uid = uid.into();
                let rows = Arc::new(rows);
                if let Some(buffer) = &mut self.buffer {
                    // During a relist, later events win over the listed state.
                    buffer.insert(uid.clone(), rows.clone());
                }
                self.shard.rows.load().insert(uid.clone(), rows.clone());
                self.mark(&uid, &rows);
                self.changed();
            }
            Change::Delete(uid) => {
                if let Some(buffer) = &mut self.buffer {
                    buffer.remove(uid.as_str());
                }
                if let Some((uid, rows)) = self.shard.rows.load().remove(uid.as_str()) {
                    self.mark(&uid, &rows);
                    self.changed();
                }
            }
        }
    }

    /// Marks the shard as fed by a watch: from now on readiness waits for its first list.
    pub fn activate(&mut self) {
        self.shard.ready.store(false, Ordering::Release);
        self.shard.active.store(true, Ordering::Release);
        self.changed();
    }

    /// Removes every row and marks the shard inactive (its watch stopped).
    pub fn clear(&mut self) {
        self.buffer = None;
        self.shard.rows.store(Arc::new(RowMap::new()));
        self.shard.active.store(false, Ordering::Release);
        self.shard.ready.store(false, Ordering::Release);
        self.mark_all();
        self.changed();
    }

    fn mark(&self, uid: &Uid, rows: &Arc<Rows>) {
        self.dirty().mark(uid, rows);
    }

    fn mark_all(&self) {
        *self.dirty() = Dirty::All;
    }

    fn dirty(&self) -> std::sync::MutexGuard<'_, Dirty> {
        // Nothing panics while holding the lock; recover the set rather than stop the watch.
        self.shard.dirty.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn changed(&self) {
        self.shard.version.fetch_add(1, Ordering::AcqRel);
        self.signal.notify();
    }
}

/// Reads one shard's rows. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Reader {
    shard: Arc<Shard>,
}

impl Reader {
    /// The resource this shard holds rows of.
    pub fn resource(&self) -> &'static str {
        self.shard.resource
    }

    /// Whether the watch finished its first list.
    pub fn is_ready(&self) -> bool {
        self.shard.ready.load(Ordering::Acquire)
    }

    /// Whether a watch feeds this shard now (leader-only shards are idle on followers).
    pub fn is_active(&self) -> bool {
        self.shard.active.load(Ordering::Acquire)
    }

    /// Every object's rows at this moment (each object's rows are whole).
    pub fn rows(&self) -> Vec<Arc<Rows>> {
        let map = self.shard.rows.load_full();
        map.iter().map(|e| e.value().clone()).collect()
    }

    /// Every object's rows at this moment, with its UID.
    pub fn rows_by_uid(&self) -> Vec<(Uid, Arc<Rows>)> {
        let map = self.shard.rows.load_full();
        map.iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }

    /// One object's current rows.
    pub fn get(&self, uid: &str) -> Option<Arc<Rows>> {
        self.shard.rows.load().get(uid).map(|e| e.value().clone())
    }

    /// What changed since the previous call, and resets it. A new shard starts [`Dirty::All`].
    ///
    /// NOTE: meant for one consumer, the snapshot builder; a second caller would take changes
    /// the builder then never sees.
    pub fn take_dirty(&self) -> Dirty {
        std::mem::take(&mut *self.shard.dirty.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// How many objects are visible.
    pub fn len(&self) -> usize {
        self.shard.rows.load().len()
    }

    /// Whether no object is visible.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A number that changes whenever the visible rows change.
    pub fn version(&self) -> u64 {
        self.shard.version.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Identity, MetricType, RenderContext, Series};
    use crate::resources::{ApiType, Family, FamilySelection, Kind, Scope, WatchShape};

    fn render_value(v: &f64, out: &mut Series<'_>) {
        out.value(*v);
    }
    static TEST_KIND: Kind<f64> = Kind {
        resource: "things",
        api: ApiType::new("example.com", "v1", "Thing", "things"),
        scope: Scope::Namespaced,
        shapes: &[WatchShape::FULL],
        protobuf: None,
        identity: |_| Identity::default(),
        families: &[Family::stable(
            "thing",
            "A thing.",
            MetricType::Gauge,
            render_value,
        )],
    };

    fn rows(v: f64) -> Rows {
        let sel = FamilySelection::new(&TEST_KIND.headers(), |_| true);
        TEST_KIND.render_in(&v, "", &RenderContext::default(), &sel)
    }

    fn visible(r: &Reader) -> Vec<String> {
        let mut v: Vec<String> = r
            .rows()
            .iter()
            .map(|rows| String::from_utf8(rows.all().to_vec()).unwrap())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn relist_replaces_rows_whole_at_init_done_and_drops_vanished_objects() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        w.apply(Change::InitApply("b".into(), rows(2.0)));
        assert!(!r.is_ready());
        assert!(r.is_empty(), "listed rows stay private until InitDone");
        w.apply(Change::InitDone);
        assert!(r.is_ready());
        assert_eq!(visible(&r), vec!["thing 1\n", "thing 2\n"]);

        // Watch lost (410): relist without "a".
        w.apply(Change::Init);
        w.apply(Change::InitApply("b".into(), rows(3.0)));
        assert_eq!(
            visible(&r),
            vec!["thing 1\n", "thing 2\n"],
            "old state until InitDone"
        );
        w.apply(Change::InitDone);
        assert_eq!(visible(&r), vec!["thing 3\n"]);
    }

    #[test]
    fn delete_during_resync_is_not_resurrected_by_init_done() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        w.apply(Change::Delete("a".into()));
        w.apply(Change::InitDone);
        assert!(r.is_empty());
    }

    #[test]
    fn apply_replaces_an_objects_rows_and_delete_removes_them() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        w.apply(Change::Init);
        w.apply(Change::InitDone);
        let v0 = r.version();
        w.apply(Change::Apply("a".into(), rows(1.0)));
        w.apply(Change::Apply("a".into(), rows(5.0)));
        assert_eq!(visible(&r), vec!["thing 5\n"]);
        assert!(r.version() > v0);
        w.apply(Change::Delete("a".into()));
        assert!(r.is_empty());
        let v1 = r.version();
        w.apply(Change::Delete("never-seen".into()));
        assert_eq!(r.version(), v1, "deleting an unknown uid changes nothing");
    }

    #[test]
    fn a_burst_of_changes_leaves_one_pending_wakeup() {
        use futures::FutureExt as _;
        let signal = ChangeSignal::default();
        let (mut w, _r) = shard("things", signal.clone());
        for i in 0..100 {
            w.apply(Change::Apply(format!("u{i}"), rows(f64::from(i))));
        }
        // One pending permit: the first wait completes on its first poll, the second does not.
        assert!(
            signal.changed().now_or_never().is_some(),
            "a change is pending"
        );
        assert!(
            signal.changed().now_or_never().is_none(),
            "the burst must coalesce into one wake-up"
        );
    }

    #[test]
    fn clear_empties_the_shard_and_marks_it_not_ready() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        w.apply(Change::InitDone);
        w.clear();
        assert!(r.is_empty());
        assert!(!r.is_ready());
        assert!(!r.is_active());
    }

    #[test]
    fn dirty_marks_name_the_changed_objects_until_a_relist_marks_everything() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        assert_eq!(
            r.take_dirty(),
            Dirty::All,
            "a new shard has never been built"
        );
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        w.apply(Change::InitApply("b".into(), rows(1.0)));
        w.apply(Change::InitDone);
        assert_eq!(r.take_dirty(), Dirty::All);
        assert_eq!(r.take_dirty(), Dirty::default(), "taking resets");
        w.apply(Change::Apply("a".into(), rows(2.0)));
        w.apply(Change::Delete("b".into()));
        w.apply(Change::Delete("never-seen".into()));
        let Dirty::Objects(marks) = r.take_dirty() else {
            panic!("only objects changed")
        };
        let mut uids: Vec<String> = marks.into_keys().map(|u| u.to_string()).collect();
        uids.sort();
        assert_eq!(uids, ["a", "b"]);
        w.clear();
        assert_eq!(r.take_dirty(), Dirty::All);
    }
}
