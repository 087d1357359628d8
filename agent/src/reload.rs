//! Config reloads as they happen: noticing that the `--config` file changed, reading it again
//! under the reload policy ([`crate::config::reload`]), and reporting each outcome in logs and
//! self-metrics. See [`ConfigReloads::next`]; starting the new watches is the pipeline's.
//!
//! The file's *directory* is watched, not the file: a Kubernetes ConfigMap volume replaces its
//! files by swapping a `..data` symlink, which a watch on the old file would never see. Any
//! event in the directory wakes [`FileWatch::changed`] once the directory has been quiet for
//! [`SETTLE`], so an editor's truncate-then-write is read once, whole. Whether the contents
//! really changed is the reload policy's to decide.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher as _};
use tokio::sync::mpsc;

use crate::config::reload::Reloader;
use crate::config::{Catalog, Config};
use crate::telemetry::Telemetry;

/// How long the directory must be quiet before a change is reported.
pub const SETTLE: Duration = Duration::from_millis(250);

/// A watch on the directory of one file.
pub struct FileWatch {
    // Dropping the watcher ends the watch.
    _watcher: notify::RecommendedWatcher,
    events: mpsc::UnboundedReceiver<()>,
    /// An event was received and the directory is settling: a [`FileWatch::changed`] dropped
    /// while it waits for quiet leaves this set, so the next call goes on settling instead of
    /// waiting for another event.
    settling: bool,
}

impl FileWatch {
    /// Starts watching the directory that holds `file`.
    ///
    /// # Errors
    /// When the OS watch cannot be set up (no such directory, inotify limits).
    pub fn start(file: &Path) -> Result<FileWatch, notify::Error> {
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let (tx, events) = mpsc::unbounded_channel();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let relevant = match &event {
                    Ok(e) => !matches!(e.kind, notify::EventKind::Access(_)),
                    // An error (e.g. a queue overflow) may hide a change: look at the file again.
                    Err(_) => true,
                };
                if relevant {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        Ok(FileWatch {
            _watcher: watcher,
            events,
            settling: false,
        })
    }

    /// Completes after something changed in the directory and it then stayed quiet for
    /// [`SETTLE`]. Never completes once the watch has ended. Cancel-safe: a change noticed by
    /// a call that was dropped is reported by the next one.
    pub async fn changed(&mut self) {
        if !self.settling {
            if self.events.recv().await.is_none() {
                return std::future::pending().await;
            }
            self.settling = true;
        }
        // Quiet for SETTLE, or the watch ended: the change is complete.
        while let Ok(Some(())) = tokio::time::timeout(SETTLE, self.events.recv()).await {}
        self.settling = false;
    }
}

/// The configurations a changed `--config` file asks for, one per change that makes a valid
/// configuration.
pub struct ConfigReloads {
    /// `None` without `--config`, or when the file's directory cannot be watched.
    watch: Option<(FileWatch, Reloader)>,
    /// The last configuration yielded (the start one at first). Restart-only settings are the
    /// same in all of them, so comparing with it is comparing with the running one.
    last: Config,
    kinds: Catalog,
    telemetry: Telemetry,
}

impl ConfigReloads {
    /// Reports the configuration the agent starts with and starts watching its file, if any;
    /// a file that cannot be watched is logged (changes then need a restart).
    pub fn start(config: &Config, kinds: Catalog, telemetry: Telemetry) -> ConfigReloads {
        let watch = config.file.as_ref().and_then(|file| {
            telemetry.config_loaded(&file.path, &file.contents, false);
            match FileWatch::start(&file.path) {
                Ok(w) => Some((w, Reloader::new(file))),
                Err(e) => {
                    tracing::error!(file = %file.path.display(), error = %e,
                        "cannot watch the config file; changes need a restart");
                    None
                }
            }
        });
        ConfigReloads {
            watch,
            last: config.clone(),
            kinds,
            telemetry,
        }
    }

    /// The next configuration to apply: completes when the file changed into a valid
    /// configuration (restart-only settings kept, and named in a warning and in
    /// `ksa_config_restart_required`). A change that does not parse or validate is logged and
    /// counted, and the wait goes on. Never completes without a watched file. Cancel-safe.
    pub async fn next(&mut self) -> Config {
        let Some((watch, reloader)) = &mut self.watch else {
            return std::future::pending().await;
        };
        loop {
            watch.changed().await;
            match reloader.reread(&self.last, &self.kinds) {
                Ok(None) => {}
                Ok(Some(reloaded)) => {
                    let new = reloaded.config;
                    for warning in &new.warnings {
                        tracing::warn!("{warning}");
                    }
                    if !reloaded.restart_required.is_empty() {
                        tracing::warn!(settings = %reloaded.restart_required.join(","),
                            "the config file changes settings that take effect only after a restart; \
                             they are ignored until then");
                    }
                    let t = &self.telemetry;
                    t.config_restart_required(!reloaded.restart_required.is_empty());
                    if let Some(file) = &new.file {
                        t.config_loaded(&file.path, &file.contents, true);
                    }
                    tracing::info!(file = %reloader.path().display(), "config file changed; applying it");
                    self.last = new.clone();
                    return new;
                }
                Err(e) => {
                    tracing::error!(error = %e, "config reload failed; keeping the running config");
                    self.telemetry.config_reload_failed(reloader.path());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_rewrite_and_a_symlink_swap_are_both_noticed() {
        let dir = std::env::temp_dir().join(format!("ksa-reload-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("v1")).unwrap();
        std::fs::create_dir_all(dir.join("v2")).unwrap();
        std::fs::write(dir.join("v1/config.yaml"), "port: 1\n").unwrap();
        std::fs::write(dir.join("v2/config.yaml"), "port: 2\n").unwrap();
        // The ConfigMap layout: config.yaml -> ..data/config.yaml, ..data -> v1.
        std::os::unix::fs::symlink("v1", dir.join("..data")).unwrap();
        std::os::unix::fs::symlink("..data/config.yaml", dir.join("config.yaml")).unwrap();
        let file = dir.join("config.yaml");
        let mut watch = FileWatch::start(&file).unwrap();
        let within = Duration::from_secs(5);

        // Swap ..data atomically, as the kubelet does.
        std::os::unix::fs::symlink("v2", dir.join("..data_tmp")).unwrap();
        std::fs::rename(dir.join("..data_tmp"), dir.join("..data")).unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("the symlink swap is noticed");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "port: 2\n");

        // A plain file, rewritten in place.
        std::fs::remove_file(&file).unwrap();
        std::fs::write(&file, "port: 3\n").unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("replacing the symlink by a file is noticed");
        std::fs::write(&file, "port: 4\n").unwrap();
        tokio::time::timeout(within, watch.changed())
            .await
            .expect("an in-place rewrite is noticed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
