//! kube-state-agent: a node-local, kube-state-metrics-compatible exporter.
pub mod decode;
pub mod exposition;
pub mod resources;
