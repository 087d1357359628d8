//! Following leadership: the leader-only watches run while this agent leads, and stop the
//! moment it does not, their rows leaving the next snapshot. See [`follow`].

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::sharding::Shard;
use crate::store::Writer;
use crate::watch::{StopSignal, WatchContext, WatchSpec, Watchable};

/// A watch that runs only while this agent leads; its writer rests here in between.
pub struct LeaderWatch {
    kind: &'static dyn Watchable,
    spec: WatchSpec,
    /// `None` while the watch runs (or after it panicked: that kind stays off until restart).
    writer: Option<Writer>,
}

impl LeaderWatch {
    /// The watch of `kind` by `spec`, feeding `writer` whenever it runs.
    pub fn new(kind: &'static dyn Watchable, spec: WatchSpec, writer: Writer) -> LeaderWatch {
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
            Err(e) => tracing::error!(resource = watches[i].kind.resource(), error = %e,
                "a leader watch panicked; that kind stays off until restart"),
        }
    }
}
