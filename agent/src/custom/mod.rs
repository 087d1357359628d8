//! Custom resource state: kube-state-metrics' `CustomResourceStateMetrics` config language,
//! compiled once and rendered for one custom object at a time into the same series
//! kube-state-metrics exports (names, labels, label order, values).
//!
//! This module is pure: it knows nothing of watches, discovery, flags or snapshots, and never
//! fails on an object. Its pieces, in the order data flows through them:
//! - [`config`]: the YAML language as serde types, and [`config::parse`], which compiles every
//!   resource and refuses at start what kube-state-metrics refuses (unknown type, a path that
//!   does not compile, the same resource twice);
//! - [`path`]: the path syntax (`[status, conditions, "[type=Ready]", status]`), compiled once;
//! - [`value`] and [`quantity`]: JSON values to sample values (booleans, condition words,
//!   RFC 3339 times, quantities, percentages) and to label text, as Go prints them;
//! - [`render`]: [`ResourceMetrics`], a compiled resource, whose
//!   [`render`](ResourceMetrics::render) turns one object into sample lines per family plus the
//!   [`SampleError`]s of values that did not convert, and whose
//!   [`write_families`](ResourceMetrics::write_families) assembles headers and samples.
//!
//! The behaviour reference is kube-state-metrics v2.20 `pkg/customresourcestate`
//! (`config.go`, `config_metrics_types.go`, `registry_factory.go`). Where its documentation
//! and its code disagree (sample order, the default prefix), the code wins.
//!
//! How the agent runs it:
//! - [`kind`]: each configured resource as a runtime kind (`crate::registry::KindInfo`), so
//!   planning, leadership, the snapshot builder and the family filter treat it as a built-in
//!   kind; its watch (discovery, wildcards, CRDs that come and go) is
//!   `crate::watch::custom`'s;
//! - [`log_limit`]: at most one log line per object and metric per minute for
//!   [`SampleError`]s, which `ksa_custom_resource_sample_errors_total` counts.

pub mod config;
pub mod kind;
pub mod log_limit;
pub mod path;
pub mod quantity;
pub mod render;
pub mod value;

pub use config::{CustomResourceStateMetrics, GroupVersionKind, parse};
pub use render::{Family, Rendered, ResourceMetrics, SampleError, ValueError};
