//! kube-state-agent: kube-state-metrics' series for the objects bound to one node, rendered on
//! each watch event and served from immutable snapshots.
//!
//! ```text
//! kube-apiserver ─list/watch (field selectors, resourceVersion resume)─▶ watch (one task per kind and selector)
//!   ─▶ decode (lean types) ─▶ resources (render rows) ─▶ store (UID → rows, per watch)
//!   ─▶ snapshot (assembled off the scrape path, coalesced, gzip once) ─▶ http (/metrics)
//! ```
//!
//! The binary is glue: it parses a [`config::Config`] and calls [`run`].

#![warn(missing_docs)]

pub mod autoshard;
pub mod client;
pub mod config;
pub mod custom;
pub mod decode;
pub mod deflate;
pub mod exposition;
pub mod http;
pub mod leader;
pub mod names;
pub mod pipeline;
pub mod plan;
pub mod registry;
pub mod reload;
pub mod resources;
pub mod sharding;
pub mod snapshot;
pub mod store;
pub mod telemetry;
pub mod watch;
pub mod wire;

mod agent;
#[cfg(test)]
mod mock_api;

pub use agent::{Error, run};
