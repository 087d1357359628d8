//! Which metric families a run renders: `--metric-allowlist` or `--metric-denylist`, combined
//! with `--metric-opt-in-list`, as kube-state-metrics' composite family-generator filter does.
//!
//! - Allow/deny entries are regexes searched anywhere in the family name (KSM compiles them
//!   unanchored, with the ECMAScript-flavoured `regexp2`, so lookarounds work): `kube_pod_info`
//!   also matches a longer name containing it; `^kube_pod_info$` matches that family only.
//! - Opt-in entries are regexes too (Go's `regexp`, unanchored), matched only against opt-in
//!   families.
//! - A family is rendered when it passes both filters: an opt-in family needs the opt-in list
//!   *and* the allow/deny list to let it through (KSM's `CompositeFamilyGeneratorFilter`).
//!
//! The decision is taken once per family when the agent starts (or reloads its config), never
//! per scrape.

/// A bad `--metric-*` entry.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Both lists are set (KSM refuses this too).
    #[error(
        "--metric-allowlist and --metric-denylist are mutually exclusive: set only one of them"
    )]
    AllowAndDeny,
    /// An entry is not a valid regex.
    #[error("{flag}: {pattern:?} is not a valid regex: {reason}")]
    BadPattern {
        /// Which flag.
        flag: &'static str,
        /// The entry as given.
        pattern: String,
        /// The regex engine's message.
        reason: String,
    },
}

/// Whether the allow/deny patterns list what to keep or what to drop.
#[derive(Clone, Debug)]
enum Mode {
    Allow,
    Deny,
}

/// The family filter of one run.
#[derive(Clone, Debug)]
pub struct MetricFilter {
    mode: Mode,
    patterns: Vec<fancy_regex::Regex>,
    opt_in: Vec<regex::Regex>,
}

impl Default for MetricFilter {
    /// No allow/deny list and no opt-ins: every family that is not opt-in.
    fn default() -> Self {
        MetricFilter {
            mode: Mode::Deny,
            patterns: Vec::new(),
            opt_in: Vec::new(),
        }
    }
}

impl MetricFilter {
    /// Compiles the three lists (entries already split at commas and trimmed).
    ///
    /// # Errors
    /// Both `allow` and `deny` non-empty, or an entry that is not a regex (named).
    pub fn new(allow: &[String], deny: &[String], opt_in: &[String]) -> Result<Self, Error> {
        let (mode, flag, list) = match (allow.is_empty(), deny.is_empty()) {
            (false, false) => return Err(Error::AllowAndDeny),
            (false, true) => (Mode::Allow, "--metric-allowlist", allow),
            (true, _) => (Mode::Deny, "--metric-denylist", deny),
        };
        let bad = |flag, pattern: &String, reason: String| Error::BadPattern {
            flag,
            pattern: pattern.clone(),
            reason,
        };
        let patterns = list
            .iter()
            .map(|p| fancy_regex::Regex::new(p).map_err(|e| bad(flag, p, e.to_string())))
            .collect::<Result<_, _>>()?;
        let opt_in = opt_in
            .iter()
            .map(|p| {
                regex::Regex::new(p).map_err(|e| bad("--metric-opt-in-list", p, e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        Ok(MetricFilter {
            mode,
            patterns,
            opt_in,
        })
    }

    /// Whether the family `name` (opt-in or not) is rendered.
    pub fn enables(&self, name: &str, opt_in: bool) -> bool {
        self.passes_list(name) && (!opt_in || self.opts_in(name))
    }

    /// KSM's `AllowDenyList.Test`: a match error (backtracking limit) excludes the family.
    fn passes_list(&self, name: &str) -> bool {
        let mut matched = false;
        for p in &self.patterns {
            match p.is_match(name) {
                Ok(true) => {
                    matched = true;
                    break;
                }
                Ok(false) => {}
                Err(_) => return false,
            }
        }
        match self.mode {
            Mode::Allow => matched,
            Mode::Deny => !matched,
        }
    }

    /// Whether an opt-in entry matches `name`.
    pub fn opts_in(&self, name: &str) -> bool {
        self.opt_in.iter().any(|r| r.is_match(name))
    }

    /// The opt-in entries that match none of `names` (the opt-in families).
    pub fn opt_in_entries_matching_none(&self, names: &[&str]) -> Vec<String> {
        self.opt_in
            .iter()
            .filter(|r| !names.iter().any(|n| r.is_match(n)))
            .map(|r| r.as_str().to_string())
            .collect()
    }

    /// The allow/deny entries that match none of `names`, with the flag they came from.
    pub fn list_entries_matching_none(&self, names: &[&str]) -> (&'static str, Vec<String>) {
        let flag = match self.mode {
            Mode::Allow => "--metric-allowlist",
            Mode::Deny => "--metric-denylist",
        };
        let unmatched = self
            .patterns
            .iter()
            .filter(|p| !names.iter().any(|n| p.is_match(n).unwrap_or(false)))
            .map(|p| p.as_str().to_string())
            .collect();
        (flag, unmatched)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn no_lists_render_every_family_that_is_not_opt_in() {
        let f = MetricFilter::default();
        assert!(f.enables("kube_pod_info", false));
        assert!(!f.enables("kube_pod_nodeselectors", true));
    }

    #[test]
    fn entries_are_unanchored_regexes_as_in_ksm() {
        let f = MetricFilter::new(&[], &list(&["kube_pod_status_ready"]), &[]).unwrap();
        assert!(!f.enables("kube_pod_status_ready", false));
        assert!(
            !f.enables("kube_pod_status_ready_time", false),
            "KSM's regexes are not anchored: a longer name containing the entry matches"
        );
        assert!(f.enables("kube_pod_info", false));
        let f = MetricFilter::new(&[], &list(&["^kube_pod_status_ready$"]), &[]).unwrap();
        assert!(f.enables("kube_pod_status_ready_time", false));
        let f = MetricFilter::new(&list(&["kube_.*_info", "kube_node_created"]), &[], &[]).unwrap();
        assert!(f.enables("kube_secret_info", false));
        assert!(f.enables("kube_node_created", false));
        assert!(!f.enables("kube_pod_status_phase", false));
    }

    #[test]
    fn lookarounds_work_as_with_ksms_ecmascript_regexes() {
        // kube-prometheus ships this denylist entry.
        let f = MetricFilter::new(&[], &list(&["^kube_(?=namespace).*_created$"]), &[]).unwrap();
        assert!(!f.enables("kube_namespace_created", false));
        assert!(f.enables("kube_pod_created", false));
    }

    #[test]
    fn opt_in_families_need_both_the_opt_in_list_and_the_allow_deny_list() {
        let opt = list(&["kube_pod_nodeselectors"]);
        // Allowlisted but not opted in: off.
        let f = MetricFilter::new(&list(&["kube_pod_.*"]), &[], &[]).unwrap();
        assert!(!f.enables("kube_pod_nodeselectors", true));
        // Opted in and allowlisted: on.
        let f = MetricFilter::new(&list(&["kube_pod_.*"]), &[], &opt).unwrap();
        assert!(f.enables("kube_pod_nodeselectors", true));
        // Opted in but not allowlisted: off.
        let f = MetricFilter::new(&list(&["kube_node_.*"]), &[], &opt).unwrap();
        assert!(!f.enables("kube_pod_nodeselectors", true));
        // Opted in and denylisted: off.
        let f = MetricFilter::new(&[], &list(&["nodeselectors"]), &opt).unwrap();
        assert!(!f.enables("kube_pod_nodeselectors", true));
        // Opt-in entries are regexes too.
        let f = MetricFilter::new(&[], &[], &list(&["kube_pod_node.*"])).unwrap();
        assert!(f.enables("kube_pod_nodeselectors", true));
    }

    #[test]
    fn both_lists_or_a_bad_regex_fail_naming_flags_and_pattern() {
        let err = MetricFilter::new(&list(&["a"]), &list(&["b"]), &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--metric-allowlist") && msg.contains("--metric-denylist"),
            "{msg}"
        );
        let err = MetricFilter::new(&[], &list(&["*_pod_info"]), &[]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--metric-denylist") && msg.contains("\"*_pod_info\""),
            "{msg}"
        );
        let err = MetricFilter::new(&list(&["kube_(pod"]), &[], &[]).unwrap_err();
        assert!(err.to_string().contains("--metric-allowlist"), "{err}");
        let err = MetricFilter::new(&[], &[], &list(&["("])).unwrap_err();
        assert!(err.to_string().contains("--metric-opt-in-list"), "{err}");
    }
}
