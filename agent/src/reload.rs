//! Config reloads as they happen: noticing that the `--config` file or the custom resource
//! state config file (`--custom-resource-state-config-file`, or the file `--config` names)
//! changed, reading them again under the reload policy ([`crate::config::reload`]), and reporting each outcome in logs and
//! self-metrics. See [`ConfigReloads::next`]; starting the new watches is the pipeline's.
//!
//! Each file's *directory* is watched, not the file: a Kubernetes ConfigMap volume replaces its
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

/// A watch on the directories of one or more files.
pub struct FileWatch {
    // Dropping the watcher ends the watch.
    watcher: notify::RecommendedWatcher,
    /// The directories watched.
    dirs: Vec<PathBuf>,
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
        let dir = dir_of(file);
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
            watcher,
            dirs: vec![dir],
            events,
            settling: false,
        })
    }

    /// Watches the directory of `file` too (nothing to do when it is watched already).
    ///
    /// # Errors
    /// As [`FileWatch::start`]; the directories already watched stay watched.
    pub fn watch_also(&mut self, file: &Path) -> Result<(), notify::Error> {
        let dir = dir_of(file);
        if self.dirs.contains(&dir) {
            return Ok(());
        }
        self.watcher.watch(&dir, RecursiveMode::NonRecursive)?;
        self.dirs.push(dir);
        Ok(())
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

/// The directory holding `file`.
fn dir_of(file: &Path) -> PathBuf {
    match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The configurations a changed `--config` file or custom resource state config file asks
/// for, one per change that makes a valid configuration.
pub struct ConfigReloads {
    /// `None` without either file, or when the `--config` file's directory cannot be watched.
    watch: Option<(FileWatch, Reloader)>,
    /// The last configuration yielded (the start one at first). Restart-only settings are the
    /// same in all of them, so comparing with it is comparing with the running one.
    last: Config,
    kinds: Catalog,
    telemetry: Telemetry,
}

impl ConfigReloads {
    /// Reports the configuration the agent starts with and starts watching its files, if any;
    /// a file that cannot be watched is logged (its changes then need a restart).
    pub fn start(config: &Config, kinds: Catalog, telemetry: Telemetry) -> ConfigReloads {
        if let Some(file) = &config.file {
            telemetry.config_loaded(&file.path, &file.contents, false);
        }
        if let (Some(path), Some(custom)) =
            (config.args.custom_resource_state_file(), &config.custom)
        {
            telemetry.custom_config_loaded(path, custom.source.as_bytes(), false);
        }
        let watch = Reloader::new(config).and_then(|reloader| {
            let files = reloader.files();
            let (first, others) = files.split_first()?;
            let mut watch = match FileWatch::start(first) {
                Ok(w) => w,
                Err(e) => {
                    tracing::error!(file = %first.display(), error = %e,
                        "cannot watch the config file; changes need a restart");
                    return None;
                }
            };
            for file in others {
                watch_also(&mut watch, file);
            }
            Some((watch, reloader))
        });
        ConfigReloads {
            watch,
            last: config.clone(),
            kinds,
            telemetry,
        }
    }

    /// The next configuration to apply: completes when a file changed into a valid
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
                    if let (Some(path), Some(custom)) =
                        (new.args.custom_resource_state_file(), &new.custom)
                    {
                        t.custom_config_loaded(path, custom.source.as_bytes(), new.file.is_none());
                        // `--config` may name another custom config file than before.
                        watch_also(watch, path);
                    }
                    let files: Vec<String> = reloader
                        .files()
                        .iter()
                        .map(|f| f.display().to_string())
                        .collect();
                    tracing::info!(files = %files.join(","), "config changed; applying it");
                    self.last = new.clone();
                    return new;
                }
                Err(e) => {
                    tracing::error!(error = %e, "config reload failed; keeping the running config");
                    match (reloader.path(), reloader.custom_path()) {
                        (Some(config), custom)
                            if !e.is_custom_resource_state() || custom.is_none() =>
                        {
                            self.telemetry.config_reload_failed(config);
                        }
                        (_, Some(custom)) => self.telemetry.custom_config_reload_failed(custom),
                        (_, None) => {}
                    }
                }
            }
        }
    }
}

/// Watches the directory of `file` too, or logs why not.
fn watch_also(watch: &mut FileWatch, file: &Path) {
    if let Err(e) = watch.watch_also(file) {
        tracing::error!(file = %file.display(), error = %e,
            "cannot watch the config file; changes need a restart");
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

    #[tokio::test]
    async fn a_changed_custom_config_file_is_applied_and_a_broken_one_is_counted() {
        use clap::Parser as _;
        let dir = std::env::temp_dir().join(format!("ksa-reload-custom-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("crs.yaml");
        let metric = |name: &str| {
            format!(
                "spec:\n  resources:\n    - groupVersionKind: {{group: a.io, version: v1, kind: A}}\n      metrics:\n        - name: {name}\n          each: {{type: Gauge, gauge: {{path: [spec, size]}}}}\n"
            )
        };
        std::fs::write(&file, metric("one")).unwrap();
        let args = crate::config::Args::try_parse_from([
            "kube-state-agent",
            "--scope=cluster",
            "--custom-resource-state-config-file",
            file.to_str().unwrap(),
        ])
        .unwrap();
        let catalog = crate::registry::catalog();
        let config = crate::config::load(args, &catalog).unwrap();
        let telemetry = Telemetry::new();
        let mut reloads = ConfigReloads::start(&config, catalog, telemetry.clone());
        let within = Duration::from_secs(10);

        std::fs::write(&file, metric("two")).unwrap();
        let new = tokio::time::timeout(within, reloads.next())
            .await
            .expect("the change is applied");
        let names: Vec<&str> = new.custom.as_ref().unwrap().resources[0]
            .families()
            .iter()
            .map(|f| f.name())
            .collect();
        assert_eq!(names, ["kube_customresource_two"]);
        assert_eq!(
            telemetry.value("ksa_config_reloads_total", &[("result", "success")]),
            Some(1.0)
        );

        std::fs::write(&file, "spec: {resources: [{groupVersionKind: {group: a.io, version: v1, kind: A}, metrics: [{name: bad, each: {type: Histogram}}]}]}\n").unwrap();
        // `next` keeps waiting after a failure: poll the counter beside it.
        let counted = async {
            while telemetry.value("ksa_config_reloads_total", &[("result", "failure")]) != Some(1.0)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let failed = async {
            tokio::select! {
                _ = reloads.next() => panic!("a broken file is not applied"),
                () = counted => {}
            }
        };
        tokio::time::timeout(within, failed)
            .await
            .expect("the failure is counted");
        let labels = [
            ("type", "customresourceconfig"),
            ("filename", file.to_str().unwrap()),
        ];
        assert_eq!(
            telemetry.value("kube_state_metrics_last_config_reload_successful", &labels),
            Some(0.0)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
