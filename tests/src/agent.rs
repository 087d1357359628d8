//! Running the real `kube-state-agent` binary against the loopback cluster.
//!
//! [`AgentProcess::start`] starts the agent (see [`agent_binary`]) on free loopback ports with
//! the admin kubeconfig, and kills it on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use crate::Cluster;
use crate::exposition::Exposition;
use crate::tls::TlsClient;

/// The workspace root (this crate lives in `tests/`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The agent binary the live tests run: the agent's `main.rs`, built as this crate's
/// `kube-state-agent-under-test` target. Cargo builds a crate's binaries with its integration
/// tests, so the binary comes from the same invocation, the same agent library and the same
/// resolved features as the tests: nothing is compiled twice.
///
/// # Panics
/// When the binary is not beside the running test's directory (`target/<profile>/`), i.e. the
/// tests did not run through `cargo test`.
pub fn agent_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("the running test's path");
        // target/<profile>/deps/<test>-<hash> → target/<profile>/
        let profile_dir = exe
            .parent()
            .map(|d| {
                if d.ends_with("deps") {
                    d.parent().unwrap_or(d)
                } else {
                    d
                }
            })
            .expect("the test binary is in a directory");
        let bin = profile_dir.join(format!(
            "kube-state-agent-under-test{}",
            std::env::consts::EXE_SUFFIX
        ));
        assert!(
            bin.exists(),
            "{} is missing: run the live tests with `cargo test -p kube-state-agent-tests`, \
             which builds it",
            bin.display()
        );
        bin
    })
}

/// A command running `binary` under the name `kube-state-agent`, as its users run it (clap's
/// usage lines take the name from `argv[0]`).
pub fn agent_command(binary: &Path) -> Command {
    use std::os::unix::process::CommandExt as _;
    let mut command = Command::new(binary);
    command.arg0("kube-state-agent");
    command
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running agent process.
pub struct AgentProcess {
    child: Child,
    /// `/metrics` port.
    pub port: u16,
    /// Telemetry port.
    pub telemetry_port: u16,
    log: PathBuf,
    /// How the metrics port is reached: HTTPS with this client, plain HTTP without.
    tls: Option<TlsClient>,
    /// The same for the telemetry port.
    telemetry_tls: Option<TlsClient>,
    /// What it was started as, for [`AgentProcess::restart`].
    command: AgentCommand,
}

/// A started agent's binary, arguments and environment.
#[derive(Clone)]
struct AgentCommand {
    binary: PathBuf,
    args: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
}

impl AgentCommand {
    fn spawn(&self, log: std::fs::File) -> Child {
        agent_command(&self.binary)
            .args(&self.args)
            .env("RUST_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("starting kube-state-agent")
    }
}

impl AgentProcess {
    /// Starts the agent for `node` (none when empty) with `extra` flags, against the shared
    /// cluster.
    pub fn start(node: &str, extra: &[&str]) -> AgentProcess {
        Self::start_with_kubeconfig(&Cluster::get().admin_kubeconfig(), node, extra)
    }

    /// Starts the agent with an explicit kubeconfig.
    pub fn start_with_kubeconfig(kubeconfig: &Path, node: &str, extra: &[&str]) -> AgentProcess {
        Self::start_with_env(kubeconfig, node, extra, &[])
    }

    /// Starts the agent with an explicit kubeconfig and environment variables set, as the
    /// downward API sets them in a pod.
    pub fn start_with_env(
        kubeconfig: &Path,
        node: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> AgentProcess {
        let mut args = vec!["--snapshot-interval", "50ms"];
        args.extend_from_slice(extra);
        Self::spawn(agent_binary(), kubeconfig, node, &args, env)
    }

    /// Starts `binary` (e.g. a release build) on free loopback ports with `extra` flags and
    /// `env`, the agent's defaults otherwise; tests go through [`AgentProcess::start`] instead.
    pub fn spawn(
        binary: &Path,
        kubeconfig: &Path,
        node: &str,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> AgentProcess {
        let port = free_port();
        let telemetry_port = free_port();
        let log = std::env::temp_dir().join(format!("ksa-agent-{node}-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("agent log file");
        let mut args: Vec<std::ffi::OsString> = vec!["--kubeconfig".into(), kubeconfig.into()];
        let (port_arg, telemetry_port_arg) = (port.to_string(), telemetry_port.to_string());
        let fixed = [
            "--node",
            node,
            "--host",
            "127.0.0.1",
            "--telemetry-host",
            "127.0.0.1",
            "--port",
            &port_arg,
            "--telemetry-port",
            &telemetry_port_arg,
        ];
        args.extend(fixed.iter().chain(extra).map(Into::into));
        let command = AgentCommand {
            binary: binary.to_path_buf(),
            args,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        AgentProcess {
            child: command.spawn(log_file),
            port,
            telemetry_port,
            log,
            tls: None,
            telemetry_tls: None,
            command,
        }
    }

    /// Kills the process if it still runs and starts the same command again, on the same
    /// ports, its output appended to the same log: the agent restarted in place, as a kubelet
    /// restarts a container, so whoever scraped it finds it at the same address.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let log = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .expect("agent log file");
        self.child = self.command.spawn(log);
    }

    /// Reaches the agent (started with `--tls-config`) over HTTPS with `client`: the metrics
    /// port always, the telemetry port when `telemetry` (it was not started with
    /// `--telemetry-tls=false`).
    pub fn with_tls(mut self, client: TlsClient, telemetry: bool) -> AgentProcess {
        self.telemetry_tls = telemetry.then(|| client.clone());
        self.tls = Some(client);
        self
    }

    /// The metrics port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The telemetry port on 127.0.0.1.
    pub fn telemetry_port(&self) -> u16 {
        self.telemetry_port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the agent logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET `path` on the metrics port: status and body.
    pub async fn get(&self, path: &str) -> Result<(u16, String), String> {
        match &self.tls {
            Some(client) => client.get(self.port, path).await,
            None => http_get(self.port, path).await,
        }
    }

    /// GET `path` on the telemetry port.
    pub async fn get_telemetry(&self, path: &str) -> Result<(u16, String), String> {
        match &self.telemetry_tls {
            Some(client) => client.get(self.telemetry_port, path).await,
            None => http_get(self.telemetry_port, path).await,
        }
    }

    /// The sum of the agent's self-metric `name` over the samples whose labels include
    /// `filter` (0 when there is none), read on the telemetry port.
    pub async fn self_metric(&self, name: &str, filter: &[(&str, &str)]) -> Result<f64, String> {
        let (status, body) = self.get_telemetry("/metrics").await?;
        if status != 200 {
            return Err(format!("telemetry /metrics answered {status}"));
        }
        let telemetry = Exposition::parse(&body)?;
        Ok(telemetry
            .samples_of(name)
            .filter(|s| filter.iter().all(|(k, v)| s.label(k) == Some(*v)))
            .map(|s| s.value)
            .sum())
    }

    /// Scrapes `/metrics` in the text format and parses it.
    pub async fn scrape(&self) -> Result<Exposition, String> {
        let (status, body) = self.get("/metrics").await?;
        if status != 200 {
            return Err(format!("/metrics answered {status}"));
        }
        Exposition::parse(&body)
    }

    /// Waits until `/readyz` answers 200.
    ///
    /// # Panics
    /// After `timeout`, with the agent's log.
    pub async fn wait_ready(&mut self, timeout: Duration) {
        self.wait_ready_every(timeout, Duration::from_millis(50), |_| {})
            .await;
    }

    /// Waits until `/readyz` answers 200, asking every `interval` and calling `tick` with the
    /// process id before each attempt (to sample its memory, say).
    ///
    /// # Panics
    /// When the agent exits first, or after `timeout`, with the agent's log.
    pub async fn wait_ready_every(
        &mut self,
        timeout: Duration,
        interval: Duration,
        mut tick: impl FnMut(u32),
    ) {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("agent exited with {status}:\n{}", self.log());
            }
            tick(self.pid());
            if let Ok((200, _)) = self.get("/readyz").await {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "agent not ready after {timeout:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(interval).await;
        }
    }

    /// The exit code once the process has exited (`Some(None)` when a signal ended it).
    pub fn try_exit_code(&mut self) -> Option<Option<i32>> {
        self.child.try_wait().ok().flatten().map(|s| s.code())
    }

    /// Waits until the agent exits on its own (a start it refuses) and returns its exit code.
    ///
    /// # Panics
    /// After `timeout`, with the agent's log.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(code) = self.try_exit_code() {
                return code;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the agent did not exit:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends SIGTERM and waits for the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        self.child.wait().ok().and_then(|s| s.code())
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over loopback, so tests need no HTTP client crate.
pub async fn http_get(port: u16, path: &str) -> Result<(u16, String), String> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect :{port}: {e}"))?;
    http_get_on(stream, path).await
}

/// [`http_get`] over a connected stream (plain or TLS).
pub async fn http_get_on<S>(mut stream: S, path: &str) -> Result<(u16, String), String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    match tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw)).await {
        Err(_) => return Err(format!("GET {path}: no answer in 10 s")),
        // A TLS peer that closes without close_notify after a whole answer.
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Ok(Err(e)) => return Err(format!("GET {path}: {e}")),
        Ok(Ok(_)) => {}
    }
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> Result<String, String> {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").ok_or("bad chunk header")?;
        let size = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(out);
        }
        out.push_str(rest.get(..size).ok_or("short chunk")?);
        s = rest.get(size + 2..).ok_or("short chunk trailer")?;
    }
}

/// An HTTP answer as [`http_request`] reads it.
#[derive(Debug)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as sent (still gzip-encoded when `Content-Encoding: gzip`).
    pub body: Vec<u8>,
}

impl HttpAnswer {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body, gunzipped when it was sent gzip-encoded, as text.
    ///
    /// # Errors
    /// A gzip stream that does not decode, or a body that is not UTF-8.
    pub fn text(&self) -> Result<String, String> {
        use std::io::Read as _;
        let bytes = if self.header("content-encoding") == Some("gzip") {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&self.body[..])
                .read_to_end(&mut out)
                .map_err(|e| format!("gunzip: {e}"))?;
            out
        } else {
            self.body.clone()
        };
        String::from_utf8(bytes).map_err(|e| e.to_string())
    }
}

/// A GET over loopback with extra request headers, reading the whole answer (binary-safe).
///
/// # Errors
/// When the connection fails, nothing answers in 10 s, or the answer is not HTTP/1.1.
pub async fn http_request(
    port: u16,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<HttpAnswer, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect :{port}: {e}"))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .map_err(|_| format!("GET {path}: no answer in 10 s"))?
        .map_err(|e| e.to_string())?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no header end")?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut body = raw[end + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or("no status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"))
    {
        body = dechunk_bytes(&body)?;
    }
    Ok(HttpAnswer {
        status,
        headers,
        body,
    })
}

fn dechunk_bytes(mut s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line = s
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("bad chunk header")?;
        let size = std::str::from_utf8(&s[..line]).map_err(|e| e.to_string())?;
        let size = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(out);
        }
        let rest = &s[line + 2..];
        out.extend_from_slice(rest.get(..size).ok_or("short chunk")?);
        s = rest.get(size + 2..).ok_or("short chunk trailer")?;
    }
}

/// Kills and reaps a helper process (Prometheus, a second apiserver) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
