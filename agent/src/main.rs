//! The `kube-state-agent` binary: parse flags, start telemetry, run the agent, map the outcome
//! to an exit code. Everything else lives in the library.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use kube_state_agent::config::{self, Args, Config, LogFormat};
use kube_state_agent::registry;
use kube_state_agent::telemetry::{self, Telemetry};

/// The target of this binary's own log events, whatever the name it is built under.
const LOG_TARGET: &str = "kube_state_agent";

fn main() -> ExitCode {
    // A flag clap cannot parse is reported by clap, with the usage, before any log exists.
    let args = Args::parse();
    let flag_log_format = args.log_format;
    let config = match config::load(args, &registry::catalog()) {
        Ok(c) => c,
        Err(e) => {
            // The --config file may name the log format too, but it did not load: the flag's.
            telemetry::init_tracing(flag_log_format == LogFormat::Json);
            report_fatal("invalid configuration", &e);
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format == LogFormat::Json);
    for warning in &config.warnings {
        tracing::warn!(target: LOG_TARGET, "{warning}");
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report_fatal("kube-state-agent stopped", e.as_ref());
            // A --tls-config that cannot be served is a bad setting, like a bad flag.
            match e.downcast_ref::<kube_state_agent::Error>() {
                Some(kube_state_agent::Error::Tls(_)) => ExitCode::from(2),
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(kube_state_agent::run(config, Telemetry::new()))?;
    Ok(())
}

/// Reports the error that stops the agent, once, as an `error` event of the log: on a terminal
/// a text line on stderr like every other, under `--log-format=json` one JSON object that a
/// log collector parses (a bare line would be the one entry it cannot). When `RUST_LOG`
/// filters errors out, it goes to stderr directly instead: a fatal error is never unseen.
fn report_fatal(what: &str, error: &(dyn std::error::Error + 'static)) {
    let error = describe(error);
    if tracing::enabled!(target: LOG_TARGET, tracing::Level::ERROR) {
        tracing::error!(target: LOG_TARGET, error = %error, "{what}");
    } else {
        eprintln!("kube-state-agent: {what}: {error}");
    }
}

/// `error` and its sources, each said once (`a: b: c`). Most of the library's errors already
/// end with their source's text (`cannot listen on …: Address already in use`), which anyhow's
/// `{:#}` would print a second time; a source is added only when the text so far lacks it.
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error that ends its message with its source's text, as the library's do (by hand:
    /// this file is also built by the tests crate, which has no `thiserror`).
    #[derive(Debug)]
    struct Bind {
        source: std::io::Error,
    }

    impl std::fmt::Display for Bind {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "cannot listen on 127.0.0.1:8080 (--host/--port): {}",
                self.source
            )
        }
    }

    impl std::error::Error for Bind {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn a_source_the_message_already_ends_with_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let e = anyhow::Error::from(Bind { source: io });
        assert_eq!(
            describe(e.as_ref()),
            "cannot listen on 127.0.0.1:8080 (--host/--port): Address already in use"
        );
    }

    #[test]
    fn context_and_its_cause_are_both_said() {
        let e = anyhow::Error::from(std::io::Error::other("no threads"))
            .context("starting the async runtime");
        assert_eq!(
            describe(e.as_ref()),
            "starting the async runtime: no threads"
        );
    }
}
