//! Build-time facts for `ksa_build_info`: the git revision and branch the agent was built from,
//! and the compiler's version.
//!
//! `KSA_REVISION` and `KSA_BRANCH` override what git says (an image build without `.git`);
//! without either, and outside a git checkout, the value is `unknown`. Never fails the build.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=KSA_REVISION");
    println!("cargo:rerun-if-env-changed=KSA_BRANCH");
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let git = |args: &[&str]| -> Option<String> {
        let out = Command::new("git")
            .args(args)
            .current_dir(&dir)
            .output()
            .ok()?;
        let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
        (out.status.success() && !s.is_empty()).then_some(s)
    };
    // Rebuild when HEAD moves: the HEAD file, and the ref it points at (a worktree's HEAD and
    // the shared refs both resolve through `--git-path`).
    for path in ["HEAD", "packed-refs"]
        .into_iter()
        .map(str::to_string)
        .chain(git(&["symbolic-ref", "-q", "HEAD"]))
    {
        if let Some(p) = git(&["rev-parse", "--git-path", &path]) {
            let p = Path::new(&dir).join(p);
            if p.exists() {
                println!("cargo:rerun-if-changed={}", p.display());
            }
        }
    }
    let revision = std::env::var("KSA_REVISION")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let branch = std::env::var("KSA_BRANCH")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| git(&["rev-parse", "--abbrev-ref", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=KSA_BUILD_REVISION={revision}");
    println!("cargo:rustc-env=KSA_BUILD_BRANCH={branch}");
    println!("cargo:rustc-env=KSA_BUILD_RUSTC={rustc}");
}
