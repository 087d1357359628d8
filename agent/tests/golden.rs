//! Golden tests: `tests/golden/<resource>/<case>.yaml` holds one object as `kubectl get -o yaml`
//! shows it (trimmed); `<case>.prom` holds the exact exposition a scrape returns when that object
//! is the only one of its kind: every enabled family's HELP and TYPE, then its samples.
//!
//! A first line `# golden: labels=all|none|k1,k2 annotations=… opt-in=all|none|name,…` sets
//! the allowlists and opt-ins for the case; the default is `all` for each, so the `full` case of
//! a kind covers every family.
//!
//! A first line `# golden-flags: --metric-denylist=… --metric-labels-allowlist=…` instead runs
//! the agent's real flag parser and family filter on those flags (whitespace-separated, as
//! kube-state-metrics takes them), so the case shows exactly what a run with them exports.
//!
//! `UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test golden` rewrites the `.prom` files;
//! review the diff before committing it.
//!
//! Each run also writes every case's OpenMetrics rendering (what a scrape negotiating
//! OpenMetrics returns, `# EOF` included) to `target/tmp/golden-openmetrics/<resource>/<case>.om`,
//! which CI parses with a strict OpenMetrics parser (`scripts/check-exposition.py --openmetrics`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser as _;
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::config::{Args, Config};
use kube_state_agent::exposition::{Format, RenderContext};
use kube_state_agent::registry;
use kube_state_agent::registry::KindInfo;
use kube_state_agent::resources::FamilySelection;

struct CaseOptions {
    labels: KeyAllowlist,
    annotations: KeyAllowlist,
    opt_in: Option<Vec<String>>, // None = all
}

fn parse_list(v: &str) -> KeyAllowlist {
    match v {
        "all" => KeyAllowlist::all(),
        "none" => KeyAllowlist::default(),
        list => KeyAllowlist::new(list.split(',')),
    }
}

fn case_options(yaml: &str, path: &Path) -> CaseOptions {
    let mut opts = CaseOptions {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
        opt_in: None,
    };
    let Some(line) = yaml
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# golden:"))
    else {
        return opts;
    };
    for kv in line.split_whitespace() {
        let (k, v) = kv
            .split_once('=')
            .unwrap_or_else(|| panic!("{}: bad golden option {kv:?}", path.display()));
        match k {
            "labels" => opts.labels = parse_list(v),
            "annotations" => opts.annotations = parse_list(v),
            "opt-in" => {
                opts.opt_in = match v {
                    "all" => None,
                    "none" => Some(Vec::new()),
                    list => Some(list.split(',').map(str::to_string).collect()),
                }
            }
            other => panic!("{}: unknown golden option {other:?}", path.display()),
        }
    }
    opts
}

/// The selection and render context of a `# golden-flags:` case, computed by the agent's own
/// config code from those flags.
fn flags_case(kind: &dyn KindInfo, flags: &str, path: &Path) -> (FamilySelection, RenderContext) {
    let argv = ["kube-state-agent", "--scope", "cluster"]
        .into_iter()
        .chain(flags.split_whitespace());
    let args = Args::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{}: bad golden flags: {e}", path.display()));
    let config = Config::from_args(args, &registry::catalog())
        .unwrap_or_else(|e| panic!("{}: bad golden flags: {e}", path.display()));
    let selection = FamilySelection::from_fn(&kind.family_headers(), |h| {
        config.metrics.enables(h.name, h.opt_in)
    });
    let ctx = RenderContext {
        labels: config.labels_for(kind.resource()),
        annotations: config.annotations_for(kind.resource()),
    };
    (selection, ctx)
}

/// Renders `yaml` the way a scrape in `format` would show it for a kind holding only this
/// object.
fn render_case(kind: &dyn KindInfo, yaml: &str, path: &Path, format: Format) -> String {
    let value: serde_json::Value = serde_norway::from_str(yaml)
        .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()));
    let json = serde_json::to_string(&value).unwrap();
    let headers = kind.family_headers();
    let flags = yaml
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# golden-flags:"));
    let (selection, ctx) = match flags {
        Some(flags) => flags_case(kind, flags, path),
        None => {
            let opts = case_options(yaml, path);
            let selection = FamilySelection::new(&headers, |name| {
                opts.opt_in
                    .as_ref()
                    .is_none_or(|list| list.iter().any(|n| n == name))
            });
            let ctx = RenderContext {
                labels: opts.labels,
                annotations: opts.annotations,
            };
            (selection, ctx)
        }
    };
    let rows = kind
        .render_json(&json, &ctx, &selection)
        .unwrap_or_else(|e| panic!("{}: does not decode: {e}", path.display()));
    let mut out = Vec::new();
    for (i, header) in headers.iter().enumerate() {
        if selection.is_enabled(i) {
            header.write(&mut out, format);
            out.extend_from_slice(rows.family(i));
        }
    }
    if format == Format::OpenMetrics {
        out.extend_from_slice(b"# EOF\n");
    }
    String::from_utf8(out).expect("exposition is UTF-8")
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Where the OpenMetrics renderings go, for CI's strict parse; emptied by each run.
fn openmetrics_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden-openmetrics")
}

#[test]
fn every_golden_case_renders_exactly_its_expected_exposition() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let openmetrics = openmetrics_dir();
    let _ = std::fs::remove_dir_all(&openmetrics);
    let mut failures = String::new();
    let mut cases = 0;
    for kind in registry::infos() {
        let dir = golden_dir().join(kind.resource());
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
            panic!(
                "{} ({e}): every registered kind needs golden cases (see agent/src/registry.rs)",
                dir.display()
            )
        });
        let mut paths: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        paths.sort();
        for path in paths {
            cases += 1;
            let yaml = std::fs::read_to_string(&path).unwrap();
            let om_dir = openmetrics.join(kind.resource());
            std::fs::create_dir_all(&om_dir).unwrap();
            std::fs::write(
                om_dir.join(path.with_extension("om").file_name().unwrap()),
                render_case(kind, &yaml, &path, Format::OpenMetrics),
            )
            .unwrap();
            let got = render_case(kind, &yaml, &path, Format::Text);
            let prom = path.with_extension("prom");
            if update {
                std::fs::write(&prom, &got).unwrap();
                continue;
            }
            let want = std::fs::read_to_string(&prom).unwrap_or_else(|_| {
                panic!("{} is missing: run with UPDATE_GOLDEN=1", prom.display())
            });
            assert!(!want.trim().is_empty(), "{} is empty", prom.display());
            if got != want {
                let diff = similar::TextDiff::from_lines(&want, &got);
                let _ = writeln!(failures, "--- {} (-want +got)", prom.display());
                for change in diff.iter_all_changes() {
                    let sign = match change.tag() {
                        similar::ChangeTag::Delete => '-',
                        similar::ChangeTag::Insert => '+',
                        similar::ChangeTag::Equal => continue,
                    };
                    let _ = write!(failures, "{sign}{change}");
                }
            }
        }
    }
    assert!(
        cases > 0,
        "no golden cases found under {}",
        golden_dir().display()
    );
    assert!(failures.is_empty(), "golden mismatches:\n{failures}");
}

#[test]
fn every_kind_has_a_full_golden_case_covering_every_family() {
    for kind in registry::infos() {
        let path = golden_dir().join(kind.resource()).join("full.yaml");
        let yaml = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{} ({e}): every registered kind needs a full case rendering every family",
                path.display()
            )
        });
        let got = render_case(kind, &yaml, &path, Format::Text);
        let missing: Vec<&str> = kind
            .family_headers()
            .iter()
            .map(|h| h.name)
            .filter(|name| {
                !got.lines().any(|l| {
                    l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))
                })
            })
            .collect();
        assert!(
            missing.is_empty(),
            "{}: the full case renders no sample for {missing:?}",
            path.display()
        );
    }
}
