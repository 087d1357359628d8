//! Live tests against the loopback kube-apiserver started by `scripts/cluster up`.
//!
//! One integration binary (ripgrep's layout): each module is one area. Every test creates its
//! own namespace and uniquely named Nodes, so tests run in any order and in parallel.

mod abuse;
mod agent;
mod config;
mod custom;
mod deploy;
mod faults;
mod harness;
mod kinds;
mod leader;
mod operations;
mod protobuf;
mod shards;
mod tenants;
mod tls;
mod watches;
