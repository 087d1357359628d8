//! Following leadership: the leader-only watches run while this agent leads, and stop the
//! moment it does not, their rows leaving the next snapshot. See [`follow`].

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::registry::KindInfo;
use crate::sharding::Shard;
use crate::store::Writer;
use crate::watch::{StopSignal, WatchContext, WatchSpec};

/// A watch that runs only while this agent leads; its writer rests here in between.
pub struct LeaderWatch {
    kind: &'static dyn KindInfo,
    spec: WatchSpec,
    /// `None` while the watch runs. A watch restarts itself after a panic
    /// ([`crate::watch`]'s supervision), so its task ends only when told to, or cancelled at
    /// shutdown.
    writer: Option<Writer>,
}

impl LeaderWatch {
    /// The watch of `kind` by `spec`, feeding `writer` whenever it runs.
    pub fn new(kind: &'static dyn KindInfo, spec: WatchSpec, writer: Writer) -> LeaderWatch {
        LeaderWatch {
            kind,
            spec,
            writer: Some(writer),
        }
    }
}

/// The leader-only watches while they run.
struct Leading {
    stop: watch::Sender<bool>,
    running: Vec<(usize, JoinHandle<Writer>)>,
}

/// Runs `watches` whenever `leader` is true and stops them whenever it turns false, until the
/// election ends or `stop` turns true.
///
/// When this agent leads already, the watches are started before this returns, so their
/// shards are listing by then (a new configuration waits for them before it takes over). A
/// stopped watch clears its shard: its rows leave the next snapshot and it holds no readiness
/// back. While leading, the shard ordinal is reported (`(index, total)` of the shard led), so
/// that kube-state-metrics' mixin counts one ordinal per shard that has a leader.
pub fn follow(
    mut leader: watch::Receiver<bool>,
    mut watches: Vec<LeaderWatch>,
    ctx: WatchContext,
    shard: Option<Shard>,
    mut stop: StopSignal,
) -> JoinHandle<()> {
    let ordinal = shard.map_or((0, 1), |s| (s.index, s.total));
    let mut leading = (*leader.borrow_and_update()).then(|| start(&mut watches, &ctx, ordinal));
    tokio::spawn(async move {
        loop {
            match leading.take() {
                None => {
                    let leads = tokio::select! {
                        r = leader.wait_for(|l| *l) => r.is_ok(),
                        _ = stop.wait_for(|s| *s) => false,
                    };
                    if !leads {
                        return;
                    }
                    leading = Some(start(&mut watches, &ctx, ordinal));
                }
                Some(running) => {
                    let lost = tokio::select! {
                        r = leader.wait_for(|l| !*l) => r.is_ok(),
                        _ = stop.wait_for(|s| *s) => false,
                    };
                    end(running, &mut watches, &ctx, ordinal).await;
                    if !lost {
                        return;
                    }
                }
            }
        }
    })
}

fn start(watches: &mut [LeaderWatch], ctx: &WatchContext, (index, total): (u32, u32)) -> Leading {
    ctx.telemetry.shard(total, Some(index));
    let (stop, stopped) = watch::channel(false);
    let running = watches
        .iter_mut()
        .enumerate()
        .filter_map(|(i, w)| {
            let writer = w.writer.take()?;
            let watch = w
                .kind
                .watch(w.spec.clone(), ctx.clone(), writer, stopped.clone());
            Some((i, tokio::spawn(watch)))
        })
        .collect();
    Leading { stop, running }
}

/// Stops the running watches and takes their writers back (their shards cleared).
async fn end(
    leading: Leading,
    watches: &mut [LeaderWatch],
    ctx: &WatchContext,
    (_, total): (u32, u32),
) {
    ctx.telemetry.shard(total, None);
    let _ = leading.stop.send(true);
    for (i, handle) in leading.running {
        match handle.await {
            Ok(writer) => watches[i].writer = Some(writer),
            // Cancelled at shutdown; the writer went with the task, and its rows with it.
            Err(e) => tracing::debug!(resource = watches[i].kind.resource(), error = %e,
                "a leader watch's task ended without its writer"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::config::ApiEncoding;
    use crate::exposition::{Format, RenderContext};
    use crate::mock_api::{Answer, MockApi, discovery, list};
    use crate::plan::Shape;
    use crate::resources::FamilySelection;
    use crate::resources::namespace::KIND as NAMESPACES;
    use crate::snapshot::{Builder, KindSource};
    use crate::store::{self, ChangeSignal, ShardState};
    use crate::telemetry::Telemetry;
    use crate::watch::{ListOptions, WatchTarget};

    /// A whole watch of every Namespace, over JSON, every family rendered.
    fn namespaces() -> WatchSpec {
        WatchSpec {
            target: WatchTarget {
                namespace: None,
                field_selector: None,
            },
            render: RenderContext::default(),
            selection: FamilySelection::new(&NAMESPACES.headers(), |_| true),
            shape: Shape::Whole,
            list: ListOptions {
                encoding: ApiEncoding::Json,
                ..ListOptions::default()
            },
            shard: None,
            namespaces: crate::config::NamespaceFilter::default(),
            node_binding: crate::watch::NodeBinding::All,
        }
    }

    /// Waits (on tokio's clock) until `done` holds, looking again after each change of a
    /// shard that `signal` wakes for.
    async fn until(signal: &ChangeSignal, what: &str, done: impl Fn() -> bool) {
        let wait = async {
            while !done() {
                signal.changed().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(60), wait)
            .await
            .unwrap_or_else(|_| panic!("never: {what}"));
    }

    #[tokio::test(start_paused = true)]
    async fn losing_leadership_clears_the_leaders_rows_and_regaining_it_lists_again() {
        let (client, server) = MockApi::start(|req| match req.path.as_str() {
            "/api/v1" => discovery(&["namespaces"]),
            "/api/v1/namespaces" if req.is_watch() => Answer::Hold,
            "/api/v1/namespaces" => list(
                "NamespaceList",
                vec![serde_json::json!({"metadata": {"name": "a", "uid": "u-a",
                    "resourceVersion": "9"}, "status": {"phase": "Active"}})],
            ),
            _ => Answer::status(404, "NotFound"),
        });
        let telemetry = Telemetry::new();
        let ctx = WatchContext {
            client,
            telemetry: telemetry.clone(),
            node_labels: Default::default(),
        };
        let signal = ChangeSignal::default();
        let (writer, reader) = store::shard("namespaces", signal.clone());
        let spec = namespaces();
        let selection = spec.selection.clone();
        let mut builder = Builder::new(
            Arc::new(vec![KindSource {
                info: &NAMESPACES,
                selection,
                shards: vec![reader.clone()],
            }]),
            false,
        );
        let lists = |s: &crate::mock_api::Seen| s.is_list_of("/api/v1/namespaces");
        let rows = |snapshot: &crate::snapshot::Snapshot| {
            String::from_utf8(snapshot.body(Format::Text, false).chunks.to_vec()).unwrap()
        };
        let ordinal = || {
            telemetry.value(
                "kube_state_metrics_shard_ordinal",
                &[("shard_ordinal", "1")],
            )
        };

        let (leader_tx, leader) = watch::channel(false);
        let (stop_tx, stop) = watch::channel(false);
        let task = follow(
            leader,
            vec![LeaderWatch::new(&NAMESPACES, spec, writer)],
            ctx,
            Some(Shard { index: 1, total: 2 }),
            stop,
        );
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(server.count(lists), 0, "a follower does not watch");
        assert_eq!(reader.state(), ShardState::Idle);
        let snapshot = builder.build();
        assert!(snapshot.is_ready(), "idle shards hold no readiness back");
        assert_eq!(snapshot.objects(), 0);

        leader_tx.send(true).unwrap();
        until(&signal, "listed while leading", || {
            reader.state() == ShardState::Listed
        })
        .await;
        let snapshot = builder.build();
        assert!(
            rows(&snapshot)
                .contains(r#"kube_namespace_status_phase{namespace="a",phase="Active"} 1"#)
        );
        assert_eq!(ordinal(), Some(1.0), "the shard led is reported");

        leader_tx.send(false).unwrap();
        until(&signal, "idle once not leading", || {
            reader.state() == ShardState::Idle
        })
        .await;
        let snapshot = builder.build();
        assert_eq!(snapshot.objects(), 0, "{}", rows(&snapshot));
        assert!(
            rows(&snapshot).is_empty(),
            "no row of the leader's kinds is left"
        );
        assert!(snapshot.is_ready());
        assert_eq!(ordinal(), None);

        leader_tx.send(true).unwrap();
        until(&signal, "listed again when leading again", || {
            reader.state() == ShardState::Listed
        })
        .await;
        assert_eq!(server.count(lists), 2, "regaining the lease lists anew");
        assert_eq!(builder.build().objects(), 1);

        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops when told")
            .unwrap();
        assert_eq!(reader.state(), ShardState::Idle);
        assert!(reader.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn when_already_leading_the_watches_are_listing_before_follow_returns() {
        let (client, _server) = MockApi::start(|_| Answer::Hold);
        let ctx = WatchContext {
            client,
            telemetry: Telemetry::new(),
            node_labels: Default::default(),
        };
        let (writer, reader) = store::shard("namespaces", ChangeSignal::default());
        let spec = namespaces();
        let (_leader_tx, leader) = watch::channel(true);
        let (stop_tx, stop) = watch::channel(false);
        let task = follow(
            leader,
            vec![LeaderWatch::new(&NAMESPACES, spec, writer)],
            ctx,
            None,
            stop,
        );
        // Nothing has run yet: a reload waiting for this pipeline's lists waits for it.
        assert_eq!(reader.state(), ShardState::Listing);
        // The API server answers nothing, not even discovery: stopping does not wait for it.
        stop_tx.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("stops without an answer from the API server")
            .unwrap();
        assert_eq!(reader.state(), ShardState::Idle);
    }
}
