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
//! Left for later, and for callers of this API:
//! - watches: a dynamic list/watch per resolved resource feeding [`ResourceMetrics::render`],
//!   storing each object's [`Rendered`] by UID as the built-in kinds do;
//! - discovery: resolving `*` in `version`/`kind` against served CRD versions, then
//!   [`ResourceMetrics::resolved`] per concrete GVK with the CRD's plural;
//! - flags: `--custom-resource-state-config`, `--custom-resource-state-config-file`,
//!   `--custom-resource-state-only`, reading the file into [`config::parse`];
//! - snapshot integration: one shared header set per response, so a family name several
//!   resources share gets one `# HELP`/`# TYPE`, and counting [`SampleError`]s per resource and
//!   metric with a rate-limited log honouring `errorLogV`.

pub mod config;
pub mod path;
pub mod quantity;
pub mod render;
pub mod value;

pub use config::{CustomResourceStateMetrics, GroupVersionKind, parse};
pub use render::{Family, Rendered, ResourceMetrics, SampleError, ValueError};
