//! What a changed `--config` file may change while the agent runs: the reload policy.
//!
//! A reload reads the file again and applies it over the command line the agent started with,
//! as a start would. A file whose bytes did not change is no reload; a file that cannot be read
//! or does not make a valid config changes nothing (the running config stays); settings that
//! only a restart can change ([`keep_restart_only_settings`]) keep their running values and are
//! named, so the caller can say so. Everything else takes effect. This module decides; noticing
//! the change and applying the result are the caller's. See [`Reloader::reread`].

use std::path::{Path, PathBuf};

use super::{Args, Catalog, Config, ConfigFile, Error, Result, file};

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
    keep!(election, "--leader-election/--lease-*");
    // The authorizer and its cache are built once, at start.
    keep!(auth, "--auth-filter/--tenant-access/--auth-cache-*");
    // The shard names the Lease this agent runs for, which is fixed with the election.
    if new.watch.shard != running.watch.shard {
        changed.push("--shard/--total-shards");
        new.watch.shard = running.watch.shard;
    }
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

/// Reads one `--config` file again, each time it may have changed.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    command_line: Args,
    /// The bytes of the last read, applied or not: the same bytes again are no change.
    last_read: Vec<u8>,
}

impl Reloader {
    /// A reloader for the file `file` was read from at start.
    pub fn new(file: &ConfigFile) -> Reloader {
        Reloader {
            path: file.path.clone(),
            command_line: file.command_line.clone(),
            last_read: file.contents.clone(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file and builds the configuration it asks for, compared with `running`.
    /// `Ok(None)` when its bytes are those of the last read.
    ///
    /// # Errors
    /// When the file cannot be read or does not make a valid configuration; the caller keeps
    /// the running one. A file that failed is not read as a change again until its bytes
    /// change.
    pub fn reread(&mut self, running: &Config, kinds: &Catalog) -> Result<Option<Reloaded>> {
        let contents = std::fs::read(&self.path).map_err(|e| Error::ConfigFile {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        if contents == self.last_read {
            return Ok(None);
        }
        self.last_read.clone_from(&contents);
        let mut config =
            file::load_contents(self.command_line.clone(), &self.path, contents, kinds)?;
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

    fn start(file: &TempFile) -> (Config, Reloader) {
        let args = Args::try_parse_from([
            "kube-state-agent",
            "--node=n1",
            "--config",
            file.0.to_str().unwrap(),
        ])
        .unwrap();
        let config = super::super::load(args, &registry::catalog()).unwrap();
        let reloader = Reloader::new(config.file.as_ref().unwrap());
        (config, reloader)
    }

    #[test]
    fn a_changed_file_applies_except_what_needs_a_restart_and_a_bad_one_changes_nothing() {
        let file = TempFile::new("resources: [pods]\n");
        let (running, mut reloader) = start(&file);
        assert!(
            reloader
                .reread(&running, &registry::catalog())
                .unwrap()
                .is_none(),
            "the same bytes are no change"
        );

        file.write("resources: [pods, nodes]\nport: 1\n");
        let reloaded = reloader
            .reread(&running, &registry::catalog())
            .unwrap()
            .unwrap();
        assert_eq!(reloaded.config.resources, ["pods", "nodes"]);
        assert_eq!(reloaded.restart_required, ["--host/--port"]);
        assert_eq!(reloaded.config.listen, running.listen, "the port waits");

        file.write("resources: [nope]\n");
        let err = reloader.reread(&running, &registry::catalog()).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        assert!(
            reloader
                .reread(&running, &registry::catalog())
                .unwrap()
                .is_none(),
            "a refused file is not retried until it changes"
        );

        std::fs::remove_file(&file.0).unwrap();
        let err = reloader.reread(&running, &registry::catalog()).unwrap_err();
        assert!(
            matches!(err, Error::ConfigFile { ref path, .. } if path == reloader.path()),
            "{err}"
        );
    }
}
