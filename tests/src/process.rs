//! A process's CPU time and resident memory as Linux reports them in `/proc`, for the load
//! harnesses (`bench-scale`, `watch-replay`) that measure the agent from outside.

use std::path::Path;

use anyhow::Context as _;

/// Resident memory of a process, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident.
    pub hwm_kib: u64,
}

/// `pid`'s resident memory now and at its peak.
///
/// # Errors
/// When the process is gone or its status lacks the fields.
pub fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no {name} in /proc/{pid}/status"))
    };
    Ok(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

/// CPU time (user + system) of process `pid` in seconds.
///
/// # Errors
/// When the process is gone.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    cpu_seconds_in(Path::new(&format!("/proc/{pid}/stat")))
}

/// CPU time (user + system) in seconds from a `stat` file: a process's, or one thread's
/// (`/proc/<pid>/task/<tid>/stat`).
///
/// # Errors
/// When the file cannot be read or is not a `stat` file.
pub fn cpu_seconds_in(stat: &Path) -> anyhow::Result<f64> {
    let text =
        std::fs::read_to_string(stat).with_context(|| format!("reading {}", stat.display()))?;
    // utime and stime are fields 14 and 15, counted from the pid; the command name in
    // parentheses may hold spaces, so count after its closing parenthesis.
    let rest = text.rsplit_once(')').context("malformed stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| -> anyhow::Result<u64> {
        Ok(fields.get(i).context("a short stat line")?.parse::<u64>()?)
    };
    Ok((field(11)? + field(12)?) as f64 / clock_ticks()?)
}

fn clock_ticks() -> anyhow::Result<f64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("running getconf CLK_TCK")?;
    Ok(String::from_utf8(out.stdout)?.trim().parse()?)
}
