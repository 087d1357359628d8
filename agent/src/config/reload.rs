//! What a changed `--config` file (or custom resource state config file) may change while the
//! agent runs: the reload policy.
//!
//! A reload reads the files again and applies it over the command line the agent started with,
//! as a start would. A file whose bytes did not change is no reload; a file that cannot be read
//! or does not make a valid config changes nothing (the running config stays); settings that
//! only a restart can change ([`keep_restart_only_settings`]) keep their running values and are
//! named, so the caller can say so. Everything else takes effect. This module decides; noticing
//! the change and applying the result are the caller's. See [`Reloader::reread`].

use std::path::{Path, PathBuf};

use super::{Args, Catalog, Config, Election, Error, Result, file};

/// Settings a reload cannot change while the process runs: each one that the new config
/// changes is named (by its flag) and set back to the running value. Everything else a reload
/// changes takes effect (the agent starts the new watches beside the running ones).
pub fn keep_restart_only_settings(running: &Config, new: &mut Config) -> Vec<&'static str> {
    let mut changed = Vec::new();
    macro_rules! keep {
        ($field:ident, $flag:literal) => {
            if new.$field != running.$field {
                changed.push($flag);
                new.$field = running.$field.clone();
            }
        };
    }
    keep!(scope, "--scope");
    keep!(node, "--node");
    keep!(kubeconfig, "--kubeconfig");
    keep!(listen, "--host/--port");
    keep!(telemetry_listen, "--telemetry-host/--telemetry-port");
    keep!(tls, "--tls-config/--telemetry-tls");
    // The listeners are bound, and their limits set, once.
    keep!(server, "--server-*");
    keep!(log_format, "--log-format");
    // The election's settings wait for a restart, but not the Lease the shard names: a new
    // shard is re-planned, Lease and watches (`crate::pipeline`).
    let settings = |e: &Option<Election>| {
        e.clone().map(|e| Election {
            name: String::new(),
            ..e
        })
    };
    if settings(&new.election) != settings(&running.election)
        || (running.election.is_some() && new.args.lease_name != running.args.lease_name)
    {
        changed.push("--leader-election/--lease-*");
        new.election.clone_from(&running.election);
    }
    if let Some(e) = &mut new.election {
        e.name = super::lease_name(&running.args.lease_name, new.watch.shard);
    }
    // The authorizer and its cache are built once, at start.
    keep!(auth, "--auth-filter/--tenant-access/--auth-cache-*");
    keep!(autoshard, "--pod/--pod-namespace");
    // `--shard`/`--total-shards` are reloaded (above for the Lease). An autosharded instance's
    // shard is its StatefulSet's, never the file's: `crate::autoshard` sets it on every
    // configuration.
    // The client's read timeout follows the watch timeout; the client is built once.
    if new.watch.timeout_secs != running.watch.timeout_secs {
        changed.push("--watch-timeout");
        new.watch.timeout_secs = running.watch.timeout_secs;
    }
    changed
}

/// A configuration a reload brings into effect.
#[derive(Debug)]
pub struct Reloaded {
    /// The new configuration, restart-only settings kept at their running values.
    pub config: Config,
    /// The restart-only settings the file changes (by flag), ignored until a restart.
    pub restart_required: Vec<&'static str>,
}

/// What a reload reads: the `--config` file and the custom resource state config file in
/// effect. The same inputs again are no change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Inputs {
    /// The `--config` file's bytes (`None` without `--config`).
    config: Option<Vec<u8>>,
    /// The custom resource state config file the flags (and `--config`) name, with its bytes
    /// (`None`: it cannot be read).
    custom: Option<(PathBuf, Option<Vec<u8>>)>,
}

/// Reads the files a configuration comes from again, each time one of them may have changed:
/// the `--config` file, and the `--custom-resource-state-config-file` (kube-state-metrics
/// restarts itself when either changes; the agent applies both the same way).
#[derive(Debug)]
pub struct Reloader {
    /// The `--config` file, if any.
    config_path: Option<PathBuf>,
    /// The flags to build on: those before the `--config` file was applied, or all of them
    /// without one.
    command_line: Args,
    /// The inputs of the last read, applied or not.
    last_read: Inputs,
}

impl Reloader {
    /// A reloader for the files `config` was read from, or `None` when it was read from none
    /// (no `--config`, no custom resource state config file): nothing can change then.
    pub fn new(config: &Config) -> Option<Reloader> {
        let (config_path, command_line, contents) = match &config.file {
            Some(f) => (
                Some(f.path.clone()),
                f.command_line.clone(),
                Some(f.contents.clone()),
            ),
            None => (None, config.args.clone(), None),
        };
        let custom = config.args.custom_resource_state_file().map(|path| {
            // The text the running config compiled, so a first event is no change.
            let bytes = config
                .custom
                .as_ref()
                .map(|c| c.source.clone().into_bytes());
            (path.to_path_buf(), bytes)
        });
        if config_path.is_none() && custom.is_none() {
            return None;
        }
        Some(Reloader {
            config_path,
            command_line,
            last_read: Inputs {
                config: contents,
                custom,
            },
        })
    }

    /// The `--config` file, if any.
    pub fn path(&self) -> Option<&Path> {
        self.config_path.as_deref()
    }

    /// The custom resource state config file of the last read, if any.
    pub fn custom_path(&self) -> Option<&Path> {
        self.last_read.custom.as_ref().map(|(p, _)| p.as_path())
    }

    /// The files whose changes may change the configuration: the `--config` file and the
    /// custom resource state config file of the last read.
    pub fn files(&self) -> Vec<PathBuf> {
        self.config_path
            .iter()
            .cloned()
            .chain(self.custom_path().map(Path::to_path_buf))
            .collect()
    }

    fn read(&self) -> Result<Inputs> {
        let config = match &self.config_path {
            Some(path) => Some(std::fs::read(path).map_err(|e| Error::ConfigFile {
                path: path.clone(),
                reason: e.to_string(),
            })?),
            None => None,
        };
        let args = match &config {
            Some(contents) => file::args_with(&self.command_line, contents),
            None => Some(self.command_line.clone()),
        };
        let custom = args
            .as_ref()
            .and_then(|a| a.custom_resource_state_file())
            .map(|path| (path.to_path_buf(), std::fs::read(path).ok()));
        Ok(Inputs { config, custom })
    }

    /// Reads the files and builds the configuration they ask for, compared with `running`.
    /// `Ok(None)` when their bytes are those of the last read.
    ///
    /// # Errors
    /// When a file cannot be read or does not make a valid configuration (a custom resource
    /// state config that does not compile names the flag, the resource and the metric); the
    /// caller keeps the running one. Inputs that failed are not read as a change again until
    /// their bytes change.
    pub fn reread(&mut self, running: &Config, kinds: &Catalog) -> Result<Option<Reloaded>> {
        let inputs = self.read()?;
        if inputs == self.last_read {
            return Ok(None);
        }
        self.last_read = inputs.clone();
        let mut config = match (&self.config_path, inputs.config) {
            (Some(path), Some(contents)) => {
                file::load_contents(self.command_line.clone(), path, contents, kinds)?
            }
            _ => Config::from_args(self.command_line.clone(), kinds)?,
        };
        let restart_required = keep_restart_only_settings(running, &mut config);
        Ok(Some(Reloaded {
            config,
            restart_required,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry;
    use clap::Parser as _;

    /// A config file in a directory of its own, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &str) -> TempFile {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let dir = std::env::temp_dir().join(format!(
                "ksa-config-reload-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let f = TempFile(dir.join("config.yaml"));
            f.write(contents);
            f
        }

        fn write(&self, contents: &str) {
            std::fs::write(&self.0, contents).unwrap();
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    /// The configuration a start with these flags (and the files they name) loads.
    fn loaded(flags: &[&str]) -> Config {
        let argv = std::iter::once("kube-state-agent").chain(flags.iter().copied());
        let args = Args::try_parse_from(argv).unwrap();
        super::super::load(args, &registry::catalog()).unwrap()
    }

    /// What `reloader` makes of its files now, against the built-in catalog.
    fn reread(reloader: &mut Reloader, running: &Config) -> Result<Option<Reloaded>> {
        reloader.reread(running, &registry::catalog())
    }

    fn start(file: &TempFile) -> (Config, Reloader) {
        let config = loaded(&["--node=n1", "--config", file.0.to_str().unwrap()]);
        let reloader = Reloader::new(&config).unwrap();
        (config, reloader)
    }

    #[test]
    fn a_changed_file_applies_except_what_needs_a_restart_and_a_bad_one_changes_nothing() {
        let file = TempFile::new("resources: [pods]\n");
        let (running, mut reloader) = start(&file);
        assert!(
            reread(&mut reloader, &running).unwrap().is_none(),
            "the same bytes are no change"
        );

        file.write("resources: [pods, nodes]\nport: 1\n");
        let reloaded = reread(&mut reloader, &running).unwrap().unwrap();
        assert_eq!(reloaded.config.resources, ["pods", "nodes"]);
        assert_eq!(reloaded.restart_required, ["--host/--port"]);
        assert_eq!(reloaded.config.listen, running.listen, "the port waits");

        file.write("resources: [nope]\n");
        let err = reread(&mut reloader, &running).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(
            reread(&mut reloader, &running).unwrap().is_none(),
            "a refused file is not retried until it changes"
        );

        std::fs::remove_file(&file.0).unwrap();
        let err = reread(&mut reloader, &running).unwrap_err();
        assert!(
            matches!(err, Error::ConfigFile { ref path, .. } if Some(path.as_path()) == reloader.path()),
            "{err}"
        );
    }

    #[test]
    fn a_node_agents_new_shard_names_its_new_lease_and_the_lease_settings_wait() {
        let file = TempFile::new("total_shards: 1\n");
        let (running, mut reloader) = start(&file);
        assert_eq!(running.election.as_ref().unwrap().name, "kube-state-agent");

        file.write("total_shards: 2\n");
        let reloaded = reread(&mut reloader, &running).unwrap().unwrap();
        assert!(
            reloaded.restart_required.is_empty(),
            "{:?}",
            reloaded.restart_required
        );
        let shard = reloaded.config.watch.shard.unwrap();
        assert_eq!((shard.index, shard.total), (0, 2));
        let election = reloaded.config.election.unwrap();
        assert_eq!(election.name, "kube-state-agent-shard-0");
        assert_eq!(
            election.identity,
            running.election.as_ref().unwrap().identity
        );

        // The Lease's own settings still wait for a restart; the shard's Lease follows the
        // running --lease-name.
        file.write("total_shards: 2\nlease_name: other\nlease_duration: 30s\n");
        let reloaded = reread(&mut reloader, &running).unwrap().unwrap();
        assert_eq!(reloaded.restart_required, ["--leader-election/--lease-*"]);
        let election = reloaded.config.election.unwrap();
        assert_eq!(election.name, "kube-state-agent-shard-0");
        assert_eq!(
            election.lease_duration,
            running.election.as_ref().unwrap().lease_duration
        );

        file.write("shard: 1\n");
        let err = reread(&mut reloader, &running).unwrap_err();
        assert!(err.to_string().contains("--shard"), "{err}");
    }

    const CUSTOM_A: &str = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      metrics:\n        - name: size\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n";
    const CUSTOM_B: &str = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      metrics:\n        - name: size\n          each: {type: Gauge, gauge: {path: [spec, size]}}\n        - name: parts\n          each: {type: Gauge, gauge: {path: [spec, parts]}}\n";
    const CUSTOM_BROKEN: &str = "spec:\n  resources:\n    - groupVersionKind: {group: a.io, version: v1, kind: A}\n      metrics:\n        - name: bad\n          each: {type: Histogram}\n";

    #[test]
    fn a_changed_custom_config_file_reloads_without_a_config_file() {
        let custom = TempFile::new(CUSTOM_A);
        let running = loaded(&[
            "--scope=cluster",
            "--custom-resource-state-config-file",
            custom.0.to_str().unwrap(),
        ]);
        let mut reloader = Reloader::new(&running).expect("a custom config file is watched");
        assert_eq!(reloader.path(), None);
        assert_eq!(reloader.files(), std::slice::from_ref(&custom.0));
        assert!(
            reread(&mut reloader, &running).unwrap().is_none(),
            "the text the running config compiled is no change"
        );

        custom.write(CUSTOM_B);
        let reloaded = reread(&mut reloader, &running).unwrap().expect("a change");
        assert_eq!(
            reloaded.config.custom_family_names(),
            ["kube_customresource_size", "kube_customresource_parts"]
        );
        assert!(reloaded.restart_required.is_empty());

        custom.write(CUSTOM_BROKEN);
        let err = reread(&mut reloader, &running).unwrap_err();
        assert!(err.is_custom_resource_state(), "{err}");
        let text = err.to_string();
        for part in [
            "--custom-resource-state-config-file",
            "a.io",
            "\"bad\"",
            "Histogram",
        ] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        assert!(
            reread(&mut reloader, &running).unwrap().is_none(),
            "a refused file is not retried until it changes"
        );
    }

    #[test]
    fn the_custom_config_file_a_config_file_names_is_reread_when_only_it_changes() {
        let custom = TempFile::new(CUSTOM_A);
        let file = TempFile::new(&format!(
            "custom_resource_state_config_file: {}\n",
            custom.0.display()
        ));
        let running = loaded(&["--scope=cluster", "--config", file.0.to_str().unwrap()]);
        let mut reloader = Reloader::new(&running).unwrap();
        assert_eq!(reloader.files(), [file.0.clone(), custom.0.clone()]);

        custom.write(CUSTOM_B);
        let reloaded = reread(&mut reloader, &running)
            .unwrap()
            .expect("the custom file's change is a change");
        assert_eq!(reloaded.config.custom_family_names().len(), 2);
        assert!(reloaded.config.file.is_some(), "still read with --config");

        custom.write(CUSTOM_BROKEN);
        let err = reread(&mut reloader, &running).unwrap_err();
        assert!(err.is_custom_resource_state(), "{err}");
    }

    #[test]
    fn an_inline_custom_config_needs_no_reloader() {
        let running = loaded(&[
            "--scope=cluster",
            "--custom-resource-state-config",
            CUSTOM_A,
        ]);
        assert!(Reloader::new(&running).is_none());
    }
}
