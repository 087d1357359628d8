//! Watching the API server: one task per (kind, selector), each feeding its own store shard.
//!
//! A task runs kube-runtime's plain `watcher` (no object cache) with the kind's selector,
//! decodes each object into the kind's lean type, renders it at once, and hands the rows to
//! its [`Writer`]; the object is then dropped. The watcher resumes from the last
//! resourceVersion after an error and relists only on 410 Gone, and the writer's resync
//! protocol sweeps away objects that vanished meanwhile. Errors are retried with backoff,
//! counted and logged: nothing here ends the process. This module owns all network code; it
//! never touches HTTP serving or snapshot internals. See [`run`].
//!
//! Kinds with a lean protobuf message are listed and watched over protobuf (unless
//! `--api-encoding=json`) by [`protobuf::watcher`], which yields the same events as kube's
//! watcher; so are metadata-only shapes, as protobuf `PartialObjectMetadata`. Everything
//! downstream of the event stream is shared.

pub(crate) mod custom;
mod protobuf;
pub(crate) use protobuf::DEFAULT_TIMEOUT_SECS as DEFAULT_WATCH_TIMEOUT_SECS;

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{FutureExt as _, StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::ApiResource;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::{ApiEncoding, NamespaceFilter};
use crate::decode::{Decoded, Object};
use crate::exposition::RenderContext;
use crate::leader::candidacy::NodeLabels;
use crate::plan::Shape;
use crate::resources::{FamilySelection, Kind, Scope};
use crate::sharding::Shard;
use crate::store::{Change, Reader, Writer};
use crate::telemetry::Telemetry;

/// What one watch covers: an optional namespace and an optional field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTarget {
    /// `None` watches all namespaces (or a cluster-scoped kind).
    pub namespace: Option<String>,
    /// E.g. `spec.nodeName=node-1`.
    pub field_selector: Option<String>,
}

impl fmt::Display for WatchTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.namespace, &self.field_selector) {
            (None, None) => write!(f, "all"),
            (Some(ns), None) => write!(f, "namespace={ns}"),
            (None, Some(sel)) => write!(f, "{sel}"),
            (Some(ns), Some(sel)) => write!(f, "namespace={ns},{sel}"),
        }
    }
}

/// What every watch task shares.
#[derive(Clone)]
pub struct WatchContext {
    /// The API client.
    pub client: Client,
    /// Self-metrics.
    pub telemetry: Telemetry,
    /// Where the watch of this agent's own Node publishes its labels, for the election's
    /// candidacy ([`crate::leader::candidacy`]).
    pub node_labels: NodeLabels,
}

/// What one watch renders: its target, the allowlists and the enabled families, and how it
/// asks the API server.
#[derive(Clone, Debug)]
pub struct WatchSpec {
    /// Namespace and selector (the shape's selector already merged in).
    pub target: WatchTarget,
    /// Allowlists for `_labels`/`_annotations`.
    pub render: RenderContext,
    /// Families rendered.
    pub selection: FamilySelection,
    /// Which of the kind's [`crate::resources::WatchShape`]s this watch is.
    pub shape: Shape,
    /// How the lists read.
    pub list: ListOptions,
    /// Only objects of this shard are rendered; `None`: all.
    pub shard: Option<Shard>,
    /// `--namespaces`/`--namespaces-denylist`, for a kind whose scope is known only after
    /// discovery (custom resources: see `custom::stream_targets`); empty for built-in kinds,
    /// whose [`target`](Self::target) applies them already.
    pub namespaces: NamespaceFilter,
    /// Which objects of a node-bound custom resource this watch is for; [`NodeBinding::All`]
    /// for every other watch.
    pub node_binding: NodeBinding,
}

/// Which objects of a node-bound custom resource (`nodeNameFromPath`) a watch is for.
///
/// The API server selects custom objects on a field of their own only when the CRD lists it
/// in `selectableFields` (Kubernetes 1.30+); otherwise it answers such a field selector with
/// 400 `field label not supported`. The watch learns which by asking: its first list, with
/// the selector, limited to one object (`crate::watch::custom`). The three bindings cover
/// every object exactly once whichever the answer:
///
/// | binding | selectable | not selectable |
/// |---|---|---|
/// | [`Node(n)`](Self::Node), each node agent | `<field>=n` | nothing |
/// | [`NoNode`](Self::NoNode), the leader | `<field>=` (no node) | every object |
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NodeBinding {
    /// Every object: not node-bound, or `--scope=cluster`.
    #[default]
    All,
    /// A node agent's watch: the objects bound to node `n`, when selectable.
    Node(String),
    /// The leader's watch: the objects bound to no node when selectable, else all.
    NoNode,
}

/// How a watch's lists (and watches) read, as kube-state-metrics' flags set it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// `--api-encoding`: protobuf where the kind has a lean message, else JSON.
    pub encoding: ApiEncoding,
    /// `--use-apiserver-cache`: resourceVersion=0, served from the API server's watch cache.
    pub use_apiserver_cache: bool,
    /// `--object-limit`: the most objects one list keeps; the rest are dropped and counted.
    pub object_limit: Option<u64>,
    /// `--watch-timeout` (`timeoutSeconds`); `None`: kube's default.
    pub timeout_secs: Option<u32>,
}

/// Tells a watch to stop: it stops when the value turns `true`.
pub type StopSignal = tokio::sync::watch::Receiver<bool>;

/// Makes the watch of `spec`: the shard is [`ShardState::Listing`](crate::store::ShardState)
/// from this call on, before the returned future first runs, so readiness waits for its first
/// list however late the task is scheduled. The watch is [`supervised`]: a panic costs its rows
/// and a restart, never the watch.
pub(crate) fn run<K: Object>(
    kind: &'static Kind<K>,
    spec: WatchSpec,
    ctx: WatchContext,
    writer: Writer,
    stop: StopSignal,
) -> impl Future<Output = Writer> + Send + 'static {
    listing_and_supervised(
        kind.resource,
        writer,
        stop.clone(),
        ctx.telemetry.clone(),
        move |writer| watch_until_stopped(kind, spec.clone(), ctx.clone(), writer, stop.clone()),
    )
}

/// How every watch starts, built-in or custom: its shard is listing from this call on (before
/// the returned future first runs, so readiness waits for the first list however late the task
/// is scheduled), and `watch` runs [`supervised`].
pub(crate) fn listing_and_supervised<F, Fut>(
    resource: &'static str,
    mut writer: Writer,
    stop: StopSignal,
    telemetry: Telemetry,
    watch: F,
) -> impl Future<Output = Writer>
where
    F: FnMut(Writer) -> Fut,
    Fut: Future<Output = Writer>,
{
    writer.start_listing();
    supervised(resource, writer, stop, telemetry, watch)
}

/// The first wait before a watch that panicked starts again; each further panic doubles it, up
/// to [`PANIC_BACKOFF_MAX`].
const PANIC_BACKOFF_MIN: Duration = Duration::from_secs(1);
/// The longest wait before a watch that panicked starts again.
const PANIC_BACKOFF_MAX: Duration = Duration::from_secs(300);
/// A run at least this long before a panic starts the backoff over.
const PANIC_BACKOFF_RESET: Duration = Duration::from_secs(600);

/// Runs `watch` on `writer` until it returns (told to stop), and starts it again on a new
/// writer of the same shard whenever it panics.
///
/// A panic drops the watch's writer with its future; the writer that takes over clears the shard
/// ([`Reader::writer_after_loss`]): the kind's rows leave the next snapshot rather than being
/// exported unchanged, and — for a leader-only watch — rather than outliving leadership. The panic is logged with the kind and
/// counted (`ksa_watch_panics_total`); the new writer's shard is listing at once, so readiness
/// waits for the restarted watch's list; the restart waits out a backoff (1 s doubling to 5
/// min, reset after 10 min without a panic) so that a panic on every list does not spin. Every
/// other watch runs in its own task and never notices.
async fn supervised<F, Fut>(
    resource: &'static str,
    writer: Writer,
    mut stop: StopSignal,
    telemetry: Telemetry,
    mut watch: F,
) -> Writer
where
    F: FnMut(Writer) -> Fut,
    Fut: Future<Output = Writer>,
{
    let shard: Reader = writer.reader();
    let mut writer = writer;
    let mut backoff = PANIC_BACKOFF_MIN;
    loop {
        let started = tokio::time::Instant::now();
        // The watch's future (and the writer in it) is gone by the end of this statement.
        let panic = match AssertUnwindSafe(watch(writer)).catch_unwind().await {
            Ok(writer) => return writer,
            Err(panic) => panic,
        };
        if started.elapsed() >= PANIC_BACKOFF_RESET {
            backoff = PANIC_BACKOFF_MIN;
        }
        telemetry.watch_panic(resource);
        tracing::error!(
            resource,
            panic = panic_message(&*panic),
            restart_in_seconds = backoff.as_secs(),
            "watch panicked; its rows are cleared and it starts again after a backoff"
        );
        writer = shard
            .writer_after_loss()
            .expect("a panicked watch's writer is dropped with its future");
        writer.start_listing();
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stop.wait_for(|s| *s) => {
                writer.clear();
                return writer;
            }
        }
        backoff = (backoff * 2).min(PANIC_BACKOFF_MAX);
    }
}

/// A panic's message, when it carries one.
pub(crate) fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}

/// Keeps `ksa_watches_active` right however a watch ends, a panic included.
struct ActiveWatch<'a> {
    telemetry: &'a Telemetry,
    resource: &'static str,
}

impl<'a> ActiveWatch<'a> {
    fn start(telemetry: &'a Telemetry, resource: &'static str) -> ActiveWatch<'a> {
        telemetry.watch_active(resource, 1);
        ActiveWatch {
            telemetry,
            resource,
        }
    }
}

impl Drop for ActiveWatch<'_> {
    fn drop(&mut self) {
        self.telemetry.watch_active(self.resource, -1);
    }
}

/// The watch loop: lists, watches and resumes until `stop`, then clears the shard.
async fn watch_until_stopped<K: Object>(
    kind: &'static Kind<K>,
    spec: WatchSpec,
    ctx: WatchContext,
    mut writer: Writer,
    mut stop: StopSignal,
) -> Writer {
    let WatchSpec {
        target,
        render,
        selection,
        shape,
        list,
        shard,
        ..
    } = spec;
    let metadata_only = match shape {
        Shape::Whole => None,
        Shape::Lean { selector } => {
            let declared = kind.shapes.iter().find(|s| s.field_selector == selector);
            debug_assert!(
                declared.is_some(),
                "{}: no shape with selector {selector:?}",
                kind.resource
            );
            declared.and_then(|s| s.metadata_only)
        }
    };
    let config = watcher_config(&target, &list);
    // A metadata-only shape reads `PartialObjectMetadata`, which needs no message of the kind's.
    let protobuf = (list.encoding == ApiEncoding::Protobuf)
        .then_some(())
        .and_then(|()| match metadata_only {
            Some(_) => Some(protobuf::Objects::MetadataOnly),
            None => kind.protobuf.map(protobuf::Objects::Whole),
        });
    let over_protobuf = protobuf.is_some();
    let open = || match protobuf {
        Some(objects) => {
            let events = protobuf::watcher(
                ctx.client.clone(),
                target.namespace.as_deref(),
                &config,
                objects,
            )
            .default_backoff()
            .boxed();
            match metadata_only {
                Some(complete) => completed(events, complete),
                None => events,
            }
        }
        None => open_events::<K>(
            &ctx.client,
            target.namespace.as_deref(),
            &config,
            metadata_only,
        ),
    };
    tracing::info!(resource = kind.resource, target = %target,
        metadata_only = metadata_only.is_some(),
        encoding = if over_protobuf { "protobuf" } else { "json" }, "watch starting");
    let active = ActiveWatch::start(&ctx.telemetry, kind.resource);
    let mut events = if until_served(kind, &target, &ctx, &mut writer, &mut stop).await {
        open()
    } else {
        // Told to stop while waiting: the loop below sees the stop, not a stream that ended.
        futures::stream::pending().boxed()
    };
    let mut limit = ObjectLimit::default();
    // A node agent's watch of its own Node; `--scope=cluster` watches every Node instead.
    let own = target
        .field_selector
        .as_deref()
        .is_some_and(|s| s.starts_with("metadata.name="));
    let mut own_node = (kind.scope == Scope::NodeSelf && own).then(OwnNode::default);
    loop {
        let item = tokio::select! {
            item = events.next() => item,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(item) = item else {
            tracing::warn!(resource = kind.resource, target = %target, "watch stream ended");
            break;
        };
        match item {
            Ok(event) => {
                if !limit.admits(&event, &list, &ctx.telemetry, kind.resource, &target) {
                    continue;
                }
                if let Some(own) = &mut own_node {
                    own.publish(&event, &ctx.node_labels);
                }
                let view = Render {
                    render: &render,
                    selection: &selection,
                    shard: shard.as_ref(),
                };
                if let Some(change) = to_change(kind, &ctx.telemetry, &view, event) {
                    writer.apply(change);
                }
            }
            Err(err) if is_not_served(&err) => {
                // Discovery said served, the list said 404 (the API went away meanwhile):
                // back to discovery, which reports it and waits for it to come back.
                if !until_served(kind, &target, &ctx, &mut writer, &mut stop).await {
                    break;
                }
                events = open();
            }
            Err(err) => {
                let reason = error_reason(&err);
                ctx.telemetry.watch_error(kind.resource, reason);
                tracing::warn!(resource = kind.resource, target = %target, reason, error = %err,
                    "watch error; backing off and resuming");
            }
        }
    }
    writer.clear();
    drop(active);
    tracing::info!(resource = kind.resource, target = %target, "watch stopped");
    writer
}

/// The watch of this agent's own Node (`metadata.name=<node>`) publishing the Node's labels for
/// the election's candidacy, as it renders the Node: no request of its own.
#[derive(Debug, Default)]
struct OwnNode {
    /// Whether the list under way has shown the Node.
    listed: bool,
}

impl OwnNode {
    /// Publishes what `event` says of the Node's labels: its labels when it is (re)listed or
    /// changed, `None` when it is deleted or a list ends without it. A malformed Node changes
    /// nothing: its labels are unknown, so the last ones stand.
    fn publish<K: Object>(&mut self, event: &Event<Decoded<K>>, labels: &NodeLabels) {
        let empty = std::collections::BTreeMap::new();
        match event {
            Event::Init => self.listed = false,
            Event::InitApply(Decoded::Object(node)) | Event::Apply(Decoded::Object(node)) => {
                self.listed = true;
                labels.publish(Some(node.meta().labels.as_ref().unwrap_or(&empty)));
            }
            Event::InitApply(Decoded::Malformed { .. }) => self.listed = true,
            Event::InitDone if !self.listed => labels.publish(None),
            Event::Delete(_) => labels.publish(None),
            Event::InitDone | Event::Apply(Decoded::Malformed { .. }) => {}
        }
    }
}

/// `--object-limit` over one stream's lists: the objects of a list past the limit are
/// dropped, counted in `ksa_list_objects_over_limit_total{resource}` and logged once per list.
/// Built-in and custom watches alike, one per stream (each list is limited on its own).
#[derive(Debug, Default)]
pub(crate) struct ObjectLimit {
    /// The objects of the current list so far.
    listed: u64,
}

impl ObjectLimit {
    /// Whether `event` goes on to the store: every event but a list's objects past the limit.
    pub(crate) fn admits<T>(
        &mut self,
        event: &Event<T>,
        list: &ListOptions,
        telemetry: &Telemetry,
        resource: &str,
        target: &WatchTarget,
    ) -> bool {
        match event {
            Event::Init => self.listed = 0,
            Event::InitApply(_) => {
                self.listed += 1;
                if list.object_limit.is_some_and(|limit| self.listed > limit) {
                    telemetry.over_object_limit(resource);
                    if list.object_limit == Some(self.listed - 1) {
                        tracing::warn!(resource, target = %target, limit = self.listed - 1,
                            "the list holds more objects than --object-limit; the rest are dropped");
                    }
                    return false;
                }
            }
            _ => {}
        }
        true
    }
}

/// kube-runtime's watcher settings for `target` read with `list`.
fn watcher_config(target: &WatchTarget, list: &ListOptions) -> watcher::Config {
    let mut config = watcher::Config::default();
    if let Some(secs) = list.timeout_secs {
        config = config.timeout(secs);
    }
    if let Some(selector) = &target.field_selector {
        config = config.fields(selector);
    }
    if list.use_apiserver_cache {
        // The watch cache answers resourceVersion=0 whole and ignores `limit`; kube leaves
        // resourceVersion out of a paged list, so the list is not paged (as client-go's pager
        // falls back to one full list for resourceVersion=0).
        config = config.any_semantic();
        config.page_size = None;
    }
    config
}

/// One object of a JSON watch before its kind decodes it: the identity the watcher tracks
/// (the resourceVersion it resumes from) and the object's text. `METADATA_ONLY` makes the API
/// requests ask for `PartialObjectMetadata`, so the API server sends the metadata and nothing
/// else.
///
/// One type for every kind: kube-runtime's watcher, its list and watch requests and their serde
/// code are compiled twice in all, not twice per kind, which keeps a third of the binary's code
/// out of it. The price is a copy of each object's text and a skim of it for its identity
/// before the kind's decode, paid on the JSON path only (custom resources,
/// `--api-encoding=json`).
#[derive(Clone, Debug)]
struct JsonObject<const METADATA_ONLY: bool> {
    identity: ObjectMeta,
    json: Box<RawValue>,
}

impl<'de, const METADATA_ONLY: bool> Deserialize<'de> for JsonObject<METADATA_ONLY> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// What the watcher and a malformed object's log line read; labels and the rest are
        /// left to the kind's decode.
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Identity {
            name: Option<String>,
            namespace: Option<String>,
            uid: Option<String>,
            resource_version: Option<String>,
        }
        #[derive(Deserialize)]
        struct Envelope {
            #[serde(default)]
            metadata: Option<Identity>,
        }
        // Borrowed, as `Decoded` borrows it: a line of the watch stream or the list's body.
        let json = <&RawValue>::deserialize(deserializer)?;
        let Envelope { metadata } =
            serde_json::from_str(json.get()).map_err(serde::de::Error::custom)?;
        let identity = metadata.map_or_else(ObjectMeta::default, |m| ObjectMeta {
            name: m.name,
            namespace: m.namespace,
            uid: m.uid,
            resource_version: m.resource_version,
            ..ObjectMeta::default()
        });
        Ok(JsonObject {
            identity,
            json: json.to_owned(),
        })
    }
}

impl<const METADATA_ONLY: bool> Resource for JsonObject<METADATA_ONLY> {
    type DynamicType = ApiResource;
    type Scope = kube::core::DynamicResourceScope;

    fn kind(api: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&api.kind)
    }
    fn group(api: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&api.group)
    }
    fn version(api: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&api.version)
    }
    fn api_version(api: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&api.api_version)
    }
    fn plural(api: &ApiResource) -> Cow<'_, str> {
        Cow::Borrowed(&api.plural)
    }
    fn metadata_api() -> bool {
        METADATA_ONLY
    }
    fn meta(&self) -> &ObjectMeta {
        &self.identity
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.identity
    }
}

impl<const METADATA_ONLY: bool> JsonObject<METADATA_ONLY> {
    /// Decodes the object into `K`'s lean type; a body that does not decode keeps its identity
    /// (see [`Decoded`]).
    fn decode<K: Object>(self) -> Decoded<K> {
        match serde_json::from_str::<K>(self.json.get()) {
            Ok(obj) => Decoded::Object(obj),
            Err(err) => Decoded::Malformed {
                metadata: self.identity,
                error: err.to_string(),
            },
        }
    }
}

type Events<K> = BoxStream<'static, Result<Event<Decoded<K>>, watcher::Error>>;

/// A JSON watch's events before decoding, the same type for every kind.
type JsonEvents<const METADATA_ONLY: bool> =
    BoxStream<'static, Result<Event<JsonObject<METADATA_ONLY>>, watcher::Error>>;

/// Starts kube-runtime's watcher in `namespace` (all when `None`) over JSON: full objects, or
/// metadata only completed by `metadata_only`. Only the decode is `K`'s; see [`JsonObject`].
fn open_events<K: Object>(
    client: &Client,
    namespace: Option<&str>,
    config: &watcher::Config,
    metadata_only: Option<fn(&mut K)>,
) -> Events<K> {
    let api = ApiResource::erase::<Decoded<K>>(&());
    let Some(complete) = metadata_only else {
        return json_events::<false>(client, &api, namespace, config)
            .map_ok(|event| map_event(event, JsonObject::decode::<K>))
            .boxed();
    };
    let events = json_events::<true>(client, &api, namespace, config)
        .map_ok(|event| map_event(event, JsonObject::decode::<K>))
        .boxed();
    completed(events, complete)
}

/// kube-runtime's watcher of `api` in `namespace` (all when `None`), with backoff.
fn json_events<const METADATA_ONLY: bool>(
    client: &Client,
    api: &ApiResource,
    namespace: Option<&str>,
    config: &watcher::Config,
) -> JsonEvents<METADATA_ONLY> {
    let api: Api<JsonObject<METADATA_ONLY>> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, api),
        None => Api::all_with(client.clone(), api),
    };
    watcher::watcher(api, config.clone())
        .default_backoff()
        .boxed()
}

/// A metadata-only watch's events, each object completed by its shape's fill-in (what the
/// selector fixed, which `PartialObjectMetadata` does not carry).
fn completed<K: Object>(events: Events<K>, complete: fn(&mut K)) -> Events<K> {
    events
        .map_ok(move |event| {
            map_event(event, |mut obj| {
                if let Decoded::Object(o) = &mut obj {
                    complete(o);
                }
                obj
            })
        })
        .boxed()
}

/// `event` with `f` applied to its object, if it has one.
fn map_event<A, B>(event: Event<A>, f: impl FnOnce(A) -> B) -> Event<B> {
    match event {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(o) => Event::InitApply(f(o)),
        Event::Apply(o) => Event::Apply(f(o)),
        Event::Delete(o) => Event::Delete(f(o)),
    }
}

/// What rendering an object needs besides the object.
struct Render<'a> {
    render: &'a RenderContext,
    selection: &'a FamilySelection,
    shard: Option<&'a Shard>,
}

/// Turns one watcher event into a store change, rendering the object.
///
/// A malformed object is counted and logged; an applied one loses its rows (they would be
/// stale), a listed one is left out of the relist. An object without a UID cannot be stored.
/// An object of another shard renders nothing: its UID never changes shard, so it never had
/// rows here.
fn to_change<K: Object>(
    kind: &Kind<K>,
    telemetry: &Telemetry,
    view: &Render<'_>,
    event: Event<Decoded<K>>,
) -> Option<Change> {
    let resource = kind.resource;
    let rendered = |obj: Decoded<K>, telemetry: &Telemetry| -> Option<(String, Option<_>)> {
        let Some(uid) = obj.meta().uid.clone() else {
            telemetry.decode_error(resource);
            tracing::warn!(
                resource,
                name = obj.meta().name.as_deref().unwrap_or(""),
                "object without a uid; skipped"
            );
            return None;
        };
        if view.shard.is_some_and(|s| !s.owns(&uid)) {
            return None;
        }
        match obj {
            Decoded::Object(o) => {
                // A family that panics on one odd object costs that object's rows, not the
                // watch: counted and logged as an object that does not decode. Rendering
                // writes only into the rows it returns, so nothing is left half-done.
                let render = || kind.render(&o, view.render, view.selection);
                match std::panic::catch_unwind(AssertUnwindSafe(render)) {
                    Ok(rows) => Some((uid, Some(rows))),
                    Err(panic) => {
                        telemetry.decode_error(resource);
                        tracing::error!(
                            resource,
                            namespace = o.meta().namespace.as_deref().unwrap_or(""),
                            name = o.meta().name.as_deref().unwrap_or(""),
                            panic = panic_message(&*panic),
                            "rendering the object panicked; its rows are dropped"
                        );
                        Some((uid, None))
                    }
                }
            }
            Decoded::Malformed { metadata, error } => {
                telemetry.decode_error(resource);
                tracing::warn!(resource, namespace = metadata.namespace.as_deref().unwrap_or(""),
                    name = metadata.name.as_deref().unwrap_or(""),
                    %error, "object does not decode; its rows are dropped");
                Some((uid, None))
            }
        }
    };
    match event {
        Event::Init => Some(Change::Init),
        Event::InitDone => Some(Change::InitDone),
        Event::InitApply(obj) => {
            telemetry.event(resource, "listed");
            match rendered(obj, telemetry)? {
                (uid, Some(rows)) => Some(Change::InitApply(uid, rows)),
                (_, None) => None,
            }
        }
        Event::Apply(obj) => {
            telemetry.event(resource, "applied");
            match rendered(obj, telemetry)? {
                (uid, Some(rows)) => Some(Change::Apply(uid, rows)),
                (uid, None) => Some(Change::Delete(uid)),
            }
        }
        Event::Delete(obj) => {
            telemetry.event(resource, "deleted");
            obj.meta().uid.clone().map(Change::Delete)
        }
    }
}

/// Waits until discovery says the API server serves `K`, reporting the kind unserved
/// meanwhile (see [`until_served_by`]). `false` when told to stop first.
///
/// Unserved kinds are found by discovery (`GET /apis/<group>/<version>`), never by failing
/// lists: each failed list would count in `kube_state_metrics_list_total{result="error"}` and
/// fire kube-state-metrics' `KubeStateMetricsListErrors` alert on a cluster that simply predates
/// the kind's API version. When discovery itself fails (the API server is down), the watch
/// starts anyway and its list reports the error as usual.
async fn until_served<K: Object>(
    kind: &Kind<K>,
    target: &WatchTarget,
    ctx: &WatchContext,
    writer: &mut Writer,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> bool {
    let api = format!("{}/{}", K::KIND.api.group, K::KIND.api.version);
    let probe = || {
        let client = ctx.client.clone();
        async move { (!matches!(served::<K>(&client).await, Ok(false))).then_some(()) }
    };
    let unserved = Unserved {
        resource: kind.resource,
        api: &api,
        target,
        recheck: UNSERVED_RECHECK,
    };
    until_served_by(&unserved, ctx, writer, stop, probe)
        .await
        .is_some()
}

/// A kind whose API may not be served, as [`until_served_by`] reports it.
pub(crate) struct Unserved<'a> {
    /// The kind's resource name (telemetry and logs).
    pub resource: &'a str,
    /// `group/version` as logs name it.
    pub api: &'a str,
    /// The watch's target, for logs.
    pub target: &'a WatchTarget,
    /// How long to wait before asking discovery again.
    pub recheck: Duration,
}

/// Asks `probe` until it finds the kind served (`Some`), reporting the kind unserved (once
/// per change: `ksa_kind_unserved`, one log line, its rows cleared and the shard idle, so it
/// holds no readiness back) meanwhile, and served again when it comes (the shard listing
/// again). `None` when told to stop first.
pub(crate) async fn until_served_by<T, F, Fut>(
    kind: &Unserved<'_>,
    ctx: &WatchContext,
    writer: &mut Writer,
    stop: &mut tokio::sync::watch::Receiver<bool>,
    mut probe: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let resource = kind.resource;
    let target = kind.target;
    let mut unserved = false;
    // A kind nobody watches any more (leadership lost, disabled by a reload) is not unserved.
    let stopped = |unserved: bool| {
        if unserved {
            ctx.telemetry.kind_unserved(resource, false);
        }
        None
    };
    loop {
        // Stopping MUST not wait for an API server that does not answer: a lost lease clears
        // the leader's rows once its watches have stopped.
        let served = tokio::select! {
            served = probe() => served,
            _ = stop.wait_for(|s| *s) => return stopped(unserved),
        };
        match served {
            Some(found) => {
                if unserved {
                    ctx.telemetry.kind_unserved(resource, false);
                    tracing::info!(resource, target = %target, "the API is served now");
                    writer.start_listing();
                }
                return Some(found);
            }
            None => {
                if !unserved {
                    unserved = true;
                    ctx.telemetry.kind_unserved(resource, true);
                    tracing::warn!(resource, target = %target, api = kind.api,
                        "this apiserver does not serve the kind's API; checking discovery again every {} s",
                        kind.recheck.as_secs());
                    writer.clear();
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(kind.recheck) => {}
            _ = stop.wait_for(|s| *s) => return stopped(unserved),
        }
    }
}

/// Whether discovery lists `K`'s resource: `Ok(false)` when its group version or the resource
/// is missing.
///
/// # Errors
/// When discovery itself fails (not a 404).
async fn served<K: Object>(client: &Client) -> Result<bool, kube::Error> {
    let resources = if K::KIND.api.group.is_empty() {
        client.list_core_api_resources(K::KIND.api.version).await
    } else {
        client
            .list_api_group_resources(&format!("{}/{}", K::KIND.api.group, K::KIND.api.version))
            .await
    };
    match resources {
        Ok(list) => Ok(list.resources.iter().any(|r| r.name == K::KIND.api.plural)),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
        Err(e) => {
            tracing::debug!(api = %format!("{}/{}", K::KIND.api.group, K::KIND.api.version), error = %e,
                "discovery failed; listing anyway");
            Err(e)
        }
    }
}

/// How often a kind whose API the apiserver does not serve is looked for again.
const UNSERVED_RECHECK: std::time::Duration = std::time::Duration::from_secs(300);

/// Whether the initial list failed because the apiserver does not serve the API at all
/// (404 on the collection), e.g. `batch/v1` CronJobs on Kubernetes 1.20.
fn is_not_served(err: &watcher::Error) -> bool {
    matches!(err, watcher::Error::InitialListFailed(kube::Error::Api(s)) if s.code == 404)
}

/// A bounded label value for a watcher error.
fn error_reason(err: &watcher::Error) -> &'static str {
    match err {
        watcher::Error::InitialListFailed(_) => "list_failed",
        watcher::Error::WatchStartFailed(_) => "watch_start_failed",
        watcher::Error::WatchError(status) if status.code == 410 => "gone",
        watcher::Error::WatchError(_) => "watch_error",
        watcher::Error::WatchFailed(_) => "watch_failed",
        watcher::Error::NoResourceVersion => "no_resource_version",
    }
}

/// Reports the cluster's Namespace names to `publish` after every change: a metadata-only
/// watch (a few hundred bytes per namespace, no spec or status), resumed and relisted like
/// every other, for `--auth-filter`'s tenant decisions (the namespaces a user's rights are
/// checked in). A relist reports the new list whole at its end. Runs until aborted; errors are
/// logged and retried with backoff.
pub async fn follow_namespace_names(client: Client, publish: impl Fn(Vec<std::sync::Arc<str>>)) {
    use std::collections::BTreeSet;
    use std::sync::Arc;
    type Names = kube::core::PartialObjectMeta<k8s_openapi::api::core::v1::Namespace>;
    let api: Api<Names> = Api::all(client);
    let events = watcher::watcher(api, watcher::Config::default()).default_backoff();
    futures::pin_mut!(events);
    let mut listing: Option<BTreeSet<Arc<str>>> = None;
    let mut names: BTreeSet<Arc<str>> = BTreeSet::new();
    let name = |m: &Names| -> Option<Arc<str>> { m.metadata.name.as_deref().map(Arc::from) };
    while let Some(event) = events.next().await {
        let changed = match event {
            Ok(Event::Init) => {
                listing = Some(BTreeSet::new());
                false
            }
            Ok(Event::InitApply(m)) => {
                if let (Some(l), Some(n)) = (&mut listing, name(&m)) {
                    l.insert(n);
                }
                false
            }
            Ok(Event::InitDone) => {
                names = listing.take().unwrap_or_default();
                true
            }
            Ok(Event::Apply(m)) => name(&m).is_some_and(|n| names.insert(n)),
            Ok(Event::Delete(m)) => name(&m).is_some_and(|n| names.remove(&n)),
            Err(e) => {
                tracing::warn!(resource = "namespaces", error = %e,
                    "watching namespace names failed; retrying");
                false
            }
        };
        if changed {
            publish(names.iter().cloned().collect());
        }
    }
}

/// A pod watch started for a test against a mock API server, with what the test observes.
#[cfg(test)]
pub(crate) struct TestPodWatch {
    /// The rows the watch writes.
    pub reader: crate::store::Reader,
    /// The watch's self-metrics.
    pub telemetry: Telemetry,
    /// Send `true` to stop the watch.
    pub stop: tokio::sync::watch::Sender<bool>,
    /// The watch task.
    pub task: tokio::task::JoinHandle<crate::store::Writer>,
}

#[cfg(test)]
impl TestPodWatch {
    /// Starts the pod watch of `field_selector` over `encoding` against `client`, feeding a
    /// fresh shard, every family enabled.
    pub(crate) fn start(
        client: Client,
        field_selector: Option<&str>,
        encoding: crate::config::ApiEncoding,
    ) -> TestPodWatch {
        use crate::registry::KindInfo;
        use crate::resources::pod::KIND as POD;
        let telemetry = Telemetry::new();
        let (writer, reader) = crate::store::shard("pods", crate::store::ChangeSignal::default());
        let spec = WatchSpec {
            target: WatchTarget {
                namespace: None,
                field_selector: field_selector.map(str::to_string),
            },
            render: RenderContext::default(),
            selection: FamilySelection::new(&POD.headers(), |_| true),
            shape: Shape::Whole,
            list: ListOptions {
                encoding,
                ..ListOptions::default()
            },
            shard: None,
            namespaces: NamespaceFilter::default(),
            node_binding: NodeBinding::All,
        };
        let ctx = WatchContext {
            client,
            telemetry: telemetry.clone(),
            node_labels: Default::default(),
        };
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(POD.watch(spec, ctx, writer, stopped));
        TestPodWatch {
            reader,
            telemetry,
            stop,
            task,
        }
    }
}

/// A discovery answer (`APIResourceList`) listing `plurals`, for mock API servers in tests.
#[cfg(test)]
pub(crate) fn discovery_answer(plurals: &[&str]) -> http::Response<kube::client::Body> {
    http::Response::new(kube::client::Body::from(
        discovery_json(plurals).into_bytes(),
    ))
}

/// The JSON of [`discovery_answer`].
#[cfg(test)]
pub(crate) fn discovery_json(plurals: &[&str]) -> String {
    let resources: Vec<serde_json::Value> = plurals
        .iter()
        .map(|p| {
            serde_json::json!({"name": p, "singularName": "", "namespaced": true, "kind": "Thing",
                "verbs": ["list", "watch"]})
        })
        .collect();
    serde_json::json!({"kind": "APIResourceList", "apiVersion": "v1",
        "groupVersion": "v1", "resources": resources})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::{Identity, MetricType, Series};
    use crate::registry::KindInfo;
    use crate::resources::pod::{KIND as POD, Pod};
    use crate::resources::{ApiType, Family, Scope, WatchShape};
    use crate::store::ShardState;
    use kube::ResourceExt;

    fn decoded(json: &str) -> Decoded<Pod> {
        serde_json::from_str(json).unwrap()
    }

    fn all(kind: &Kind<Pod>) -> FamilySelection {
        FamilySelection::new(&kind.headers(), |_| true)
    }

    fn change(t: &Telemetry, event: Event<Decoded<Pod>>) -> Option<Change> {
        let view = Render {
            render: &RenderContext::default(),
            selection: &all(&POD),
            shard: None,
        };
        to_change(&POD, t, &view, event)
    }

    #[test]
    fn a_json_object_keeps_its_identity_for_the_watcher_and_decodes_into_its_kind() {
        let ok: JsonObject<false> = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n","uid":"u1","resourceVersion":"42"},"status":{"phase":"Running"}}"#,
        )
        .unwrap();
        assert_eq!(ok.resource_version().as_deref(), Some("42"));
        match ok.decode::<Pod>() {
            Decoded::Object(pod) => assert_eq!(pod.metadata.uid.as_deref(), Some("u1")),
            Decoded::Malformed { error, .. } => panic!("{error}"),
        }
        let bad: JsonObject<false> = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n","uid":"u2","resourceVersion":"43"},"spec":{"containers":"oops"}}"#,
        )
        .unwrap();
        assert_eq!(bad.resource_version().as_deref(), Some("43"));
        match bad.decode::<Pod>() {
            Decoded::Malformed { metadata, error } => {
                assert_eq!(metadata.uid.as_deref(), Some("u2"));
                assert!(error.contains("invalid type"), "{error}");
            }
            Decoded::Object(pod) => panic!("decoded {pod:?}"),
        }
        let not_an_object = serde_json::from_str::<JsonObject<false>>(r#"{"metadata":7}"#);
        assert!(not_an_object.is_err());
    }

    #[test]
    fn a_malformed_applied_object_drops_its_rows_and_is_counted() {
        let t = Telemetry::new();
        let obj = decoded(
            r#"{"metadata":{"name":"p","namespace":"n","uid":"u1"},"spec":{"containers":"oops"}}"#,
        );
        let change = change(&t, Event::Apply(obj));
        assert!(matches!(change, Some(Change::Delete(uid)) if uid == "u1"));
        assert_eq!(
            t.value("ksa_decode_errors_total", &[("resource", "pods")]),
            Some(1.0)
        );
    }

    /// Pods whose one family panics on the pod named `odd`.
    static PANICKY: Kind<Pod> = Kind {
        resource: "pods",
        api: ApiType::new("", "v1", "Pod", "pods"),
        scope: Scope::Namespaced,
        shapes: &[WatchShape::FULL],
        protobuf: None,
        identity: |_| Identity::default(),
        families: &[Family::stable(
            "test_pod_ok",
            "1 unless the pod is odd.",
            MetricType::Gauge,
            |pod: &Pod, out: &mut Series<'_>| {
                assert_ne!(pod.meta().name.as_deref(), Some("odd"), "an odd pod");
                out.value(1.0);
            },
        )],
    };

    #[test]
    fn a_render_that_panics_costs_only_that_objects_rows() {
        let t = Telemetry::new();
        let view = Render {
            render: &RenderContext::default(),
            selection: &all(&PANICKY),
            shard: None,
        };
        let pod = |name: &str| {
            decoded(&format!(
                r#"{{"metadata":{{"name":"{name}","namespace":"n","uid":"u-{name}"}}}}"#
            ))
        };
        let odd = to_change(&PANICKY, &t, &view, Event::Apply(pod("odd")));
        assert!(
            matches!(&odd, Some(Change::Delete(uid)) if uid == "u-odd"),
            "{odd:?}"
        );
        assert!(
            to_change(&PANICKY, &t, &view, Event::InitApply(pod("odd"))).is_none(),
            "left out of the list"
        );
        assert_eq!(
            t.value("ksa_decode_errors_total", &[("resource", "pods")]),
            Some(2.0)
        );
        match to_change(&PANICKY, &t, &view, Event::Apply(pod("even"))) {
            Some(Change::Apply(uid, rows)) => {
                assert_eq!(uid, "u-even");
                assert_eq!(rows.all(), b"test_pod_ok 1\n");
            }
            other => panic!("the next object renders: {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_watch_that_panics_loses_its_rows_and_starts_again_after_a_backoff() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};

        let telemetry = Telemetry::new();
        let signal = crate::store::ChangeSignal::default();
        let (mut writer, reader) = crate::store::shard("pods", signal);
        writer.start_listing();
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let runs = Arc::new(AtomicUsize::new(0));
        let run_times = Arc::new(std::sync::Mutex::new(Vec::new()));
        let rows = |v: &str| {
            let pod = decoded(&format!(
                r#"{{"metadata":{{"name":"{v}","namespace":"n","uid":"u"}}}}"#
            ));
            let Decoded::Object(pod) = pod else {
                unreachable!()
            };
            PANICKY.render(&pod, &RenderContext::default(), &all(&PANICKY))
        };
        let watch = {
            let (runs, run_times, stop) = (runs.clone(), run_times.clone(), stop.clone());
            move |mut writer: Writer| {
                let (runs, run_times, mut stop) = (runs.clone(), run_times.clone(), stop.clone());
                let listed = rows("p");
                async move {
                    let run = runs.fetch_add(1, Ordering::SeqCst);
                    run_times.lock().unwrap().push(tokio::time::Instant::now());
                    writer.apply(Change::Init);
                    writer.apply(Change::InitApply("u".into(), listed));
                    writer.apply(Change::InitDone);
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    // The first two runs panic after their list; the third runs until stopped.
                    assert!(run >= 2, "a bug after {run} runs");
                    let _ = stop.wait_for(|s| *s).await;
                    writer.clear();
                    writer
                }
            }
        };
        let task = tokio::spawn(supervised("pods", writer, stop, telemetry.clone(), watch));
        let panics = || telemetry.value("ksa_watch_panics_total", &[("resource", "pods")]);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
        while reader.state() != ShardState::Listed {
            assert!(tokio::time::Instant::now() < deadline, "never listed");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        while panics() != Some(1.0) {
            assert_eq!(reader.len(), 1, "the rows stay while the watch runs");
            assert!(tokio::time::Instant::now() < deadline, "never panicked");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(reader.is_empty(), "a panicked watch's rows are gone");
        assert_eq!(
            reader.state(),
            ShardState::Listing,
            "readiness waits for the restart"
        );
        while runs.load(Ordering::SeqCst) < 3 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never restarted twice"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(panics(), Some(2.0));
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(
            reader.state(),
            ShardState::Listed,
            "the restarted watch lists"
        );
        assert_eq!(reader.len(), 1);
        let times = run_times.lock().unwrap().clone();
        let waits: Vec<Duration> = times
            .windows(2)
            .map(|w| w[1] - w[0] - Duration::from_secs(30))
            .collect();
        assert_eq!(
            waits,
            [PANIC_BACKOFF_MIN, PANIC_BACKOFF_MIN * 2],
            "the backoff doubles"
        );

        stop_tx.send(true).unwrap();
        // The third run is in its 30 s sleep, then sees the stop.
        let writer = tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .expect("stops when told")
            .expect("the supervisor itself never panics");
        assert!(reader.is_empty());
        assert!(reader.writer_after_loss().is_none(), "the writer came back");
        drop(writer);
    }

    #[test]
    fn a_listed_object_is_rendered_and_counted() {
        let t = Telemetry::new();
        let obj = decoded(
            r#"{"metadata":{"name":"p","namespace":"n","uid":"u1"},"status":{"phase":"Running"}}"#,
        );
        let change = change(&t, Event::InitApply(obj));
        match change {
            Some(Change::InitApply(uid, rows)) => {
                assert_eq!(uid, "u1");
                let text = String::from_utf8(rows.all().to_vec()).unwrap();
                assert!(text.contains("kube_pod_status_phase{namespace=\"n\",pod=\"p\",uid=\"u1\",phase=\"Running\"} 1"), "{text}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            t.value(
                "ksa_watch_events_total",
                &[("resource", "pods"), ("type", "listed")]
            ),
            Some(1.0)
        );
    }

    /// The API calls the mock apiserver expects, in order, and what it answers.
    enum Scenario {
        /// A list with this field selector, answered with these items at resourceVersion 10.
        List {
            selector: &'static str,
            items: Vec<serde_json::Value>,
        },
        /// Any request, answered 404 as for an API version the apiserver does not serve.
        NotServed,
        /// A discovery request, answered with these resources.
        Discovery { plurals: &'static [&'static str] },
        /// A watch from resourceVersion 10, answered with these (type, object) events.
        Watch {
            events: Vec<(&'static str, serde_json::Value)>,
        },
    }

    async fn serve(
        mut handle: tower_test::mock::Handle<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >,
        scenario: Vec<Scenario>,
    ) {
        for step in scenario {
            let (req, send) = handle
                .next_request()
                .await
                .expect("the watch made its next call");
            let query = req.uri().query().unwrap_or("").to_string();
            if let Scenario::NotServed = step {
                let status = serde_json::json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "the server could not find the requested resource", "reason": "NotFound", "code": 404});
                let mut res =
                    http::Response::new(kube::client::Body::from(status.to_string().into_bytes()));
                *res.status_mut() = http::StatusCode::NOT_FOUND;
                send.send_response(res);
                continue;
            }
            if let Scenario::Discovery { plurals } = step {
                assert!(
                    req.uri().path() == "/api/v1" || req.uri().path().starts_with("/apis/"),
                    "expected discovery: {}",
                    req.uri()
                );
                send.send_response(discovery_answer(plurals));
                continue;
            }
            let body = match step {
                Scenario::NotServed | Scenario::Discovery { .. } => unreachable!(),
                Scenario::List { selector, items } => {
                    assert!(!query.contains("watch=true"), "expected a list: {query}");
                    assert!(
                        query.contains(selector),
                        "selector {selector} missing: {query}"
                    );
                    serde_json::json!({"kind": "PodList", "apiVersion": "v1",
                        "metadata": {"resourceVersion": "10"}, "items": items})
                    .to_string()
                }
                Scenario::Watch { events } => {
                    assert!(query.contains("watch=true"), "expected a watch: {query}");
                    assert!(
                        query.contains("resourceVersion=10"),
                        "must resume from the list: {query}"
                    );
                    // The apiserver writes `type` before `object` (Go field order); json!
                    // would sort the keys, so the lines are assembled by hand.
                    events
                        .iter()
                        .map(|(kind, obj)| format!("{{\"type\":\"{kind}\",\"object\":{obj}}}\n"))
                        .collect()
                }
            };
            send.send_response(http::Response::new(kube::client::Body::from(
                body.into_bytes(),
            )));
        }
        // Hold further calls open, like an idle watch.
        let _pending = handle.next_request().await;
        std::future::pending::<()>().await;
    }

    fn pod_json(uid: &str, name: &str, phase: serde_json::Value) -> serde_json::Value {
        serde_json::json!({"metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "9"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "i"}]},
            "status": {"phase": phase}})
    }

    /// Pod `bad-{i}`, malformed in one of four ways the real API server would refuse to store.
    fn malformed_pod(i: usize) -> serde_json::Value {
        let uid = format!("bad-{i}");
        let mut pod = pod_json(&uid, &uid, serde_json::json!("Running"));
        match i % 4 {
            0 => pod["status"]["phase"] = serde_json::json!({"not": "a string"}),
            1 => pod["spec"]["containers"] = serde_json::json!("not a list"),
            2 => pod["metadata"]["labels"] = serde_json::json!(["not", "a", "map"]),
            _ => pod["metadata"]["creationTimestamp"] = serde_json::json!(true),
        }
        pod
    }

    #[tokio::test]
    async fn a_thousand_malformed_pods_are_counted_and_every_other_pod_keeps_flowing() {
        const BAD: usize = 1000;
        let mut listed = vec![pod_json("u1", "good", serde_json::json!("Running"))];
        listed.extend((0..BAD).map(malformed_pod));
        listed.push(pod_json("u2", "also-good", serde_json::json!("Running")));
        // The watch brings the same thousand again, malformed anew, between good events.
        let mut events = vec![(
            "ADDED",
            pod_json("u3", "late", serde_json::json!("Pending")),
        )];
        events.extend((0..BAD).map(|i| ("MODIFIED", malformed_pod(i + 1))));
        events.push(("MODIFIED", pod_json("u1", "good", serde_json::json!(7))));
        events.push((
            "ADDED",
            pod_json("u4", "last", serde_json::json!("Running")),
        ));
        let (mock, handle) = tower_test::mock::pair();
        let client = Client::new(mock, "default");
        let mut server = tokio::spawn(serve(
            handle,
            vec![
                Scenario::Discovery { plurals: &["pods"] },
                Scenario::List {
                    selector: "fieldSelector=spec.nodeName%3Dn1",
                    items: listed,
                },
                Scenario::Watch { events },
            ],
        ));
        let TestPodWatch {
            reader,
            telemetry,
            stop: stop_tx,
            task,
        } = TestPodWatch::start(client, Some("spec.nodeName=n1"), ApiEncoding::Json);

        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
        let text = loop {
            let text: String = reader
                .rows()
                .iter()
                .map(|r| String::from_utf8(r.all().to_vec()).unwrap())
                .collect();
            let last_seen = text.contains("pod=\"last\"");
            let good_gone = !text.contains("pod=\"good\"");
            if reader.state() == ShardState::Listed && last_seen && good_gone {
                break text;
            }
            if server.is_finished() {
                panic!("the mock apiserver stopped: {:?}", (&mut server).await);
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "store never converged: {text}\n{}",
                String::from_utf8_lossy(&telemetry.encode())
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        };
        assert!(!text.contains("pod=\"bad-"), "a malformed pod has no rows");
        for good in ["also-good", "late", "last"] {
            assert!(text.contains(&format!("pod=\"{good}\"")), "{good}: {text}");
        }
        // Each malformed object once in the list and once in the watch, and the good pod
        // that turned malformed (its rows went with it).
        assert_eq!(
            telemetry.value("ksa_decode_errors_total", &[("resource", "pods")]),
            Some((2 * BAD + 1) as f64)
        );
        // Stopping clears the shard and hands the writer back.
        stop_tx.send(true).unwrap();
        let _writer = tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("the watch stops when told")
            .unwrap();
        assert!(reader.is_empty(), "a stopped watch leaves no rows");
        assert_eq!(reader.state(), ShardState::Idle);
        server.abort();
    }

    #[tokio::test]
    async fn a_kind_the_apiserver_does_not_serve_is_reported_and_leaves_readiness() {
        let (mock, handle) = tower_test::mock::pair();
        let client = Client::new(mock, "default");
        let server = tokio::spawn(serve(handle, vec![Scenario::NotServed]));
        let TestPodWatch {
            reader,
            telemetry,
            stop: stop_tx,
            task,
        } = TestPodWatch::start(client, None, ApiEncoding::Json);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while telemetry.value("ksa_kind_unserved", &[("resource", "pods")]) != Some(1.0) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reported unserved"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(
            reader.state(),
            ShardState::Idle,
            "an unserved kind must not hold readiness back"
        );
        stop_tx.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("stops while waiting to re-check")
            .unwrap();
        assert_eq!(
            telemetry.value("ksa_kind_unserved", &[("resource", "pods")]),
            Some(0.0),
            "a kind no longer watched is not reported unserved"
        );
        server.abort();
    }

    #[test]
    fn an_object_of_another_shard_renders_nothing() {
        let t = Telemetry::new();
        let obj = || decoded(r#"{"metadata":{"name":"p","namespace":"n","uid":"test_uid"}}"#);
        let (render, selection) = (RenderContext::default(), all(&POD));
        let shards = [Shard { index: 0, total: 2 }, Shard { index: 1, total: 2 }];
        let view = |index: usize| Render {
            render: &render,
            selection: &selection,
            shard: Some(&shards[index]),
        };
        // kube-state-metrics puts uid "test_uid" in shard 0 of 2.
        let mine = to_change(&POD, &t, &view(0), Event::Apply(obj()));
        assert!(matches!(mine, Some(Change::Apply(uid, _)) if uid == "test_uid"));
        assert!(to_change(&POD, &t, &view(1), Event::Apply(obj())).is_none());
        assert!(to_change(&POD, &t, &view(1), Event::InitApply(obj())).is_none());
    }

    #[tokio::test]
    async fn a_metadata_only_shape_asks_for_metadata_from_the_cache_and_keeps_the_limit() {
        let accept = metadata_only_list(ApiEncoding::Json).await;
        assert!(
            accept.starts_with("application/json;as=PartialObjectMetadataList"),
            "{accept}"
        );
    }

    #[tokio::test]
    async fn a_metadata_only_shape_over_protobuf_asks_for_partial_metadata_as_protobuf() {
        let accept = metadata_only_list(ApiEncoding::Protobuf).await;
        assert_eq!(accept, crate::wire::partial::LIST_CONTENT_TYPE);
    }

    /// Lists three Secrets through the metadata-only `type=kubernetes.io/tls` shape over
    /// `encoding`, from the watch cache, with `--object-limit=2`, answering in the encoding
    /// asked for; asserts the rows, the limit and the query, and returns the list's `Accept`.
    async fn metadata_only_list(encoding: ApiEncoding) -> String {
        use crate::resources::secret::KIND as SECRET;
        use crate::wire::{envelope, list, meta, partial};
        use prost::Message as _;
        let (mock, mut handle) = tower_test::mock::pair::<
            http::Request<kube::client::Body>,
            http::Response<kube::client::Body>,
        >();
        let client = Client::new(mock, "default");
        let telemetry = Telemetry::new();
        let (writer, reader) =
            crate::store::shard("secrets", crate::store::ChangeSignal::default());
        let server = tokio::spawn(async move {
            let (_, send) = handle.next_request().await.expect("discovery");
            send.send_response(discovery_answer(&["secrets"]));
            let (req, send) = handle.next_request().await.expect("a list");
            let accept = req.headers()[http::header::ACCEPT]
                .to_str()
                .unwrap()
                .to_string();
            let query = req.uri().query().unwrap_or("").to_string();
            let names = [("a", "u1"), ("b", "u2"), ("c", "u3")];
            let response = if accept.starts_with(crate::wire::CONTENT_TYPE) {
                let items: Vec<Vec<u8>> = names
                    .iter()
                    .map(|(name, uid)| {
                        meta::MetadataOnly {
                            metadata: Some(meta::ObjectMeta {
                                name: Some(name.to_string()),
                                namespace: Some("ns".into()),
                                uid: Some(uid.to_string()),
                                resource_version: Some("5".into()),
                                ..Default::default()
                            }),
                        }
                        .encode_to_vec()
                    })
                    .collect();
                let body = envelope::seal(
                    partial::API_VERSION,
                    partial::LIST_KIND,
                    &list::encode_list("10", "", &items),
                );
                http::Response::builder()
                    .header(http::header::CONTENT_TYPE, crate::wire::CONTENT_TYPE)
                    .body(kube::client::Body::from(body))
                    .unwrap()
            } else {
                let item = |(name, uid): &(&str, &str)| {
                    serde_json::json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "5"}})
                };
                let list = serde_json::json!({"kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": "10"},
                    "items": names.iter().map(item).collect::<Vec<_>>()});
                http::Response::new(kube::client::Body::from(list.to_string().into_bytes()))
            };
            send.send_response(response);
            let _pending = handle.next_request().await;
            (accept, query)
        });
        let spec = WatchSpec {
            target: WatchTarget {
                namespace: Some("ns".into()),
                field_selector: Some("type=kubernetes.io/tls".into()),
            },
            render: RenderContext::default(),
            selection: FamilySelection::new(&SECRET.headers(), |_| true),
            // Metadata only: the type comes from the selector.
            shape: Shape::Lean {
                selector: "type=kubernetes.io/tls",
            },
            list: ListOptions {
                use_apiserver_cache: true,
                object_limit: Some(2),
                encoding,
                timeout_secs: None,
            },
            shard: None,
            namespaces: NamespaceFilter::default(),
            node_binding: NodeBinding::All,
        };
        let ctx = WatchContext {
            client,
            telemetry: telemetry.clone(),
            node_labels: Default::default(),
        };
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(SECRET.watch(spec, ctx, writer, stop));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while reader.state() != ShardState::Listed {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the list never completed"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let text: String = reader
            .rows()
            .iter()
            .map(|r| String::from_utf8(r.all().to_vec()).unwrap())
            .collect();
        // The type comes from the selector: a PartialObjectMetadata has none.
        assert!(
            text.contains(
                r#"kube_secret_type{namespace="ns",secret="a",type="kubernetes.io/tls"} 1"#
            ),
            "{text}"
        );
        assert_eq!(
            reader.rows().len(),
            2,
            "--object-limit=2 keeps two of three: {text}"
        );
        assert_eq!(
            telemetry.value(
                "ksa_list_objects_over_limit_total",
                &[("resource", "secrets")]
            ),
            Some(1.0)
        );
        stop_tx.send(true).unwrap();
        task.await.unwrap();
        let (accept, query) = server.await.unwrap();
        assert!(query.contains("resourceVersion=0"), "{query}");
        assert!(
            query.contains("fieldSelector=type%3Dkubernetes.io%2Ftls"),
            "{query}"
        );
        accept
    }

    #[test]
    fn the_object_limit_drops_each_lists_objects_past_it_and_counts_them() {
        let t = Telemetry::new();
        let list = ListOptions {
            object_limit: Some(2),
            ..ListOptions::default()
        };
        let target = WatchTarget {
            namespace: None,
            field_selector: None,
        };
        let mut limit = ObjectLimit::default();
        let mut admits = |e: Event<()>| limit.admits(&e, &list, &t, "widgets", &target);
        let first: Vec<bool> = [
            Event::Init,
            Event::InitApply(()),
            Event::InitApply(()),
            Event::InitApply(()),
            Event::InitDone,
            Event::Apply(()),
        ]
        .into_iter()
        .map(&mut admits)
        .collect();
        assert_eq!(first, [true, true, true, false, true, true]);
        // A relist starts counting again.
        assert!(admits(Event::Init));
        assert!(admits(Event::InitApply(())));
        assert_eq!(
            t.value(
                "ksa_list_objects_over_limit_total",
                &[("resource", "widgets")]
            ),
            Some(1.0)
        );
    }

    #[test]
    fn objects_without_uid_are_skipped_and_counted() {
        let t = Telemetry::new();
        let obj = decoded(r#"{"metadata":{"name":"p"}}"#);
        assert!(change(&t, Event::Apply(obj)).is_none());
        assert_eq!(
            t.value("ksa_decode_errors_total", &[("resource", "pods")]),
            Some(1.0)
        );
    }

    #[test]
    fn the_own_node_watch_publishes_the_nodes_labels_and_none_once_it_is_gone() {
        use crate::resources::node::Node;
        let node = |labels: serde_json::Value| -> Decoded<Node> {
            let json = serde_json::json!({"metadata": {"name": "n1", "uid": "u1",
                "labels": labels}});
            serde_json::from_str(&json.to_string()).unwrap()
        };
        let labels = NodeLabels::default();
        let seen = labels.subscribe();
        let mut own = OwnNode::default();
        let now = |seen: &tokio::sync::watch::Receiver<
            Option<crate::leader::candidacy::Labels>,
        >| { seen.borrow().as_ref().map(|l| l.get("role").cloned()) };
        own.publish(&Event::<Decoded<Node>>::Init, &labels);
        own.publish(
            &Event::InitApply(node(serde_json::json!({"role": "a"}))),
            &labels,
        );
        own.publish(&Event::<Decoded<Node>>::InitDone, &labels);
        assert_eq!(now(&seen), Some(Some("a".to_string())), "listed");
        own.publish(
            &Event::Apply(node(serde_json::json!({"role": "b"}))),
            &labels,
        );
        assert_eq!(now(&seen), Some(Some("b".to_string())), "changed");
        own.publish(&Event::Apply(node(serde_json::json!(null))), &labels);
        assert_eq!(
            now(&seen),
            Some(None),
            "no labels left: an empty map, not unknown"
        );
        own.publish(&Event::Delete(node(serde_json::json!(null))), &labels);
        assert_eq!(now(&seen), None, "deleted");
        own.publish(
            &Event::Apply(node(serde_json::json!({"role": "c"}))),
            &labels,
        );
        own.publish(&Event::<Decoded<Node>>::Init, &labels);
        own.publish(&Event::<Decoded<Node>>::InitDone, &labels);
        assert_eq!(now(&seen), None, "a relist without the Node: gone");
    }
}
