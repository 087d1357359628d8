//! The loopback cluster that `scripts/cluster up` starts, as tests see it.
//!
//! Tests never start the cluster themselves: they reuse the one described by the run directory
//! (`KSA_CLUSTER_DIR`, default `/tmp/kube-state-agent-cluster`) and fail at once, saying how to
//! start it, when it is not reachable. See [`Cluster::get`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

/// What the run directory says about the cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    dir: PathBuf,
    server: String,
}

const HOW_TO_START: &str = "start it with `scripts/cluster up` (see README.md)";

impl Cluster {
    /// The cluster of this test run, checked reachable once per process.
    ///
    /// # Panics
    /// When the run directory has no kubeconfig or the apiserver does not answer `/readyz`:
    /// live tests must fail loudly, never skip.
    pub fn get() -> &'static Cluster {
        static CLUSTER: OnceLock<Cluster> = OnceLock::new();
        CLUSTER.get_or_init(|| match Cluster::discover() {
            Ok(c) => c,
            Err(e) => panic!("the test cluster is not reachable: {e}; {HOW_TO_START}"),
        })
    }

    fn discover() -> anyhow::Result<Cluster> {
        let dir = PathBuf::from(
            std::env::var("KSA_CLUSTER_DIR")
                .unwrap_or_else(|_| "/tmp/kube-state-agent-cluster".into()),
        );
        let kubeconfig = dir.join("admin.kubeconfig");
        anyhow::ensure!(
            kubeconfig.exists(),
            "{} does not exist",
            kubeconfig.display()
        );
        let server = std::fs::read_to_string(dir.join("server"))?
            .trim()
            .to_string();
        let cluster = Cluster { dir, server };
        // Probe from a private runtime: the caller may be inside another runtime's test.
        let probe = cluster.clone();
        std::thread::spawn(move || -> anyhow::Result<()> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async {
                let client = probe.client_for("admin.kubeconfig").await?;
                let req = http_get("/readyz");
                tokio::time::timeout(Duration::from_secs(5), client.request_text(req))
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!("{} did not answer /readyz within 5 s", probe.server)
                    })?
                    .map_err(|e| anyhow::anyhow!("{}: {e}", probe.server))?;
                Ok(())
            })
        })
        .join()
        .expect("probe thread panicked")?;
        Ok(cluster)
    }

    /// The run directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin kubeconfig (a `system:masters` token).
    pub fn admin_kubeconfig(&self) -> PathBuf {
        self.dir.join("admin.kubeconfig")
    }

    /// A kubeconfig whose user has no RBAC bindings at all.
    pub fn unprivileged_kubeconfig(&self) -> PathBuf {
        self.dir.join("unprivileged.kubeconfig")
    }

    /// The static token of `user` (`admin`, `unprivileged`, `tenant`) from the apiserver's
    /// `--token-auth-file`.
    ///
    /// # Panics
    /// When the file or the user is missing.
    pub fn static_token(&self, user: &str) -> String {
        let path = self.dir.join("pki/tokens.csv");
        let tokens =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        tokens
            .lines()
            .find_map(|l| {
                let mut fields = l.split(',');
                let token = fields.next()?;
                (fields.next()? == user).then(|| token.to_string())
            })
            .unwrap_or_else(|| panic!("no static token for {user} in {}", path.display()))
    }

    /// A fresh admin client for the calling runtime.
    ///
    /// Clients are not shared between tests: each `#[tokio::test]` has its own runtime, and a
    /// client's connections belong to the runtime that opened them.
    pub async fn client(&self) -> Client {
        self.client_for("admin.kubeconfig")
            .await
            .unwrap_or_else(|e| panic!("building a client for {}: {e}", self.server))
    }

    /// A client for one of the run directory's kubeconfigs.
    ///
    /// # Errors
    /// When the kubeconfig cannot be read or used.
    pub async fn client_for(&self, kubeconfig: &str) -> anyhow::Result<Client> {
        let kc = Kubeconfig::read_from(self.dir.join(kubeconfig))?;
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
        Ok(Client::try_from(config)?)
    }
}

/// A bare GET request for `client.request_text`.
pub fn http_get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path)
        .body(Vec::new())
        .expect("static request")
}

/// A control plane of its own, for tests that stop or restart the apiserver: started with
/// `scripts/cluster up` in a private run directory (reusing the cached binary), stopped with
/// `scripts/cluster down` when dropped.
pub struct PrivateCluster {
    cluster: Cluster,
}

impl PrivateCluster {
    /// Starts a private etcd + kube-apiserver.
    ///
    /// # Panics
    /// When `scripts/cluster up` fails.
    pub fn start(name: &str) -> PrivateCluster {
        PrivateCluster::start_with(name, &[])
    }

    /// Starts a private etcd + kube-apiserver, the latter with `apiserver_args` added to its
    /// flags (kept across [`PrivateCluster::start_again`]).
    ///
    /// # Panics
    /// When `scripts/cluster up` fails.
    pub fn start_with(name: &str, apiserver_args: &[&str]) -> PrivateCluster {
        let dir = std::env::temp_dir().join(crate::objects::unique(&format!("ksa-{name}")));
        run_cluster_script_with(
            &dir,
            "up",
            &[("KSA_APISERVER_ARGS", &apiserver_args.join(" "))],
        );
        let server = std::fs::read_to_string(dir.join("server"))
            .expect("server file")
            .trim()
            .to_string();
        PrivateCluster {
            cluster: Cluster { dir, server },
        }
    }

    /// The cluster, as the shared one is seen.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Kills kube-apiserver (SIGKILL, no goodbye to watchers) and waits for it to be gone.
    pub fn kill_apiserver(&self) {
        self.kill("kube-apiserver");
    }

    /// Kills etcd (SIGKILL) and waits for it to be gone; kube-apiserver stays up without its
    /// storage.
    pub fn kill_etcd(&self) {
        self.kill("etcd");
    }

    /// Starts whatever of etcd and kube-apiserver is not running, on the same ports and data.
    pub fn start_again(&self) {
        run_cluster_script(&self.cluster.dir, "up");
    }

    fn kill(&self, component: &str) {
        let pidfile = self.cluster.dir.join(format!("{component}.pid"));
        let pid = std::fs::read_to_string(&pidfile).expect("a pid file");
        let pid = pid.trim();
        let _ = std::process::Command::new("kill")
            .args(["-9", pid])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::process::Command::new("kill")
            .args(["-0", pid])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{component} {pid} did not die"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Compacts etcd's history up to its current revision (`scripts/cluster compact`) and
    /// returns that revision: a watch resumed from an older resourceVersion is answered 410
    /// Gone when kube-apiserver reads it from etcd (`--watch-cache=false`).
    pub fn compact_etcd(&self) -> u64 {
        let out = run_cluster_script_with(&self.cluster.dir, "compact", &[]);
        out.trim().parse().expect("compact prints the revision")
    }

    /// Starts kube-apiserver again on the same port, against the same etcd.
    pub fn start_apiserver(&self) {
        run_cluster_script(&self.cluster.dir, "up");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        run_cluster_script(&self.cluster.dir, "down");
        let _ = std::fs::remove_dir_all(&self.cluster.dir);
    }
}

fn run_cluster_script(dir: &Path, command: &str) {
    run_cluster_script_with(dir, command, &[]);
}

/// Runs `scripts/cluster command` on the run directory `dir` with `env` set; its stdout.
fn run_cluster_script_with(dir: &Path, command: &str, env: &[(&str, &str)]) -> String {
    let script = crate::agent::workspace_root().join("scripts/cluster");
    let out = std::process::Command::new(&script)
        .arg(command)
        .env("KSA_CLUSTER_DIR", dir)
        .envs(env.iter().copied())
        .output()
        .expect("running scripts/cluster");
    assert!(
        out.status.success(),
        "scripts/cluster {command} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Cluster {
    /// A copy of the admin kubeconfig whose server is `127.0.0.1:port` (a proxy in front of
    /// the apiserver; the serving certificate is valid for 127.0.0.1).
    pub fn admin_kubeconfig_via(&self, port: u16) -> PathBuf {
        let text = std::fs::read_to_string(self.admin_kubeconfig()).expect("admin kubeconfig");
        let text = text.replace(&self.server, &format!("https://127.0.0.1:{port}"));
        let path =
            std::env::temp_dir().join(crate::objects::unique("ksa-via-proxy") + ".kubeconfig");
        std::fs::write(&path, text).expect("writing a kubeconfig");
        path
    }

    /// A kubeconfig for this cluster that authenticates with a bearer `token` (a service
    /// account's, from the TokenRequest API), written to a fresh file.
    pub fn kubeconfig_with_token(&self, token: &str) -> PathBuf {
        let text = std::fs::read_to_string(self.admin_kubeconfig()).expect("admin kubeconfig");
        let admin_token = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("token: "))
            .expect("the admin kubeconfig has a token");
        let text = text.replace(admin_token, token.trim());
        let path = std::env::temp_dir().join(crate::objects::unique("ksa-token") + ".kubeconfig");
        std::fs::write(&path, text).expect("writing a kubeconfig");
        path
    }

    /// The apiserver's socket address.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        self.server
            .trim_start_matches("https://")
            .parse()
            .expect("server is https://IP:PORT")
    }
}
