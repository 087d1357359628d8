//! The `kube-state-agent` binary: parse flags, start telemetry, run the agent, map the outcome
//! to an exit code. Everything else lives in the library.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use kube_state_agent::config::{self, Args, Config, LogFormat};
use kube_state_agent::registry::Catalog;
use kube_state_agent::telemetry::{self, Telemetry};

fn main() -> ExitCode {
    let config = match config::load(Args::parse(), &Catalog) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kube-state-agent: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init_tracing(config.log_format == LogFormat::Json);
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Once, through the log (a JSON line under --log-format=json): stderr is where
            // both would go.
            tracing::error!(error = %format!("{e:#}"), "kube-state-agent stopped");
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
