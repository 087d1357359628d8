//! A real Prometheus (Debian's `prometheus`) on a free loopback port, scraping what its config
//! says, for end-to-end tests; killed on drop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::agent::{KillOnDrop, free_port, http_get};
use crate::objects::unique;

/// A running Prometheus and its private directory (config, data, log).
pub struct Prometheus {
    _process: KillOnDrop,
    /// Its HTTP port on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
}

impl Prometheus {
    /// Starts Prometheus with `config` (a `prometheus.yml`), in a fresh directory under the
    /// system's temporary one.
    ///
    /// # Panics
    /// When `prometheus` is not installed (`scripts/cluster deps` installs it).
    pub fn start(config: &str) -> Prometheus {
        let dir = std::env::temp_dir().join(unique("ksa-prometheus"));
        std::fs::create_dir_all(&dir).expect("a directory for Prometheus");
        std::fs::write(dir.join("prometheus.yml"), config).expect("prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("a log file");
        let process = Command::new("prometheus")
            .arg(format!(
                "--config.file={}",
                dir.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus is installed (scripts/cluster deps)");
        Prometheus {
            _process: KillOnDrop(process),
            port,
            dir,
        }
    }

    /// Its private directory, for files its config points at.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `GET /api/v1/query?query=<promql>` (URL-encoded here): status and body.
    ///
    /// # Errors
    /// When Prometheus does not answer.
    pub async fn query(&self, promql: &str) -> Result<(u16, String), String> {
        let encoded: String = promql
            .bytes()
            .map(|c| match c {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (c as char).to_string(),
                _ => format!("%{c:02X}"),
            })
            .collect();
        http_get(self.port, &format!("/api/v1/query?query={encoded}")).await
    }

    /// `GET /api/v1/targets`.
    ///
    /// # Errors
    /// When Prometheus does not answer.
    pub async fn targets(&self) -> Result<String, String> {
        http_get(self.port, "/api/v1/targets").await.map(|(_, b)| b)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
