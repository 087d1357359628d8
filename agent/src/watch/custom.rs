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
//!   set restarts the watch (rows cleared, everything listed again). Each resolution renders
//!   with [`ResourceMetrics::resolved`], so its `customresource_*` labels name its own GVK;
//!   an object served under several versions is exported once per version, as
//!   kube-state-metrics does ([`store_key`]).
//! - **Namespaces and limits**: once discovery says whether a resolved resource is
//!   namespaced, `--namespaces` (a stream per namespace) and `--namespaces-denylist` (a
//!   `metadata.namespace!=…` selector) apply to it as to a built-in namespaced kind
//!   ([`stream_targets`]); `--object-limit` limits each stream's lists as a built-in watch's
//!   ([`ObjectLimit`]).
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
    ActiveWatch, JsonObject, ObjectLimit, StopSignal, Unserved, WatchContext, WatchSpec,
    WatchTarget, error_reason, json_events, listing_and_supervised, panic_message, until_served_by,
    watcher_config,
};
use crate::config::NamespaceFilter;
use crate::custom::kind::CustomKind;
use crate::custom::log_limit::LogLimiter;
use crate::custom::{GroupVersionKind, ResourceMetrics};
use crate::registry::KindInfo as _;
use crate::resources::{FamilySelection, Rows, Scope};
use crate::sharding::Shard;
use crate::store::{Change, Writer};
use crate::telemetry::Telemetry;

/// How often discovery is asked again while a custom resource is not served. Custom resources
/// come and go with their CRDs while the agent runs, unlike built-in API versions, hence a
/// far shorter wait than the built-in kinds'; one discovery request per wait.
pub const DISCOVERY_RECHECK: Duration = Duration::from_secs(10);

/// How often a wildcard entry is resolved again while it is served.
pub const WILDCARD_RECHECK: Duration = Duration::from_secs(60);

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

/// The streams of the resolved resources (whether each is namespaced, in resolution order):
/// each stream's resolution index and target, the namespace filters applied as to a built-in
/// kind's watches ([`crate::plan::targets`]) now that discovery has told the scope.
///
/// A namespaced resource gets one stream per `--namespaces` entry, or one cluster-wide stream
/// whose field selector excludes the `--namespaces-denylist` (after `target`'s own selector);
/// a cluster-scoped one ignores both lists and is watched as `target` says.
fn stream_targets(
    namespaced: impl IntoIterator<Item = bool>,
    target: &WatchTarget,
    namespaces: &NamespaceFilter,
) -> Vec<(usize, WatchTarget)> {
    namespaced
        .into_iter()
        .enumerate()
        .flat_map(|(i, namespaced)| {
            let scope = if namespaced {
                Scope::Namespaced
            } else {
                Scope::Cluster
            };
            let selector = target.field_selector.as_deref();
            let targets = match &target.namespace {
                // Already one namespace's watch: nothing left to split.
                Some(_) => vec![target.clone()],
                None => crate::plan::targets(scope, selector, namespaces),
            };
            targets.into_iter().map(move |t| (i, t))
        })
        .collect()
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
        let planned = stream_targets(resolved.iter().map(|r| r.namespaced), &target, &namespaces);
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
        // One list for the shard, from now until every stream has listed once.
        writer.start_listing();
        writer.apply(Change::Init);
        let mut shard_listed = false;
        let mut recheck = tokio::time::interval_at(
            tokio::time::Instant::now() + WILDCARD_RECHECK,
            WILDCARD_RECHECK,
        );
        loop {
            let item = tokio::select! {
                item = events.next() => Some(item),
                _ = stop.wait_for(|s| *s) => break 'resolve,
                _ = recheck.tick(), if gvk.is_wildcard() => None,
            };
            let Some(item) = item else {
                let now = resolve(&ctx.client, kind).await;
                if now.as_deref().is_some_and(|now| same(now, &resolved)) {
                    continue;
                }
                tracing::info!(
                    resource,
                    "the resources the wildcard resolves to changed; \
                    listing them again"
                );
                writer.clear();
                continue 'resolve;
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
        stream_targets(namespaced.iter().copied(), target, &namespaces)
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
}
