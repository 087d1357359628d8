//! `kubectl` against the shared cluster as admin, for what is easiest said in YAML: applying
//! fixtures and manifests, rendering kustomizations, minting tokens.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::Cluster;

/// Runs `kubectl ARGS` with `stdin` as its input and the admin kubeconfig: stdout on success,
/// stderr (with the command) on failure.
///
/// # Panics
/// When kubectl cannot be started (it is installed by `scripts/cluster deps`).
pub fn kubectl(args: &[&str], stdin: &str) -> Result<String, String> {
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", Cluster::get().admin_kubeconfig())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is installed (scripts/cluster deps)");
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(stdin.as_bytes())
        .expect("writing kubectl's stdin");
    let out = child.wait_with_output().expect("waiting for kubectl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "kubectl {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}
