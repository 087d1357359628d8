//! The watch of one configured custom resource ([`run`]): discovery finds the served
//! resource(s) the config's group, version and kind name, one JSON watch per resolved
//! resource feeds the kind's store shard, and each object is rendered by the custom resource
//! state library and dropped.
//!
//! What callers may rely on:
//! - **Not served yet** (no CRD): reported as a built-in kind whose API is not served
//!   (`ksa_kind_unserved`, one log line, the shard idle so readiness is not held back), and
//!   discovery is asked again every [`DISCOVERY_RECHECK`], so a CRD created later is picked
//!   up without a restart.
//! - **Gone** (the CRD was deleted): the list or watch answers 404; the rows are dropped and
//!   the watch goes back to waiting on discovery.
//! - **Wildcards** (`version: "*"`, `kind: "*"`): resolved through discovery to every matching
//!   served resource when the watch starts, and again every [`WILDCARD_RECHECK`]; a changed
//!   set restarts the watch: everything is listed again through the shard's relist swap, so
//!   the rows in place stay served until the new lists are in, and then are replaced at once. Each resolution renders
//!   with [`ResourceMetrics::resolved`], so its `customresource_*` labels name its own GVK;
//!   an object served under several versions is exported once per version, as
//!   kube-state-metrics does ([`store_key`]).
//! - **Namespaces and limits**: once discovery says whether a resolved resource is
//!   namespaced, `--namespaces` (a stream per namespace) and `--namespaces-denylist` (a
//!   `metadata.namespace!=…` selector) apply to it as to a built-in namespaced kind
//!   ([`stream_targets`]); `--object-limit` limits each stream's lists as a built-in watch's
//!   ([`ObjectLimit`]).
//! - **Node-bound resources** (`nodeNameFromPath`, [`NodeBinding`]): before its streams start,
//!   each resolution's node field selector is tried with a list of one object
//!   ([`selectable`]); a 400 means the API server cannot select on the field (no
//!   `selectableFields` entry, or a server before 1.30). A node agent then watches nothing
//!   and the leader everything; otherwise the node agent watches `<field>=<node>` and the
//!   leader `<field>=`. While it falls back, the watch asks again every
//!   [`SELECTABLE_RECHECK`]; a stream refused its selector later (the CRD dropped the field)
//!   falls back at once. Either switch relists through the shard's relist swap, so the rows
//!   of objects no longer this watch's leave at its end and the others never blink.
//! - **Sample errors** (a value that does not convert) are counted in
//!   `ksa_custom_resource_sample_errors_total{resource,metric}` and logged at most once per
//!   object and metric per minute ([`LogLimiter`]).
//!
//! Several resolved resources share one shard. Kube's watcher reports each stream's relists
//! (`Init` … `InitDone`), but the shard's own relist swap would let one stream's list replace
//! every other's rows; so each stream's relist is settled here (UIDs it no longer lists are
//! deleted at its `InitDone`) and the shard sees one list, from the start to the moment every
//! stream has listed once.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use kube::Client;
use kube::core::{ApiResource, GroupVersion};
use kube::runtime::watcher::{self, Event};

use super::{
    ActiveWatch, JsonObject, NodeBinding, ObjectLimit, StopSignal, Unserved, WatchContext,
    WatchSpec, WatchTarget, error_reason, json_events, listing_and_supervised, panic_message,
    until_served_by, watcher_config,
};
use crate::config::NamespaceFilter;
use crate::custom::kind::CustomKind;
use crate::custom::log_limit::LogLimiter;
use crate::custom::{GroupVersionKind, ResourceMetrics};
use crate::registry::KindInfo as _;
use crate::resources::{FamilySelection, Rows, Scope};
use crate::sharding::Shard;
use crate::store::{Change, ShardState, Writer};
use crate::telemetry::Telemetry;

/// How often discovery is asked again while a custom resource is not served. Custom resources
/// come and go with their CRDs while the agent runs, unlike built-in API versions, hence a
/// far shorter wait than the built-in kinds'; one discovery request per wait.
pub const DISCOVERY_RECHECK: Duration = Duration::from_secs(10);

/// How often a wildcard entry is resolved again while it is served.
pub const WILDCARD_RECHECK: Duration = Duration::from_secs(60);

/// How often a node-bound resource whose node field the API server could not select on is
/// tried again (a CRD that gains `selectableFields`): one list of one object per resolution
/// per wait, on every agent.
pub const SELECTABLE_RECHECK: Duration = Duration::from_secs(60);

/// Makes the watch of custom kind `kind`: the shard is listing from this call on, and the
/// watch is [`supervised`] like a built-in kind's.
pub(crate) fn run(
    kind: &'static CustomKind,
    spec: WatchSpec,
    ctx: WatchContext,
    writer: Writer,
    stop: StopSignal,
) -> impl Future<Output = Writer> + Send + 'static {
    listing_and_supervised(
        kind.resource(),
        writer,
        stop.clone(),
        ctx.telemetry.clone(),
        move |writer| watch_until_stopped(kind, spec.clone(), ctx.clone(), writer, stop.clone()),
    )
}

/// One served resource a configured entry resolved to, with the metrics that render it.
#[derive(Clone, Debug)]
struct Resolved {
    api: ApiResource,
    /// Whether discovery says its objects live in namespaces (`true` when discovery could
    /// not say: the namespace filters then apply, so nothing they exclude is exported).
    namespaced: bool,
    metrics: Arc<ResourceMetrics>,
}

impl Resolved {
    fn key(&self) -> (&str, &str, &str, &str) {
        (
            &self.api.group,
            &self.api.version,
            &self.api.kind,
            &self.api.plural,
        )
    }
}

/// Whether two resolutions name the same resources.
fn same(a: &[Resolved], b: &[Resolved]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.key() == y.key())
}

/// What discovery found for a configured entry: `None` when nothing it names is served.
///
/// When discovery itself fails (not a 404), a concrete entry with a configured
/// `resourcePlural` is watched anyway (its list reports the error as usual); any other entry
/// waits for discovery, since its plural or versions are unknown.
async fn resolve(client: &Client, kind: &CustomKind) -> Option<Vec<Resolved>> {
    let gvk = kind.gvk();
    let group = if gvk.version == "*" {
        kube::discovery::group(client, &gvk.group).await
    } else {
        kube::discovery::pinned_group(client, &GroupVersion::gv(&gvk.group, &gvk.version)).await
    };
    let group = match group {
        Ok(group) => group,
        Err(kube::Error::Api(status)) if status.code == 404 => return None,
        Err(kube::Error::Discovery(_)) => return None,
        Err(error) => {
            tracing::debug!(resource = kind.resource(), %error, "discovery failed");
            let plural = kind.metrics().resource_plural()?;
            if gvk.is_wildcard() {
                return None;
            }
            return Some(vec![Resolved {
                api: ApiResource {
                    group: gvk.group.clone(),
                    version: gvk.version.clone(),
                    api_version: GroupVersion::gv(&gvk.group, &gvk.version).api_version(),
                    kind: gvk.kind.clone(),
                    plural: plural.to_string(),
                },
                namespaced: true,
                metrics: Arc::new(kind.metrics().clone()),
            }]);
        }
    };
    let versions: Vec<String> = group.versions().map(str::to_string).collect();
    let mut found = Vec::new();
    for version in versions
        .iter()
        .filter(|v| gvk.version == "*" || **v == gvk.version)
    {
        for (api, caps) in group.versioned_resources(version) {
            if api.plural.contains('/') {
                continue; // a subresource
            }
            let wanted = if gvk.kind == "*" {
                true
            } else {
                api.kind == gvk.kind
                    && kind
                        .metrics()
                        .resource_plural()
                        .is_none_or(|p| p == api.plural)
            };
            if !wanted {
                continue;
            }
            let metrics = if gvk.is_wildcard() {
                kind.metrics().resolved(
                    GroupVersionKind {
                        group: api.group.clone(),
                        version: api.version.clone(),
                        kind: api.kind.clone(),
                    },
                    Some(api.plural.clone()),
                )
            } else {
                kind.metrics().clone()
            };
            found.push(Resolved {
                api,
                namespaced: caps.scope == kube::discovery::Scope::Namespaced,
                metrics: Arc::new(metrics),
            });
        }
    }
    (!found.is_empty()).then_some(found)
}

/// The store key of an object of stream `i`: its UID, plus the resolved resource when the
/// entry resolves to more than one.
///
/// Why: with `version: "*"` the API server serves one object under each served version, with
/// one UID. kube-state-metrics exports it once per version (a store per resolved
/// group/version/kind, `internal/discovery`'s `ResolveGVKToGVKPs`), each sample labelled with
/// its own `customresource_version`; keyed by UID alone, one version's rows would replace the
/// other's in the shard.
fn store_key(uid: Arc<str>, resolved: &[Resolved], i: usize) -> Arc<str> {
    if resolved.len() > 1 {
        let api = &resolved[i].api;
        format!("{uid}@{}/{}", api.api_version, api.plural).into()
    } else {
        uid
    }
}

/// Which objects of one resolution its streams ask for, by the node they are bound to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum NodeSelect {
    /// Every object the target and namespace filters give.
    Every,
    /// Those matching this extra field selector (`spec.nodeName=n1`, `spec.nodeName=`).
    Field(String),
    /// None: a node agent's part of a resource the API server cannot select by node.
    Nothing,
}

impl NodeSelect {
    /// What `binding` asks of a resolution whose node field is `field` (`None`: not
    /// node-bound), when the API server can (`selectable`) or cannot select on it. The
    /// node agents' parts and the leader's are disjoint and together every object, either way
    /// ([`NodeBinding`]'s table).
    fn of(binding: &NodeBinding, field: Option<&str>, selectable: bool) -> NodeSelect {
        match (binding, field) {
            (NodeBinding::All, _) | (_, None) => NodeSelect::Every,
            (NodeBinding::Node(node), Some(field)) if selectable => {
                NodeSelect::Field(format!("{field}={node}"))
            }
            (NodeBinding::Node(_), Some(_)) => NodeSelect::Nothing,
            (NodeBinding::NoNode, Some(field)) if selectable => {
                NodeSelect::Field(format!("{field}="))
            }
            (NodeBinding::NoNode, Some(_)) => NodeSelect::Every,
        }
    }
}

/// The streams of the resolved resources (whether each is namespaced and which objects by
/// node, in resolution order): each stream's resolution index and target, the namespace
/// filters applied as to a built-in kind's watches ([`crate::plan::targets`]) now that
/// discovery has told the scope.
///
/// A namespaced resource gets one stream per `--namespaces` entry, or one cluster-wide stream
/// whose field selector excludes the `--namespaces-denylist` (after `target`'s own selector
/// and the node selector); a cluster-scoped one ignores both lists and is watched as `target`
/// says. [`NodeSelect::Nothing`] gives a resolution no stream.
fn stream_targets(
    resolutions: impl IntoIterator<Item = (bool, NodeSelect)>,
    target: &WatchTarget,
    namespaces: &NamespaceFilter,
) -> Vec<(usize, WatchTarget)> {
    resolutions
        .into_iter()
        .enumerate()
        .flat_map(|(i, (namespaced, node))| {
            let scope = if namespaced {
                Scope::Namespaced
            } else {
                Scope::Cluster
            };
            let selector = match &node {
                NodeSelect::Nothing => return Vec::new(),
                NodeSelect::Every => target.field_selector.clone(),
                NodeSelect::Field(field) => {
                    crate::plan::and([target.field_selector.as_deref(), Some(field.as_str())])
                }
            };
            let targets = match &target.namespace {
                // Already one namespace's watch: nothing left to split.
                Some(ns) => vec![WatchTarget {
                    namespace: Some(ns.clone()),
                    field_selector: selector,
                }],
                None => crate::plan::targets(scope, selector.as_deref(), namespaces),
            };
            targets.into_iter().map(|t| (i, t)).collect()
        })
        .collect()
}

/// Whether the API server selects `api`'s objects on `selector` (a node field): a list of at
/// most one object, as `target` (its first stream) would ask. A 400 is its "field label not
/// supported"; any other failure (the CRD going away, a lost connection) counts as
/// selectable, since the stream itself then meets the same answer and handles it.
async fn selectable(client: &Client, api: &ApiResource, target: &WatchTarget) -> bool {
    let objects: kube::Api<kube::api::DynamicObject> = match &target.namespace {
        Some(ns) => kube::Api::namespaced_with(client.clone(), ns, api),
        None => kube::Api::all_with(client.clone(), api),
    };
    let mut params = kube::api::ListParams::default().limit(1);
    if let Some(selector) = &target.field_selector {
        params = params.fields(selector);
    }
    match objects.list(&params).await {
        Err(kube::Error::Api(status)) if status.code == 400 => {
            tracing::debug!(plural = %api.plural, target = %target, message = %status.message,
                "the API server does not select on the node field");
            false
        }
        _ => true,
    }
}

/// What each resolution's streams select by node, for `binding` ([`NodeSelect::of`]), each
/// node-bound resolution tried with [`selectable`] unless `refused` (a stream was just
/// refused its selector: not selectable until the next recheck). Also whether any of them
/// falls back for want of a selectable field.
async fn node_selects(
    client: &Client,
    resolved: &[Resolved],
    target: &WatchTarget,
    namespaces: &NamespaceFilter,
    binding: &NodeBinding,
    refused: bool,
) -> (Vec<NodeSelect>, bool) {
    let mut selects = Vec::with_capacity(resolved.len());
    let mut fallback = false;
    for r in resolved {
        let field = r.metrics.node_field();
        let wanted = NodeSelect::of(binding, field, true);
        if wanted == NodeSelect::Every {
            selects.push(wanted);
            continue;
        }
        let probe = stream_targets([(r.namespaced, wanted.clone())], target, namespaces);
        let can = match probe.first() {
            _ if refused => false,
            Some((_, t)) => selectable(client, &r.api, t).await,
            None => true, // no stream at all (an empty allowlist): nothing to ask
        };
        fallback |= !can;
        selects.push(NodeSelect::of(binding, field, can));
    }
    (selects, fallback)
}

/// Whether a watcher error says the resource is not served (404): its CRD went away.
fn is_gone(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 404,
        watcher::Error::WatchError(s) => s.code == 404,
        _ => false,
    }
}

/// Whether a watcher error is a 400: the API server refuses the stream's field selector.
fn is_refused(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 400,
        watcher::Error::WatchError(s) => s.code == 400,
        _ => false,
    }
}

/// One resolved resource's stream, as the relist bookkeeping sees it.
#[derive(Default)]
struct StreamState {
    /// The UIDs with rows from this stream.
    known: HashSet<Arc<str>>,
    /// During a relist: the UIDs listed so far.
    listing: Option<HashSet<Arc<str>>>,
    listed_once: bool,
    /// `--object-limit` over this stream's lists.
    limit: ObjectLimit,
}

/// What rendering one object needs besides the object.
struct Renderer<'a> {
    kind: &'static CustomKind,
    selection: &'a FamilySelection,
    shard: Option<&'a Shard>,
    telemetry: &'a Telemetry,
    log_limit: LogLimiter,
}

impl Renderer<'_> {
    /// The object's UID and its rows (`None`: it does not decode; its rows must go), or
    /// `None` when it cannot be stored (no UID) or belongs to another shard.
    fn render(
        &mut self,
        metrics: &ResourceMetrics,
        obj: JsonObject<false>,
    ) -> Option<(Arc<str>, Option<Rows>)> {
        let resource = self.kind.resource();
        let meta = &obj.identity;
        let Some(uid) = meta.uid.as_deref() else {
            self.telemetry.decode_error(resource);
            tracing::warn!(
                resource,
                name = meta.name.as_deref().unwrap_or(""),
                "object without a uid; skipped"
            );
            return None;
        };
        if self.shard.is_some_and(|s| !s.owns(uid)) {
            return None;
        }
        let uid: Arc<str> = uid.into();
        let namespace = meta.namespace.as_deref().unwrap_or("");
        let name = meta.name.as_deref().unwrap_or("");
        let value: serde_json::Value = match serde_json::from_str(obj.json.get()) {
            Ok(v) => v,
            Err(error) => {
                self.telemetry.decode_error(resource);
                tracing::warn!(resource, namespace, name, %error,
                    "object does not decode; its rows are dropped");
                return Some((uid, None));
            }
        };
        let kind = self.kind;
        let selection = self.selection;
        let render = || kind.render_value(metrics, &value, selection);
        let (rows, errors) = match std::panic::catch_unwind(AssertUnwindSafe(render)) {
            Ok(rendered) => rendered,
            Err(panic) => {
                self.telemetry.decode_error(resource);
                tracing::error!(
                    resource,
                    namespace,
                    name,
                    panic = panic_message(&*panic),
                    "rendering the object panicked; its rows are dropped"
                );
                return Some((uid, None));
            }
        };
        let now = std::time::Instant::now();
        for error in errors {
            self.telemetry.custom_sample_error(resource, &error.metric);
            if self.log_limit.should_log(&uid, &error.metric, now) {
                // kube-state-metrics logs these at klog verbosity `errorLogV`: 0 is always
                // shown, anything higher only when asked for.
                if error.error_log_v > 0 {
                    tracing::debug!(resource, namespace, name, error = %error,
                        "custom resource sample not exported");
                } else {
                    tracing::warn!(resource, namespace, name, error = %error,
                        "custom resource sample not exported");
                }
            }
        }
        Some((uid, Some(rows)))
    }
}

/// The watch loop: resolve, list and watch every resolution, until `stop`; then clear the
/// shard.
async fn watch_until_stopped(
    kind: &'static CustomKind,
    spec: WatchSpec,
    ctx: WatchContext,
    mut writer: Writer,
    mut stop: StopSignal,
) -> Writer {
    let resource = kind.resource();
    let WatchSpec {
        target,
        selection,
        list,
        shard,
        namespaces,
        node_binding,
        ..
    } = spec;
    let gvk = kind.gvk().clone();
    let api = format!("{}/{}, Kind={}", gvk.group, gvk.version, gvk.kind);
    let active = ActiveWatch::start(&ctx.telemetry, resource);
    let mut renderer = Renderer {
        kind,
        selection: &selection,
        shard: shard.as_ref(),
        telemetry: &ctx.telemetry,
        log_limit: LogLimiter::default(),
    };
    // A stream was refused its node selector: the next resolution falls back without asking.
    let mut refused = false;
    'resolve: loop {
        let unserved = Unserved {
            resource,
            api: &api,
            target: &target,
            recheck: DISCOVERY_RECHECK,
        };
        let probe = || {
            let client = ctx.client.clone();
            async move { resolve(&client, kind).await }
        };
        let Some(resolved) = until_served_by(&unserved, &ctx, &mut writer, &mut stop, probe).await
        else {
            break;
        };
        let (selects, fallback) = node_selects(
            &ctx.client,
            &resolved,
            &target,
            &namespaces,
            &node_binding,
            std::mem::take(&mut refused),
        )
        .await;
        if node_binding != NodeBinding::All && kind.node_field().is_some() {
            ctx.telemetry.custom_node_selectable(resource, !fallback);
        }
        if fallback {
            tracing::info!(resource, binding = ?node_binding,
                "the API server cannot select this node-bound resource by its node field: \
                 the leader exports all its objects, node agents none (asked again every {}s)",
                SELECTABLE_RECHECK.as_secs());
        }
        let planned = stream_targets(
            resolved
                .iter()
                .map(|r| r.namespaced)
                .zip(selects.iter().cloned()),
            &target,
            &namespaces,
        );
        let plurals: Vec<String> = planned
            .iter()
            .map(|(i, t)| {
                let api = &resolved[*i].api;
                format!("{}/{} ({t})", api.api_version, api.plural)
            })
            .collect();
        tracing::info!(resource, target = %target, apis = %plurals.join(","),
            "custom resource watch starting");
        let streams = planned.iter().enumerate().map(|(s, (i, t))| {
            let config = watcher_config(t, &list);
            json_events::<false>(
                &ctx.client,
                &resolved[*i].api,
                t.namespace.as_deref(),
                &config,
            )
            .map(move |item| (s, item))
        });
        let mut events = futures::stream::select_all(streams);
        let mut streams: Vec<StreamState> =
            planned.iter().map(|_| StreamState::default()).collect();
        // One list for the shard, from now until every stream has listed once. A switch of
        // node selection relists with the rows in place and the shard still listed, so
        // readiness does not blink; a first list, or one after a clear, holds it until done.
        if writer.reader().state() != ShardState::Listed {
            writer.start_listing();
        }
        writer.apply(Change::Init);
        let mut shard_listed = false;
        if planned.is_empty() {
            // Nothing to list (a node agent's part the API server cannot select): listed.
            writer.apply(Change::InitDone);
            shard_listed = true;
        }
        // One timer for both rechecks: the shorter wait serves either.
        let every = WILDCARD_RECHECK.min(SELECTABLE_RECHECK);
        let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            let item = tokio::select! {
                item = events.next(), if !planned.is_empty() => Some(item),
                _ = stop.wait_for(|s| *s) => break 'resolve,
                _ = recheck.tick(), if gvk.is_wildcard() || fallback => None,
            };
            let Some(item) = item else {
                if gvk.is_wildcard() {
                    let now = resolve(&ctx.client, kind).await;
                    if !now.as_deref().is_some_and(|now| same(now, &resolved)) {
                        tracing::info!(
                            resource,
                            "the resources the wildcard resolves to changed; \
                            listing them again"
                        );
                        // No clear: the relist swap replaces the rows at its end, so the
                        // resolutions that stay never blink out of a scrape.
                        continue 'resolve;
                    }
                }
                if fallback {
                    let (now, _) = node_selects(
                        &ctx.client,
                        &resolved,
                        &target,
                        &namespaces,
                        &node_binding,
                        false,
                    )
                    .await;
                    if now != selects {
                        tracing::info!(resource, binding = ?node_binding,
                            "the API server selects this node-bound resource by node now; \
                            listing by node");
                        // No clear: the relist swap drops the rows no longer ours at its end.
                        continue 'resolve;
                    }
                }
                continue;
            };
            let Some((s, item)) = item else {
                tracing::warn!(resource, target = %target, "watch stream ended");
                break 'resolve;
            };
            let (i, stream_target) = &planned[s];
            let i = *i;
            let event = match item {
                Ok(event) => event,
                Err(err) if is_gone(&err) => {
                    tracing::warn!(resource, target = %stream_target, api = %resolved[i].api.api_version,
                        "the custom resource is not served any more (its CRD was deleted?); \
                         its rows are dropped until discovery finds it again");
                    writer.clear();
                    continue 'resolve;
                }
                Err(err) if is_refused(&err) && matches!(selects[i], NodeSelect::Field(_)) => {
                    tracing::warn!(resource, target = %stream_target, api = %resolved[i].api.api_version,
                        error = %err,
                        "the API server refuses the node field selector (the CRD's \
                         selectableFields changed?); falling back to the leader");
                    refused = true;
                    continue 'resolve;
                }
                Err(err) => {
                    let reason = error_reason(&err);
                    ctx.telemetry.watch_error(resource, reason);
                    tracing::warn!(resource, target = %stream_target, reason, error = %err,
                        "watch error; backing off and resuming");
                    continue;
                }
            };
            let metrics = &resolved[i].metrics;
            let stream = &mut streams[s];
            if !stream
                .limit
                .admits(&event, &list, &ctx.telemetry, resource, stream_target)
            {
                continue;
            }
            match event {
                Event::Init => stream.listing = Some(HashSet::new()),
                Event::InitApply(obj) => {
                    ctx.telemetry.event(resource, "listed");
                    if let Some((uid, rows)) = renderer.render(metrics, obj) {
                        let uid = store_key(uid, &resolved, i);
                        match rows {
                            Some(rows) => {
                                writer.apply(Change::Apply(uid.to_string(), rows));
                                if let Some(listing) = &mut stream.listing {
                                    listing.insert(uid.clone());
                                }
                                stream.known.insert(uid);
                            }
                            None => {
                                writer.apply(Change::Delete(uid.to_string()));
                                stream.known.remove(&uid);
                            }
                        }
                    }
                }
                Event::InitDone => {
                    let listed = stream.listing.take().unwrap_or_default();
                    for gone in stream.known.difference(&listed) {
                        writer.apply(Change::Delete(gone.to_string()));
                    }
                    stream.known = listed;
                    stream.listed_once = true;
                }
                Event::Apply(obj) => {
                    ctx.telemetry.event(resource, "applied");
                    if let Some((uid, rows)) = renderer.render(metrics, obj) {
                        let uid = store_key(uid, &resolved, i);
                        match rows {
                            Some(rows) => {
                                writer.apply(Change::Apply(uid.to_string(), rows));
                                stream.known.insert(uid);
                            }
                            None => {
                                writer.apply(Change::Delete(uid.to_string()));
                                stream.known.remove(&uid);
                            }
                        }
                    }
                }
                Event::Delete(obj) => {
                    ctx.telemetry.event(resource, "deleted");
                    if let Some(uid) = obj.identity.uid.as_deref() {
                        let uid = store_key(uid.into(), &resolved, i);
                        writer.apply(Change::Delete(uid.to_string()));
                        stream.known.remove(&uid);
                    }
                }
            }
            if !shard_listed && streams.iter().all(|s| s.listed_once) {
                writer.apply(Change::InitDone);
                shard_listed = true;
            }
        }
    }
    writer.clear();
    drop(active);
    tracing::info!(resource, target = %target, "watch stopped");
    writer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(version: &str) -> Resolved {
        let gvk = GroupVersionKind {
            group: "a.io".into(),
            version: version.into(),
            kind: "A".into(),
        };
        let api = ApiResource {
            group: gvk.group.clone(),
            version: gvk.version.clone(),
            api_version: format!("a.io/{version}"),
            kind: gvk.kind.clone(),
            plural: "as".into(),
        };
        let config = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      metrics:\n        - name: size\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n";
        let metrics = crate::custom::parse(config).unwrap().remove(0);
        Resolved {
            api,
            namespaced: true,
            metrics: Arc::new(metrics.resolved(gvk, None)),
        }
    }

    #[test]
    fn an_object_served_under_two_versions_has_a_store_key_per_version() {
        let uid: Arc<str> = "u1".into();
        let one = [resolved("v1")];
        assert_eq!(
            &*store_key(uid.clone(), &one, 0),
            "u1",
            "one resolution: the UID"
        );
        let two = [resolved("v1"), resolved("v2")];
        let v1 = store_key(uid.clone(), &two, 0);
        let v2 = store_key(uid, &two, 1);
        assert_ne!(v1, v2);
        assert_eq!(&*v2, "u1@a.io/v2/as");
    }

    /// `stream_targets` of resolutions namespaced as `namespaced`, one line per stream:
    /// `<resolution> <target>`.
    fn streams(
        namespaced: &[bool],
        target: &WatchTarget,
        allow: &[&str],
        deny: &[&str],
    ) -> Vec<String> {
        let namespaces = NamespaceFilter {
            allow: allow.iter().map(|s| s.to_string()).collect(),
            deny: deny.iter().map(|s| s.to_string()).collect(),
        };
        stream_targets(
            namespaced.iter().map(|&n| (n, NodeSelect::Every)),
            target,
            &namespaces,
        )
        .into_iter()
        .map(|(i, t)| format!("{i} {t}"))
        .collect()
    }

    #[test]
    fn namespace_filters_shape_the_streams_of_namespaced_resolutions_only() {
        let all = WatchTarget {
            namespace: None,
            field_selector: None,
        };
        // No filter: one stream per resolution, as planned.
        assert_eq!(streams(&[true, false], &all, &[], &[]), ["0 all", "1 all"]);
        // Denied namespaces: excluded by selector from the namespaced resolution only.
        assert_eq!(
            streams(&[true, false], &all, &[], &["x", "y"]),
            ["0 metadata.namespace!=x,metadata.namespace!=y", "1 all"]
        );
        // Allowed namespaces: one stream each for the namespaced resolutions; the
        // cluster-scoped one watched whole.
        assert_eq!(
            streams(&[true, false, true], &all, &["a", "b"], &[]),
            [
                "0 namespace=a",
                "0 namespace=b",
                "1 all",
                "2 namespace=a",
                "2 namespace=b"
            ]
        );
        // The planned selector comes first, the exclusion after it.
        let selected = WatchTarget {
            namespace: None,
            field_selector: Some("metadata.name=n".into()),
        };
        assert_eq!(
            streams(&[true], &selected, &[], &["x"]),
            ["0 metadata.name=n,metadata.namespace!=x"]
        );
        assert_eq!(
            streams(&[true], &selected, &["a"], &[]),
            ["0 namespace=a,metadata.name=n"]
        );
    }

    // ===== node-bound resources against a scripted API server =====

    mod node_bound {
        use std::sync::atomic::{AtomicBool, Ordering};

        use super::*;
        use crate::config::CustomResources;
        use crate::exposition::RenderContext;
        use crate::mock_api::{Answer, MockApi, Seen};
        use crate::plan::Shape;
        use crate::store::Reader;
        use crate::watch::ListOptions;

        const CONFIG: &str = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      nodeNameFromPath: [spec, nodeName]\n      metrics:\n        - name: size\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n";
        const LIST: &str = "/apis/a.io/v1/as";
        const SELECTABLE: &str = "ksa_custom_resource_node_selectable";
        /// How long the scripted API server takes to answer a list (not a probe).
        const LIST_TIME: Duration = Duration::from_secs(1);

        /// Three objects: `u1` on node n1, `u2` on n2, `u3` on none.
        fn objects() -> Vec<(&'static str, Option<&'static str>)> {
            vec![("u1", Some("n1")), ("u2", Some("n2")), ("u3", None)]
        }

        /// The `fieldSelector` of a request, if any.
        fn selector(req: &Seen) -> Option<&str> {
            req.query
                .split('&')
                .find_map(|p| p.strip_prefix("fieldSelector="))
        }

        /// The objects of `LIST` an API server that selects on `spec.nodeName` gives for
        /// `selector`, as the API server compares a missing field: as empty.
        fn selected(selector: Option<&str>) -> Vec<serde_json::Value> {
            let wanted = selector.and_then(|s| s.strip_prefix("spec.nodeName="));
            objects()
                .into_iter()
                .filter(|(_, node)| wanted.is_none_or(|w| w == node.unwrap_or("")))
                .map(|(uid, node)| {
                    let mut spec = serde_json::json!({"size": 1});
                    if let Some(node) = node {
                        spec["nodeName"] = node.into();
                    }
                    serde_json::json!({"apiVersion": "a.io/v1", "kind": "A",
                        "metadata": {"name": uid, "namespace": "ns", "uid": uid,
                            "resourceVersion": "5"},
                        "spec": spec})
                })
                .collect()
        }

        /// An API server serving `A` whose node field is selectable while `selectable` holds;
        /// a watch it holds open ends with 400 once `selectable` turns false (the CRD lost the
        /// field and the API server closed its watches).
        fn api(selectable: Arc<AtomicBool>) -> (Client, MockApi) {
            MockApi::start(move |req: &Seen| match req.path.as_str() {
                "/apis/a.io/v1" => Answer::ok(serde_json::json!({
                    "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "a.io/v1",
                    "resources": [{"name": "as", "singularName": "a", "namespaced": true,
                        "kind": "A", "verbs": ["list", "watch"]}]})),
                LIST => {
                    let by_node = selector(req).is_some_and(|s| s.contains("spec.nodeName"));
                    if by_node && !selectable.load(Ordering::SeqCst) {
                        return Answer::status(400, "field label not supported: spec.nodeName");
                    }
                    if req.is_watch() {
                        if !by_node {
                            return Answer::Hold;
                        }
                        let selectable = selectable.clone();
                        return Answer::Later(Box::pin(async move {
                            while selectable.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                            Answer::status(400, "field label not supported: spec.nodeName")
                        }));
                    }
                    let items = selected(selector(req));
                    if req.query.split('&').any(|p| p == "limit=1") {
                        return crate::mock_api::list("AList", items);
                    }
                    // A list takes a while, so a shard that left `Listed` during a relist
                    // would be seen doing so.
                    Answer::Later(Box::pin(async move {
                        tokio::time::sleep(LIST_TIME).await;
                        crate::mock_api::list("AList", items)
                    }))
                }
                _ => Answer::status(404, "NotFound"),
            })
        }

        /// Starts the watch of `binding` against `client`; returns its shard's reader, its
        /// telemetry and the sender that stops it.
        fn start(
            client: &Client,
            binding: NodeBinding,
        ) -> (Reader, Telemetry, tokio::sync::watch::Sender<bool>) {
            let resources = crate::custom::parse(CONFIG).unwrap();
            let kind = crate::custom::kind::leak(&CustomResources {
                source: CONFIG.to_string(),
                resources: Arc::new(resources),
            })[0];
            let spec = WatchSpec {
                target: WatchTarget {
                    namespace: None,
                    field_selector: None,
                },
                render: RenderContext::default(),
                selection: FamilySelection::new(&kind.family_headers(), |_| true),
                shape: Shape::Whole,
                list: ListOptions::default(),
                shard: None,
                namespaces: NamespaceFilter::default(),
                node_binding: binding,
            };
            let telemetry = Telemetry::new();
            let ctx = WatchContext {
                client: client.clone(),
                telemetry: telemetry.clone(),
                node_labels: Default::default(),
            };
            let (writer, reader) =
                crate::store::shard(kind.resource(), crate::store::ChangeSignal::default());
            let (stop_tx, stop) = tokio::sync::watch::channel(false);
            tokio::spawn(run(kind, spec, ctx, writer, stop));
            (reader, telemetry, stop_tx)
        }

        /// The UIDs with rows, sorted.
        fn uids(reader: &Reader) -> Vec<String> {
            let mut uids: Vec<String> = reader
                .rows_by_uid()
                .into_iter()
                .map(|(uid, _)| uid.to_string())
                .collect();
            uids.sort();
            uids
        }

        /// Waits (tokio's paused clock) until `reader` has listed and holds exactly `want`.
        async fn holds(reader: &Reader, want: &[&str]) {
            let wait = async {
                while reader.state() != ShardState::Listed || uids(reader) != want {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::time::timeout(SELECTABLE_RECHECK * 3, wait)
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "never held {want:?}: {:?} ({:?})",
                        uids(reader),
                        reader.state()
                    )
                });
        }

        /// Waits like [`holds`], and fails if `reader` is not listed at any moment meanwhile:
        /// readiness must not blink while a switch relists.
        async fn holds_listed_throughout(reader: &Reader, want: &[&str]) {
            let wait = async {
                while uids(reader) != want {
                    assert_eq!(reader.state(), ShardState::Listed, "{:?}", uids(reader));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            tokio::time::timeout(SELECTABLE_RECHECK * 3, wait)
                .await
                .unwrap_or_else(|_| panic!("never held {want:?}: {:?}", uids(reader)));
        }

        /// The field selectors of the lists of `LIST` so far, probes (`limit=1`) marked.
        fn lists(server: &MockApi) -> Vec<String> {
            server
                .seen()
                .iter()
                .filter(|s| s.is_list_of(LIST))
                .map(|s| {
                    let probe = if s.query.contains("limit=1&") || s.query.ends_with("limit=1") {
                        "probe "
                    } else {
                        ""
                    };
                    format!("{probe}{}", selector(s).unwrap_or("all"))
                })
                .collect()
        }

        #[tokio::test(start_paused = true)]
        async fn node_agents_and_the_leader_split_a_selectable_resource_exactly_once() {
            let (client, server) = api(Arc::new(AtomicBool::new(true)));
            let (n1, t1, _s1) = start(&client, NodeBinding::Node("n1".into()));
            holds(&n1, &["u1"]).await;
            let (n2, _, _s2) = start(&client, NodeBinding::Node("n2".into()));
            holds(&n2, &["u2"]).await;
            let (leader, _, _s3) = start(&client, NodeBinding::NoNode);
            holds(&leader, &["u3"]).await;
            assert_eq!(t1.value(SELECTABLE, &[("resource", "as")]), Some(1.0));
            assert_eq!(
                lists(&server),
                [
                    "probe spec.nodeName=n1",
                    "spec.nodeName=n1",
                    "probe spec.nodeName=n2",
                    "spec.nodeName=n2",
                    "probe spec.nodeName=",
                    "spec.nodeName="
                ]
            );
            let watches: Vec<String> = server
                .seen()
                .iter()
                .filter(|s| s.path == LIST && s.is_watch())
                .map(|s| selector(s).unwrap_or("all").to_string())
                .collect();
            assert_eq!(
                watches,
                ["spec.nodeName=n1", "spec.nodeName=n2", "spec.nodeName="]
            );
            // A watch that is not node-bound (--scope=cluster) asks for everything at once.
            let (all, t4, _s4) = start(&client, NodeBinding::All);
            holds(&all, &["u1", "u2", "u3"]).await;
            assert_eq!(lists(&server).last().map(String::as_str), Some("all"));
            assert_eq!(t4.value(SELECTABLE, &[("resource", "as")]), None);
        }

        #[tokio::test(start_paused = true)]
        async fn without_a_selectable_field_the_leader_exports_everything_until_the_field_becomes_selectable()
         {
            let selectable = Arc::new(AtomicBool::new(false));
            let (client, server) = api(selectable.clone());
            let (n1, t1, _s1) = start(&client, NodeBinding::Node("n1".into()));
            holds(&n1, &[]).await;
            let (leader, t2, _s2) = start(&client, NodeBinding::NoNode);
            holds(&leader, &["u1", "u2", "u3"]).await;
            for t in [&t1, &t2] {
                assert_eq!(t.value(SELECTABLE, &[("resource", "as")]), Some(0.0));
            }
            assert_eq!(
                lists(&server),
                ["probe spec.nodeName=n1", "probe spec.nodeName=", "all"],
                "the node agent lists nothing after its probe"
            );

            // The CRD gains selectableFields: both take the split over by the next recheck.
            selectable.store(true, Ordering::SeqCst);
            let changed = tokio::time::Instant::now();
            tokio::join!(
                holds_listed_throughout(&n1, &["u1"]),
                holds_listed_throughout(&leader, &["u3"])
            );
            assert!(changed.elapsed() <= SELECTABLE_RECHECK + LIST_TIME * 2);
            assert_eq!(t1.value(SELECTABLE, &[("resource", "as")]), Some(1.0));

            // It loses them again: the held watches are refused, both fall back at once.
            selectable.store(false, Ordering::SeqCst);
            let lost = tokio::time::Instant::now();
            tokio::join!(
                holds_listed_throughout(&n1, &[]),
                holds_listed_throughout(&leader, &["u1", "u2", "u3"])
            );
            assert!(
                lost.elapsed() < Duration::from_secs(5),
                "no recheck wait: {:?}",
                lost.elapsed()
            );
        }

        #[test]
        fn node_selects_cover_every_object_once_whatever_the_api_server_answers() {
            let field = Some("spec.nodeName");
            let node = NodeBinding::Node("n1".into());
            for selectable in [true, false] {
                let mine = NodeSelect::of(&node, field, selectable);
                let leaders = NodeSelect::of(&NodeBinding::NoNode, field, selectable);
                match selectable {
                    true => {
                        assert_eq!(mine, NodeSelect::Field("spec.nodeName=n1".into()));
                        assert_eq!(leaders, NodeSelect::Field("spec.nodeName=".into()));
                    }
                    false => {
                        assert_eq!(mine, NodeSelect::Nothing);
                        assert_eq!(leaders, NodeSelect::Every);
                    }
                }
                // Not node-bound, or not bound to a node's part: everything.
                assert_eq!(NodeSelect::of(&node, None, selectable), NodeSelect::Every);
                assert_eq!(
                    NodeSelect::of(&NodeBinding::All, field, selectable),
                    NodeSelect::Every
                );
            }
            // The node selector comes after the target's, before the denylist's.
            let namespaces = NamespaceFilter {
                allow: Vec::new(),
                deny: vec!["x".into()],
            };
            let target = WatchTarget {
                namespace: None,
                field_selector: None,
            };
            let streams = stream_targets(
                [
                    (true, NodeSelect::Field("spec.nodeName=n1".into())),
                    (true, NodeSelect::Nothing),
                ],
                &target,
                &namespaces,
            );
            let streams: Vec<String> = streams.iter().map(|(i, t)| format!("{i} {t}")).collect();
            assert_eq!(streams, ["0 spec.nodeName=n1,metadata.namespace!=x"]);
        }
    }
}
