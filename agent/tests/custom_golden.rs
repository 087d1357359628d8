//! Golden tests for custom resource state: each directory under `tests/golden-custom/` is one
//! example of kube-state-metrics' `docs/metrics/extend/customresourcestate-metrics.md`:
//! - `config.yaml`: the `CustomResourceStateMetrics` config, as documented;
//! - `object.yaml`: the custom object(s), one YAML document each;
//! - `expected.prom`: what kube-state-metrics' code (not its prose, where they disagree)
//!   exports for them in the text format, derived by reading `pkg/customresourcestate`.
//!
//! Each object is rendered by every configured resource whose group, version and kind match
//! its `apiVersion` and `kind`; a wildcard entry is resolved to the object's own GVK, as
//! discovery will resolve it. Resources are written in config order, each resolution in the
//! order its first object appears, with one shared header set, as one scrape writes them.
//!
//! `UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test custom_golden` rewrites the
//! `expected.prom` files; review the diff against KSM's code before committing it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kube_state_agent::custom::{self, GroupVersionKind, Rendered, ResourceMetrics};
use kube_state_agent::exposition::Format;
use serde::Deserialize as _;

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden-custom");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn objects(yaml: &str) -> Vec<serde_json::Value> {
    serde_norway::Deserializer::from_str(yaml)
        .map(|doc| serde_json::Value::deserialize(doc).expect("object.yaml is YAML"))
        .filter(|v| !v.is_null())
        .collect()
}

fn object_gvk(object: &serde_json::Value) -> GroupVersionKind {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    GroupVersionKind {
        group: group.to_owned(),
        version: version.to_owned(),
        kind: object["kind"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The exposition for `config` and `objects`, and every sample error, as `metric: path: reason`.
fn render(config: &str, objects: &[serde_json::Value]) -> (String, Vec<String>) {
    let resources = custom::parse(config).expect("config.yaml is valid");
    let mut out = Vec::new();
    let mut headers = BTreeSet::new();
    let mut errors = Vec::new();
    for resource in &resources {
        // Resolutions of this entry, in the order their first object appears.
        let mut resolved: Vec<(ResourceMetrics, Vec<Rendered>)> = Vec::new();
        for object in objects {
            let gvk = object_gvk(object);
            if !resource.gvk().matches(&gvk) {
                continue;
            }
            let at = match resolved.iter().position(|(r, _)| *r.gvk() == gvk) {
                Some(at) => at,
                None => {
                    resolved.push((resource.resolved(gvk, None), Vec::new()));
                    resolved.len() - 1
                }
            };
            let (metrics, rendered) = &mut resolved[at];
            let r = metrics.render(object);
            errors.extend(r.errors.iter().map(ToString::to_string));
            rendered.push(r);
        }
        for (metrics, rendered) in &resolved {
            let refs: Vec<&Rendered> = rendered.iter().collect();
            metrics.write_families(&refs, Format::Text, &mut headers, &mut out);
        }
    }
    (String::from_utf8(out).expect("exposition is UTF-8"), errors)
}

#[test]
fn every_documented_example_renders_what_kube_state_metrics_exports() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(
        cases.len() >= 14,
        "expected every documented example, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for dir in &cases {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()))
        };
        let objects = objects(&read("object.yaml"));
        assert!(!objects.is_empty(), "{}: no object", dir.display());
        let (got, errors) = render(&read("config.yaml"), &objects);
        let expected_path = dir.join("expected.prom");
        if update {
            std::fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let want = read("expected.prom");
        assert!(
            want.lines().any(|l| !l.starts_with('#')),
            "{}: expected.prom has no sample",
            dir.display()
        );
        if got != want {
            let diff = similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .header("expected.prom", "rendered")
                .to_string();
            failures.push(format!("{}:\n{diff}", dir.display()));
        }
        if !errors.is_empty() {
            failures.push(format!(
                "{}: unexpected sample errors {errors:?}",
                dir.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_foo_without_the_documented_fields_reports_errors_instead_of_failing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden-custom/kitchen-sink");
    let config = std::fs::read_to_string(dir.join("config.yaml")).unwrap();
    let bare = objects("apiVersion: myteam.io/v1\nkind: Foo\nmetadata: {name: bare}\n");
    let (got, errors) = render(&config, &bare);
    // Headers are written (there is an object), no sample is: `status.sub` is missing.
    assert!(
        got.starts_with("# HELP kube_customresource_ready_count "),
        "{got}"
    );
    assert!(got.lines().all(|l| l.starts_with('#')), "{got}");
    assert_eq!(
        errors,
        ["kube_customresource_ready_count: [status,sub]: the path resolves to nothing"]
    );
}
