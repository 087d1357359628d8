//! Wiring: build the client, start one watch per (kind, selector), the snapshot builder and the
//! two HTTP servers, and stop them all on SIGTERM. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;

use kube::Api;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::client;
use crate::config::{Config, ScopeMode};
use crate::exposition::RenderContext;
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::leader;
use crate::registry;
use crate::resources::{FamilySelection, Scope};
use crate::snapshot::{KindSource, Published, run_builder};
use crate::store::Writer;
use crate::store::{self, ChangeSignal};
use crate::telemetry::{SnapshotTelemetry, Telemetry};
use crate::watch::{WatchContext, WatchSpec, WatchTarget, Watchable};

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
fn targets(mode: ScopeMode, scope: Scope, node: &str) -> Vec<WatchTarget> {
    if mode == ScopeMode::Cluster {
        return vec![WatchTarget {
            namespace: None,
            field_selector: None,
        }];
    }
    match scope {
        Scope::NodeBound => vec![WatchTarget {
            namespace: None,
            field_selector: Some(format!("spec.nodeName={node}")),
        }],
        Scope::NodeSelf => vec![WatchTarget {
            namespace: None,
            field_selector: Some(format!("metadata.name={node}")),
        }],
        // Watched by the elected leader only.
        Scope::Namespaced | Scope::Cluster => Vec::new(),
    }
}

/// The watches the elected leader adds for a kind of `scope`: the unscheduled pods and every
/// kind that is not bound to a node.
fn leader_targets(scope: Scope) -> Vec<WatchTarget> {
    match scope {
        Scope::NodeBound => vec![WatchTarget {
            namespace: None,
            field_selector: Some("spec.nodeName=".to_string()),
        }],
        Scope::NodeSelf => Vec::new(),
        Scope::Namespaced | Scope::Cluster => vec![WatchTarget {
            namespace: None,
            field_selector: None,
        }],
    }
}

/// A watch that runs only while this agent leads; its writer rests here in between.
struct LeaderWatch {
    kind: &'static dyn Watchable,
    spec: WatchSpec,
    writer: Option<Writer>,
}

/// Starts the leader-only watches whenever `leader` turns true and stops them (clearing their
/// rows) whenever it turns false, until the election ends.
async fn follow_leadership(
    mut leader: watch::Receiver<bool>,
    mut entries: Vec<LeaderWatch>,
    ctx: WatchContext,
) {
    loop {
        if leader.wait_for(|l| *l).await.is_err() {
            return;
        }
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
        let selection = FamilySelection::from_fn(&kind.family_headers(), |h| {
            config.metrics.enables(h.name, h.opt_in)
        });
        let render = RenderContext {
            labels: config.labels_for(resource),
            annotations: config.annotations_for(resource),
        };
        let spec = |target| WatchSpec {
            target,
            render: render.clone(),
            selection: selection.clone(),
        };
        let mut shards = Vec::new();
        for target in targets(config.scope, kind.scope(), &config.node) {
            let (writer, reader) = store::shard(resource, signal.clone());
            shards.push(reader);
            watches.spawn(kind.watch(spec(target), ctx.clone(), writer, stop_rx.clone()));
        }
        if config.election.is_some() {
            for target in leader_targets(kind.scope()) {
                let (writer, reader) = store::shard(resource, signal.clone());
                shards.push(reader);
                leader_watches.push(LeaderWatch {
                    kind,
                    spec: spec(target),
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
        let follower = tokio::spawn(follow_leadership(leader_rx, leader_watches, ctx.clone()));
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

    #[test]
    fn node_agents_select_their_pods_and_their_node_only() {
        let node = |scope| targets(ScopeMode::Node, scope, "n1");
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
            leader_targets(Scope::NodeBound)[0]
                .field_selector
                .as_deref(),
            Some("spec.nodeName=")
        );
        assert!(leader_targets(Scope::NodeSelf).is_empty());
        assert_eq!(leader_targets(Scope::Cluster)[0].field_selector, None);
        assert_eq!(leader_targets(Scope::Namespaced)[0].field_selector, None);
    }

    #[test]
    fn cluster_scope_watches_every_kind_unfiltered() {
        for scope in [
            Scope::NodeBound,
            Scope::NodeSelf,
            Scope::Namespaced,
            Scope::Cluster,
        ] {
            let t = targets(ScopeMode::Cluster, scope, "");
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
