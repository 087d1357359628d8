//! Rendered rows of the objects one watch has seen, keyed by UID.
//!
//! A [`Writer`] belongs to exactly one watch task and applies its [`Change`]s; any number of
//! [`Reader`]s (the snapshot builder) see the rows concurrently without blocking it. This module
//! never touches the API client, HTTP or task spawning, and it cannot fail. See [`shard`].
//!
//! The resync protocol is kube-runtime's `apply_watcher_event`: a relist fills a private buffer
//! from `Init` to `InitDone`, then replaces the visible rows whole, so objects deleted while the
//! watch was down disappear and readers never see a half-listed kind.
//!
//! # Readiness
//! Each shard is in one [`ShardState`], changed only through its [`Writer`] (the transitions
//! are listed on the type), and [`all_listed`] is the one rule that turns the states of a set
//! of shards into readiness: the snapshot builder asks it for every snapshot (which `/readyz`
//! and the first `/metrics` answers report) and a config reload for the new watches before it
//! switches to them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
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

    /// Forgets a pending wake-up, for a caller about to look at every change made so far.
    ///
    /// A burst that starts while the builder waits wakes it with its first change and leaves
    /// a permit for the rest; the build after the wake-up takes the whole burst, so without
    /// this the permit would cost a second, empty build.
    pub fn forget_pending(&self) {
        use futures::FutureExt as _;
        let _ = self.notify.notified().now_or_never();
    }
}

/// An object's UID, shared between the store, the change marks and the snapshot builder's
/// buckets instead of copied into each.
pub type Uid = Arc<str>;

type RowMap = DashMap<Uid, Rows>;

/// Which objects changed since the snapshot builder last looked.
#[derive(Debug, PartialEq, Eq)]
pub enum Dirty {
    /// Every row may have changed (a relist finished, or the shard was cleared).
    All,
    /// The rows of these UIDs were replaced or removed; nothing else changed. Each UID maps to
    /// its latest rows as the writer saw them: the new rows, or the rows it removed. Their
    /// [`Rows::namespace`] (which never changes for a UID) tells the builder where the object
    /// lives, even when it is gone.
    Objects(HashMap<Uid, Rows>),
}

impl Default for Dirty {
    fn default() -> Self {
        Dirty::Objects(HashMap::new())
    }
}

impl Dirty {
    fn mark(&mut self, uid: &Uid, rows: &Rows) {
        if let Dirty::Objects(marks) = self {
            marks.insert(uid.clone(), rows.clone());
        }
    }
}

/// Where a shard stands for readiness.
///
/// Transitions, each made by the shard's [`Writer`]:
///
/// | from | to | when |
/// |---|---|---|
/// | (new shard) | `Idle` | [`shard`] |
/// | any | `Listing` | [`Writer::start_listing`]: a watch was made for the shard (before its task first runs), or its kind is served again |
/// | any | `Listed` | [`Change::InitDone`]: a list finished; a later relist keeps the shard `Listed` (readers keep the previous list until the next `InitDone`) |
/// | any | `Idle` | [`Writer::clear`]: the watch stopped (leadership lost, config replaced, shutdown), its kind is not served, or its watch panicked (cleared by the writer that takes over) |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardState {
    /// No watch feeds the shard (a leader-only watch on an agent that does not lead, a stopped
    /// watch, a kind the API server does not serve). It holds no rows and does not count for
    /// readiness.
    Idle,
    /// A watch feeds the shard and has not finished its first list.
    Listing,
    /// The watch finished a list: the rows are the kind's state.
    Listed,
}

impl ShardState {
    fn from_u8(v: u8) -> ShardState {
        match v {
            1 => ShardState::Listing,
            2 => ShardState::Listed,
            _ => ShardState::Idle,
        }
    }
}

/// Whether `shards` are ready: every shard a watch feeds has finished its first list; idle
/// shards do not count (so a follower's leader-only shards and an unserved kind hold nothing
/// back). The one readiness rule: a snapshot is ready when this held for its shards when it was
/// built, and a reloaded configuration takes over when it holds for its shards.
pub fn all_listed<'a>(shards: impl IntoIterator<Item = &'a Reader>) -> bool {
    shards.into_iter().all(|s| s.state() != ShardState::Listing)
}

/// The state shared by one writer and its readers.
#[derive(Debug)]
struct Shard {
    resource: &'static str,
    rows: ArcSwap<RowMap>,
    /// A [`ShardState`], as `u8`.
    state: AtomicU8,
    /// Bumped on every visible change, so readers can tell a shard moved on.
    version: AtomicU64,
    /// What changed since the last [`Reader::take_dirty`]. Marked after the rows change and
    /// before the signal, so a builder that takes a mark always finds the new rows.
    dirty: Mutex<Dirty>,
    /// Whether a [`Writer`] exists: set by [`shard`] and [`Reader::writer_after_loss`], cleared
    /// by the writer's drop.
    has_writer: AtomicBool,
    /// Wakes the snapshot builder on every change of this shard.
    signal: ChangeSignal,
}

/// Creates a shard for one watch of `resource`: the writer goes to the watch task, the reader
/// to the snapshot builder.
pub fn shard(resource: &'static str, signal: ChangeSignal) -> (Writer, Reader) {
    let shard = Arc::new(Shard {
        resource,
        rows: ArcSwap::from_pointee(RowMap::new()),
        state: AtomicU8::new(ShardState::Idle as u8),
        version: AtomicU64::new(0),
        dirty: Mutex::new(Dirty::All),
        has_writer: AtomicBool::new(true),
        signal,
    });
    (
        Writer {
            shard: shard.clone(),
            buffer: None,
        },
        Reader { shard },
    )
}

/// Applies one watch's changes.
///
/// # Invariants
/// - At most one `Writer` per shard: it is not `Clone`, and a new one is made only once the
///   last is gone ([`Reader::writer_after_loss`]).
/// - A UID's rows are replaced whole, never patched.
/// - Rows listed during a relist become visible together at `InitDone`, replacing every row of
///   the previous list; until then readers keep seeing the previous state.
/// - A writer dropped without [`Writer::clear`] (its watch panicked) leaves its rows as they
///   were: whoever takes the shard over with [`Reader::writer_after_loss`] clears them first.
#[derive(Debug)]
pub struct Writer {
    shard: Arc<Shard>,
    buffer: Option<HashMap<Uid, Rows>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shard.has_writer.store(false, Ordering::Release);
    }
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
                        buffer.insert(uid.into(), rows);
                    }
                    None => self.apply(Change::Apply(uid, rows)),
                }
            }
            Change::InitDone => {
                let listed = self.buffer.take().unwrap_or_default();
                let map: RowMap = listed.into_iter().collect();
                self.shard.rows.store(Arc::new(map));
                self.set_state(ShardState::Listed);
                self.mark_all();
                self.changed();
            }
            Change::Apply(uid, rows) => {
                let uid: Uid = uid.into();
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

    /// A reader of this writer's shard.
    pub fn reader(&self) -> Reader {
        Reader {
            shard: self.shard.clone(),
        }
    }

    /// The shard is fed by a watch from now on ([`ShardState::Listing`]): readiness waits for
    /// its next `InitDone`.
    pub fn start_listing(&mut self) {
        self.set_state(ShardState::Listing);
        self.changed();
    }

    /// Removes every row; no watch feeds the shard any more ([`ShardState::Idle`]).
    pub fn clear(&mut self) {
        self.buffer = None;
        self.shard.rows.store(Arc::new(RowMap::new()));
        self.set_state(ShardState::Idle);
        self.mark_all();
        self.changed();
    }

    fn set_state(&self, state: ShardState) {
        self.shard.state.store(state as u8, Ordering::Release);
    }

    fn mark(&self, uid: &Uid, rows: &Rows) {
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
        self.shard.signal.notify();
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

    /// Where the shard stands; see [`all_listed`] for what it means for readiness.
    pub fn state(&self) -> ShardState {
        ShardState::from_u8(self.shard.state.load(Ordering::Acquire))
    }

    /// Every object's rows at this moment (each object's rows are whole).
    pub fn rows(&self) -> Vec<Rows> {
        let map = self.shard.rows.load_full();
        map.iter().map(|e| e.value().clone()).collect()
    }

    /// Every object's rows at this moment, with its UID.
    pub fn rows_by_uid(&self) -> Vec<(Uid, Rows)> {
        let map = self.shard.rows.load_full();
        map.iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }

    /// One object's current rows.
    pub fn get(&self, uid: &str) -> Option<Rows> {
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

    /// A new writer for the shard once its writer is gone (dropped by a watch that panicked),
    /// `None` while it lives. The shard is cleared ([`ShardState::Idle`], no rows): what the
    /// lost writer left may be stale, and must not be exported as if a watch kept it current.
    pub fn writer_after_loss(&self) -> Option<Writer> {
        self.shard
            .has_writer
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        let mut writer = Writer {
            shard: self.shard.clone(),
            buffer: None,
        };
        writer.clear();
        Some(writer)
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
        assert_ne!(r.state(), ShardState::Listed);
        assert!(r.is_empty(), "listed rows stay private until InitDone");
        w.apply(Change::InitDone);
        assert_eq!(r.state(), ShardState::Listed);
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
    fn a_lost_writer_is_replaced_by_one_that_clears_its_rows() {
        let signal = ChangeSignal::default();
        let (mut w, r) = shard("things", signal.clone());
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        w.apply(Change::InitDone);
        assert_eq!(visible(&r), vec!["thing 1\n"]);
        assert!(r.writer_after_loss().is_none(), "one writer per shard");
        let _ = r.take_dirty();
        signal.forget_pending();

        drop(w);
        let mut w = r
            .writer_after_loss()
            .expect("a writer once the last is gone");
        assert!(
            r.writer_after_loss().is_none(),
            "still one writer per shard"
        );
        assert!(r.is_empty(), "the lost writer's rows are cleared");
        assert_eq!(r.state(), ShardState::Idle);
        assert_eq!(r.take_dirty(), Dirty::All);
        assert!(
            futures::FutureExt::now_or_never(signal.changed()).is_some(),
            "the builder is woken to drop the rows"
        );
        w.start_listing();
        w.apply(Change::Init);
        w.apply(Change::InitApply("b".into(), rows(2.0)));
        w.apply(Change::InitDone);
        assert_eq!(visible(&r), vec!["thing 2\n"]);
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

    #[tokio::test]
    async fn a_burst_that_wakes_a_waiter_leaves_a_permit_until_it_is_forgotten() {
        use futures::FutureExt as _;
        let signal = ChangeSignal::default();
        let (mut w, _r) = shard("things", signal.clone());
        let waiter = tokio::spawn({
            let signal = signal.clone();
            async move { signal.changed().await }
        });
        tokio::task::yield_now().await;
        for i in 0..10 {
            w.apply(Change::Apply(format!("u{i}"), rows(f64::from(i))));
        }
        waiter.await.unwrap();
        signal.forget_pending();
        assert!(
            signal.changed().now_or_never().is_none(),
            "the burst that woke the waiter wakes nobody again"
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
        assert_eq!(r.state(), ShardState::Idle);
    }

    #[test]
    fn a_shard_is_idle_until_a_watch_feeds_it_and_listed_from_its_first_init_done_on() {
        let (mut w, r) = shard("things", ChangeSignal::default());
        assert_eq!(r.state(), ShardState::Idle);
        w.start_listing();
        assert_eq!(r.state(), ShardState::Listing);
        w.apply(Change::Init);
        w.apply(Change::InitApply("a".into(), rows(1.0)));
        assert_eq!(r.state(), ShardState::Listing);
        w.apply(Change::InitDone);
        assert_eq!(r.state(), ShardState::Listed);
        // A relist (410 Gone) does not take readiness back: readers keep the previous list.
        w.apply(Change::Init);
        assert_eq!(r.state(), ShardState::Listed);
        w.apply(Change::InitDone);
        w.clear();
        assert_eq!(r.state(), ShardState::Idle);
    }

    #[test]
    fn shards_are_all_listed_when_no_fed_shard_is_still_listing() {
        use ShardState::{Idle, Listed, Listing};
        let in_state = |state: ShardState| {
            let (mut w, r) = shard("things", ChangeSignal::default());
            match state {
                Idle => {}
                Listing => w.start_listing(),
                Listed => w.apply(Change::InitDone),
            }
            (w, r)
        };
        for (states, ready) in [
            (&[][..], true),
            (&[Idle][..], true),
            (&[Listed, Idle][..], true),
            (&[Listed, Listed][..], true),
            (&[Listing][..], false),
            (&[Listed, Listing, Idle][..], false),
        ] {
            let shards: Vec<_> = states.iter().map(|s| in_state(*s)).collect();
            assert_eq!(
                all_listed(shards.iter().map(|(_, r)| r)),
                ready,
                "{states:?}"
            );
        }
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
