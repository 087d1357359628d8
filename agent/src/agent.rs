//! Wiring: build the client, start one watch per (kind, selector), the snapshot builder and the
//! two HTTP servers, and stop them all on SIGTERM. See [`run`].

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::client;
use crate::config::{Config, ScopeMode};
use crate::exposition::RenderContext;
use crate::http::{AppState, router, shutdown_signal, telemetry_router};
use crate::registry;
use crate::resources::{FamilySelection, Scope};
use crate::snapshot::{KindSource, Published, run_builder};
use crate::store::{self, ChangeSignal};
use crate::telemetry::{SnapshotTelemetry, Telemetry};
use crate::watch::{WatchContext, WatchTarget};

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

/// Runs the agent until SIGTERM or Ctrl-C.
///
/// # Errors
/// When the client cannot be built or a port cannot be bound; watch errors are retried, never
/// returned.
pub async fn run(config: Config, telemetry: Telemetry) -> Result<(), Error> {
    let client = client::build(config.kubeconfig.as_deref(), telemetry.clone()).await?;
    let ctx = WatchContext {
        client,
        telemetry: telemetry.clone(),
    };
    let signal = ChangeSignal::default();
    let mut watches = JoinSet::new();
    let mut sources = Vec::new();
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
        let mut shards = Vec::new();
        for target in targets(config.scope, kind.scope(), &config.node) {
            let (writer, reader) = store::shard(resource, signal.clone());
            shards.push(reader);
            watches.spawn(kind.watch(
                target,
                ctx.clone(),
                render.clone(),
                selection.clone(),
                writer,
            ));
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

    let state = AppState {
        published,
        telemetry,
    };
    let metrics = bind(config.listen, "--host/--port").await?;
    let self_metrics = bind(config.telemetry_listen, "--telemetry-host/--telemetry-port").await?;
    tracing::info!(scope = ?config.scope, node = %config.node, metrics = %config.listen, telemetry = %config.telemetry_listen,
        resources = ?config.resources, "serving");

    let shutdown = shutdown_signal();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let main_server =
        axum::serve(metrics, router(state.clone())).with_graceful_shutdown(wait(stop_rx.clone()));
    let telemetry_server =
        axum::serve(self_metrics, telemetry_router(state)).with_graceful_shutdown(wait(stop_rx));
    let servers =
        async { tokio::try_join!(main_server.into_future(), telemetry_server.into_future()) };
    tokio::pin!(servers);
    let result = tokio::select! {
        r = &mut servers => r.map(|_| ()),
        () = shutdown => {
            tracing::info!("shutting down");
            let _ = stop_tx.send(true);
            servers.await.map(|_| ())
        }
    };
    builder.abort();
    watches.shutdown().await;
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
        assert_eq!(node(Scope::NodeBound)[0].field_selector.as_deref(), Some("spec.nodeName=n1"));
        assert_eq!(node(Scope::NodeSelf)[0].field_selector.as_deref(), Some("metadata.name=n1"));
        assert!(node(Scope::Cluster).is_empty());
        assert!(node(Scope::Namespaced).is_empty());
    }

    #[test]
    fn cluster_scope_watches_every_kind_unfiltered() {
        for scope in [Scope::NodeBound, Scope::NodeSelf, Scope::Namespaced, Scope::Cluster] {
            let t = targets(ScopeMode::Cluster, scope, "");
            assert_eq!(t, vec![WatchTarget { namespace: None, field_selector: None }]);
        }
    }
}
