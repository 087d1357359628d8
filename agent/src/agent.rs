//! Wiring: build the client, start one watch per (kind, selector), the snapshot builder and the
//! two HTTP servers, and stop them all on SIGTERM. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Api;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::client;
use crate::config::{Config, NamespaceFilter, ScopeMode};
use crate::exposition::RenderContext;
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::leader;
use crate::registry;
use crate::resources::{FamilySelection, Scope};
use crate::snapshot::{KindSource, Published, run_builder};
use crate::store::Writer;
use crate::store::{self, ChangeSignal};
use crate::telemetry::{SnapshotTelemetry, Telemetry};
use crate::watch::{ListOptions, WatchContext, WatchSpec, WatchTarget, Watchable};

/// Why the agent stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No API client could be built.
    #[error(transparent)]
    Client(#[from] client::Error),
    /// A listening address could not be bound.
    #[error("cannot listen on {addr} ({flag}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The flag pair that set it.
        flag: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Serve(#[source] std::io::Error),
}

/// The watches this agent runs for a kind of `scope`.
///
/// Namespaced kinds (pods included) get one watch per allowed namespace, or one cluster-wide
/// watch with the denied namespaces excluded by field selector, as kube-state-metrics builds
/// them; cluster-scoped kinds ignore the namespace lists, as in kube-state-metrics.
fn targets(
    mode: ScopeMode,
    scope: Scope,
    node: &str,
    namespaces: &NamespaceFilter,
) -> Vec<WatchTarget> {
    if mode == ScopeMode::Cluster {
        return scoped(scope, None, namespaces);
    }
    match scope {
        Scope::NodeBound => scoped(scope, Some(format!("spec.nodeName={node}")), namespaces),
        Scope::NodeSelf => scoped(scope, Some(format!("metadata.name={node}")), namespaces),
        // Watched by the elected leader only.
        Scope::Namespaced | Scope::Cluster => Vec::new(),
    }
}

/// The watches the elected leader adds for a kind of `scope`: the unscheduled pods and every
/// kind that is not bound to a node.
fn leader_targets(scope: Scope, namespaces: &NamespaceFilter) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeBound => scoped(scope, Some("spec.nodeName=".to_string()), namespaces),
        Scope::NodeSelf => Vec::new(),
        Scope::Namespaced | Scope::Cluster => scoped(scope, None, namespaces),
    }
}

/// The watches of one kind with `selector`, split by namespace when the kind is namespaced.
fn scoped(
    scope: Scope,
    selector: Option<String>,
    namespaces: &NamespaceFilter,
) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeSelf | Scope::Cluster => vec![WatchTarget {
            namespace: None,
            field_selector: selector,
        }],
        Scope::NodeBound | Scope::Namespaced => namespaces
            .watched()
            .into_iter()
            .map(|namespace| {
                let deny = match namespace {
                    None => namespaces.deny_selector(),
                    Some(_) => None,
                };
                WatchTarget {
                    namespace,
                    field_selector: and(selector.clone(), deny.as_deref()),
                }
            })
            .collect(),
    }
}

/// `a,b`: both field selectors must hold.
fn and(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b.filter(|b| !b.is_empty())) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (Some(a), None) => Some(a),
        (None, b) => b.map(str::to_string),
    }
}

/// `target` split into the kind's watch shapes (lean watches), each with its selector merged
/// in; one full watch of `target` when `lean` is off.
fn shaped(
    target: &WatchTarget,
    shape_selectors: &[&'static str],
    lean: bool,
) -> Vec<(WatchTarget, Option<usize>)> {
    if !lean {
        return vec![(target.clone(), None)];
    }
    shape_selectors
        .iter()
        .enumerate()
        .map(|(i, selector)| {
            let target = WatchTarget {
                namespace: target.namespace.clone(),
                field_selector: and(target.field_selector.clone(), Some(selector)),
            };
            (target, Some(i))
        })
        .collect()
}

/// A watch that runs only while this agent leads; its writer rests here in between.
struct LeaderWatch {
    kind: &'static dyn Watchable,
    spec: WatchSpec,
    writer: Option<Writer>,
}

/// Starts the leader-only watches whenever `leader` turns true and stops them (clearing their
/// rows) whenever it turns false, until the election ends.
///
/// While leading, the shard ordinal is reported (`(index, total)` of the shard led), so that
/// kube-state-metrics' mixin counts one ordinal per shard that has a leader.
async fn follow_leadership(
    mut leader: watch::Receiver<bool>,
    mut entries: Vec<LeaderWatch>,
    ctx: WatchContext,
    shard: (u32, u32),
) {
    loop {
        if leader.wait_for(|l| *l).await.is_err() {
            return;
        }
        ctx.telemetry.shard(shard.1, Some(shard.0));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut running = Vec::with_capacity(entries.len());
        for (i, entry) in entries.iter_mut().enumerate() {
            let Some(writer) = entry.writer.take() else {
                continue;
            };
            let fut = entry
                .kind
                .watch(entry.spec.clone(), ctx.clone(), writer, stop_rx.clone());
            running.push((i, tokio::spawn(fut)));
        }
        let lost = leader.wait_for(|l| !*l).await.is_ok();
        ctx.telemetry.shard(shard.1, None);
        let _ = stop_tx.send(true);
        for (i, handle) in running {
            match handle.await {
                Ok(writer) => entries[i].writer = Some(writer),
                Err(e) => tracing::error!(resource = entries[i].kind.resource(), error = %e,
                    "a leader watch panicked; that kind stays off until restart"),
            }
        }
        if !lost {
            return;
        }
    }
}

/// Runs the agent until SIGTERM or Ctrl-C.
///
/// # Errors
/// When the client cannot be built or a port cannot be bound; watch errors are retried, never
/// returned.
pub async fn run(config: Config, telemetry: Telemetry) -> Result<(), Error> {
    let client = client::build(config.kubeconfig.as_deref(), telemetry.clone()).await?;
    let ctx = WatchContext {
        client: client.clone(),
        telemetry: telemetry.clone(),
    };
    let signal = ChangeSignal::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut watches = JoinSet::new();
    let mut sources = Vec::new();
    let mut leader_watches = Vec::new();
    for kind in registry::KINDS
        .iter()
        .copied()
        .filter(|k| config.resources.contains(&k.resource()))
    {
        let resource = kind.resource();
        let selection = FamilySelection::new(&kind.family_headers(), |name| {
            config.opt_in.iter().any(|o| o == name)
        });
        let render = RenderContext {
            labels: config.labels_for(resource),
            annotations: config.annotations_for(resource),
        };
        let list = ListOptions {
            use_apiserver_cache: config.watch.use_apiserver_cache,
            object_limit: config.watch.object_limit,
        };
        let selectors = kind.shape_selectors();
        let specs = |targets: Vec<WatchTarget>, shard| {
            targets
                .iter()
                .flat_map(|t| shaped(t, &selectors, config.watch.lean))
                .map(|(target, shape)| WatchSpec {
                    target,
                    render: render.clone(),
                    selection: selection.clone(),
                    shape,
                    list,
                    shard,
                })
                .collect::<Vec<_>>()
        };
        // `--scope=cluster` shards everything, like kube-state-metrics; node agents shard
        // only the leader's kinds: a node's own pods are that node agent's alone.
        let local_shard = match config.scope {
            ScopeMode::Cluster => config.watch.shard,
            ScopeMode::Node => None,
        };
        let namespaces = &config.watch.namespaces;
        let mut shards = Vec::new();
        let local = targets(config.scope, kind.scope(), &config.node, namespaces);
        for spec in specs(local, local_shard) {
            let (writer, reader) = store::shard(resource, signal.clone());
            shards.push(reader);
            watches.spawn(kind.watch(spec, ctx.clone(), writer, stop_rx.clone()));
        }
        if config.election.is_some() {
            let led = leader_targets(kind.scope(), namespaces);
            for spec in specs(led, config.watch.shard) {
                let (writer, reader) = store::shard(resource, signal.clone());
                shards.push(reader);
                leader_watches.push(LeaderWatch {
                    kind,
                    spec,
                    writer: Some(writer),
                });
            }
        }
        if !shards.is_empty() {
            sources.push(KindSource {
                info: kind,
                selection,
                shards,
            });
        }
    }

    let published = Published::default();
    let builder = tokio::spawn(run_builder(
        Arc::new(sources),
        published.clone(),
        signal,
        config.snapshot_interval,
        config.gzip,
        SnapshotTelemetry::new(telemetry.clone()),
    ));

    let shard = config.watch.shard.map_or((0, 1), |s| (s.index, s.total));
    // A `--scope=cluster` instance serves its shard from the start; a node agent while it
    // leads (set by `follow_leadership`).
    let serving = (config.scope == ScopeMode::Cluster).then_some(shard.0);
    telemetry.shard(shard.1, serving);
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let election = config.election.as_ref().map(|e| {
        let (leader_tx, leader_rx) = watch::channel(false);
        let api = Api::namespaced(client.clone(), &e.namespace);
        let leader = tokio::spawn(leader::run(
            api,
            e.clone(),
            leader_tx,
            shutdown_rx.clone(),
            telemetry.clone(),
        ));
        let follower = tokio::spawn(follow_leadership(
            leader_rx,
            leader_watches,
            ctx.clone(),
            shard,
        ));
        (leader, follower)
    });

    let state = AppState {
        published,
        telemetry,
    };
    let metrics = bind(config.listen, "--host/--port").await?;
    let self_metrics = bind(config.telemetry_listen, "--telemetry-host/--telemetry-port").await?;
    tracing::info!(scope = ?config.scope, node = %config.node, metrics = %config.listen,
        telemetry = %config.telemetry_listen, election = config.election.is_some(),
        resources = ?config.resources, "serving");

    let wait = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_server = axum::serve(metrics, router(state.clone()))
        .with_graceful_shutdown(wait(shutdown_rx.clone()));
    let telemetry_server = axum::serve(self_metrics, telemetry_router(state))
        .with_graceful_shutdown(wait(shutdown_rx.clone()));
    let servers =
        async { tokio::try_join!(main_server.into_future(), telemetry_server.into_future()) };
    tokio::pin!(servers);
    let result = tokio::select! {
        r = &mut servers => r.map(|_| ()),
        () = shutdown_signal() => {
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
            servers.await.map(|_| ())
        }
    };
    let _ = shutdown_tx.send(true);
    // Release the Lease first: the next agent takes over at its next attempt.
    if let Some((leader, follower)) = election {
        let _ = leader.await;
        let _ = follower.await;
    }
    let _ = stop_tx.send(true);
    builder.abort();
    while watches.join_next().await.is_some() {}
    result.map_err(Error::Serve)
}

async fn bind(addr: SocketAddr, flag: &'static str) -> Result<TcpListener, Error> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, flag, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> NamespaceFilter {
        NamespaceFilter::default()
    }

    fn filter(allow: &[&str], deny: &[&str]) -> NamespaceFilter {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        NamespaceFilter {
            allow: own(allow),
            deny: own(deny),
        }
    }

    fn target(namespace: Option<&str>, selector: Option<&str>) -> WatchTarget {
        WatchTarget {
            namespace: namespace.map(str::to_string),
            field_selector: selector.map(str::to_string),
        }
    }

    #[test]
    fn allowed_namespaces_get_a_watch_each_for_node_local_and_leader_watches() {
        let ns = filter(&["a", "b"], &[]);
        assert_eq!(
            targets(ScopeMode::Node, Scope::NodeBound, "n1", &ns),
            vec![
                target(Some("a"), Some("spec.nodeName=n1")),
                target(Some("b"), Some("spec.nodeName=n1")),
            ]
        );
        assert_eq!(
            leader_targets(Scope::NodeBound, &ns),
            vec![
                target(Some("a"), Some("spec.nodeName=")),
                target(Some("b"), Some("spec.nodeName=")),
            ]
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &ns),
            vec![target(Some("a"), None), target(Some("b"), None)]
        );
        assert_eq!(
            targets(ScopeMode::Cluster, Scope::Namespaced, "", &ns),
            vec![target(Some("a"), None), target(Some("b"), None)]
        );
    }

    #[test]
    fn denied_namespaces_are_excluded_by_field_selector_next_to_the_node_selector() {
        let ns = filter(&[], &["x", "y"]);
        let deny = "metadata.namespace!=x,metadata.namespace!=y";
        assert_eq!(
            targets(ScopeMode::Node, Scope::NodeBound, "n1", &ns),
            vec![target(None, Some(&format!("spec.nodeName=n1,{deny}")))]
        );
        assert_eq!(
            leader_targets(Scope::NodeBound, &ns),
            vec![target(None, Some(&format!("spec.nodeName=,{deny}")))]
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &ns),
            vec![target(None, Some(deny))]
        );
    }

    #[test]
    fn cluster_scoped_kinds_ignore_the_namespace_lists() {
        for ns in [filter(&["a"], &[]), filter(&[], &["x"])] {
            assert_eq!(
                leader_targets(Scope::Cluster, &ns),
                vec![target(None, None)]
            );
            assert_eq!(
                targets(ScopeMode::Node, Scope::NodeSelf, "n1", &ns),
                vec![target(None, Some("metadata.name=n1"))]
            );
            assert_eq!(
                targets(ScopeMode::Cluster, Scope::Cluster, "", &ns),
                vec![target(None, None)]
            );
        }
    }

    #[test]
    fn lean_watches_split_a_target_by_shape_and_merge_the_selectors() {
        let t = target(Some("a"), Some("metadata.namespace!=x"));
        assert_eq!(
            shaped(&t, &["type=Opaque", "type!=Opaque"], false),
            vec![(t.clone(), None)]
        );
        assert_eq!(
            shaped(&t, &["type=Opaque", "type!=Opaque"], true),
            vec![
                (
                    target(Some("a"), Some("metadata.namespace!=x,type=Opaque")),
                    Some(0)
                ),
                (
                    target(Some("a"), Some("metadata.namespace!=x,type!=Opaque")),
                    Some(1)
                ),
            ]
        );
        let all = target(None, None);
        assert_eq!(shaped(&all, &[""], true), vec![(all.clone(), Some(0))]);
    }

    #[test]
    fn node_agents_select_their_pods_and_their_node_only() {
        let node = |scope| targets(ScopeMode::Node, scope, "n1", &all());
        assert_eq!(
            node(Scope::NodeBound)[0].field_selector.as_deref(),
            Some("spec.nodeName=n1")
        );
        assert_eq!(
            node(Scope::NodeSelf)[0].field_selector.as_deref(),
            Some("metadata.name=n1")
        );
        assert!(node(Scope::Cluster).is_empty());
        assert!(node(Scope::Namespaced).is_empty());
    }

    #[test]
    fn the_leader_adds_unscheduled_pods_and_every_kind_not_bound_to_a_node() {
        assert_eq!(
            leader_targets(Scope::NodeBound, &all())[0]
                .field_selector
                .as_deref(),
            Some("spec.nodeName=")
        );
        assert!(leader_targets(Scope::NodeSelf, &all()).is_empty());
        assert_eq!(
            leader_targets(Scope::Cluster, &all())[0].field_selector,
            None
        );
        assert_eq!(
            leader_targets(Scope::Namespaced, &all())[0].field_selector,
            None
        );
    }

    #[test]
    fn cluster_scope_watches_every_kind_unfiltered() {
        for scope in [
            Scope::NodeBound,
            Scope::NodeSelf,
            Scope::Namespaced,
            Scope::Cluster,
        ] {
            let t = targets(ScopeMode::Cluster, scope, "", &all());
            assert_eq!(
                t,
                vec![WatchTarget {
                    namespace: None,
                    field_selector: None
                }]
            );
        }
    }
}
