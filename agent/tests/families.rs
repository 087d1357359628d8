//! The agent's family tables against kube-state-metrics' list (`tests/data/ksm-metric-families.tsv`,
//! KSM's 336 families: resource, name, type, stability, opt-in, documented labels), and
//! `docs/metrics.md` against the tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use kube_state_agent::exposition::Stability;
use kube_state_agent::registry;

struct KsmFamily {
    resource: String,
    stability: String,
    opt_in: bool,
    labels: Vec<String>,
}

fn ksm_families() -> BTreeMap<String, KsmFamily> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/ksm-metric-families.tsv");
    let text = std::fs::read_to_string(path).expect("the KSM family list");
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (
                cols[1].to_string(),
                KsmFamily {
                    resource: cols[0].to_string(),
                    stability: cols[3].to_string(),
                    opt_in: cols[4] == "opt-in",
                    labels: cols[5]
                        .split(',')
                        .filter(|l| !l.is_empty())
                        .map(str::to_string)
                        .collect(),
                },
            )
        })
        .collect()
}

/// KSM's resource column is the singular kind; ours is the `--resources` name.
fn ksm_resource(ours: &str) -> String {
    if let Some(stem) = ours.strip_suffix("ies") {
        format!("{stem}y")
    } else if let Some(stem) = ours.strip_suffix("sses") {
        format!("{stem}ss")
    } else {
        ours.strip_suffix('s').unwrap_or(ours).to_string()
    }
}

#[test]
fn the_agent_can_emit_all_336_of_ksms_families() {
    let ksm = ksm_families();
    let ours: BTreeSet<&str> = registry::infos()
        .flat_map(|k| k.family_headers().into_iter().map(|h| h.name))
        .collect();
    let missing: Vec<&str> = ksm
        .keys()
        .map(String::as_str)
        .filter(|n| !ours.contains(n))
        .collect();
    let extra: Vec<&&str> = ours.iter().filter(|n| !ksm.contains_key(**n)).collect();
    assert!(
        missing.is_empty(),
        "KSM families the agent cannot emit: {missing:?}"
    );
    assert!(extra.is_empty(), "families KSM does not have: {extra:?}");
    assert_eq!(ours.len(), 336);
}

#[test]
fn every_registered_kind_has_exactly_ksms_families_with_the_same_stability_and_opt_in() {
    let ksm = ksm_families();
    assert_eq!(ksm.len(), 336, "the KSM list changed size");
    for kind in registry::infos() {
        let resource = ksm_resource(kind.resource());
        let ours: BTreeSet<&str> = kind.family_headers().iter().map(|h| h.name).collect();
        let theirs: BTreeSet<&str> = ksm
            .iter()
            .filter(|(_, f)| f.resource == resource)
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(
            ours,
            theirs,
            "{}: family set differs from KSM's",
            kind.resource()
        );
        for h in kind.family_headers() {
            let k = &ksm[h.name];
            let stable = h.stability == Stability::Stable;
            assert_eq!(stable, k.stability == "STABLE", "{}: stability", h.name);
            let want_opt_in = k.opt_in || CODE_OPT_IN.contains(&h.name);
            assert_eq!(h.opt_in, want_opt_in, "{}: opt-in", h.name);
        }
    }
}

/// Labels KSM's docs list but its code never emits, each with the label the code writes.
const DOC_ONLY_LABELS: &[(&str, &str)] = &[
    // docs/metrics/.../endpointslice-metrics.md says `nodename`; endpointslice.go writes
    // `endpoint_nodename`, and so do we.
    ("kube_endpointslice_endpoints", "nodename"),
    // persistentvolumeclaim-metrics.md says `type`; persistentvolumeclaim.go and its tests
    // write `condition`, and so do we.
    ("kube_persistentvolumeclaim_status_condition", "type"),
];

/// Families whose opt-in flag in KSM's code differs from its docs (and so from the list).
const CODE_OPT_IN: &[&str] = &[
    // persistentvolume.go builds it with NewOptInFamilyGenerator; the docs table misses it.
    "kube_persistentvolume_csi_attributes",
];

#[test]
fn the_full_golden_case_of_each_kind_carries_every_documented_label() {
    let ksm = ksm_families();
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    for kind in registry::infos() {
        let path = golden.join(kind.resource()).join("full.prom");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{} ({e}): run the golden test", path.display()));
        for h in kind.family_headers() {
            let seen: BTreeSet<String> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{}{{", h.name)))
                .flat_map(|l| {
                    let inner = &l[l.find('{').unwrap() + 1..l.rfind('}').unwrap()];
                    inner
                        .split("\",")
                        .filter_map(|kv| kv.split_once('=').map(|(k, _)| k.to_string()))
                        .collect::<Vec<_>>()
                })
                .collect();
            for label in &ksm[h.name].labels {
                // Documented placeholders like label_POD_LABEL stand for the allowlisted keys.
                if label.chars().any(|c| c.is_ascii_uppercase()) {
                    continue;
                }
                if DOC_ONLY_LABELS.contains(&(h.name, label.as_str())) {
                    continue;
                }
                assert!(
                    seen.contains(label),
                    "{}: label {label} never appears in full.prom",
                    h.name
                );
            }
        }
    }
}

fn metrics_doc() -> String {
    let mut out = String::from(
        "# Metrics\n\nGenerated from the family tables by `UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test families`;\n\
         a test fails when this file and the tables disagree. Names, labels and values match\n\
         kube-state-metrics; HELP texts are our own.\n",
    );
    for kind in registry::infos() {
        out.push_str(&format!(
            "\n## {}\n\n| family | type | stability | opt-in | help |\n|---|---|---|---|---|\n",
            kind.resource()
        ));
        for h in kind.family_headers() {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} | {} |\n",
                h.name,
                h.metric_type.openmetrics_name(),
                if h.stability == Stability::Stable {
                    "stable"
                } else {
                    "experimental"
                },
                if h.opt_in { "yes" } else { "" },
                h.help.replace('|', "\\|"),
            ));
        }
    }
    out
}

#[test]
fn docs_metrics_md_lists_every_family() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics.md");
    let want = metrics_doc();
    if std::env::var_os("UPDATE_DOCS").is_some() || std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let got = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        got == want,
        "docs/metrics.md is stale: run UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test families"
    );
}

#[test]
fn the_readme_and_compatibility_doc_state_the_registered_kind_and_family_counts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let kinds = registry::KINDS.len();
    let families = ksm_families().len();
    for doc in ["README.md", "docs/compatibility.md"] {
        let text = std::fs::read_to_string(root.join(doc)).expect(doc);
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains(&format!("{families} families")),
            "{doc} must say {families} families"
        );
        assert!(
            text.contains(&format!("{kinds} kinds")),
            "{doc} must say {kinds} kinds (the registry has {kinds})"
        );
    }
}
