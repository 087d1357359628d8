//! `--metric-labels-allowlist` and `--metric-annotations-allowlist`: their value syntax,
//! `resource=[key,…],resource=[…]`, as kube-state-metrics' `LabelsAllowList.Set`
//! (`pkg/options/types.go`) reads it, and what one resource's keys match ([`KeyAllowlist`]).
//!
//! The scanner below accepts and refuses exactly what KSM's does, with two deliberate
//! exceptions where KSM silently drops input: text that never reaches a `resource=[…]` group
//! (`pods`, `pods=[a],nodes`) and a `[` that is never closed (`pods=[app`). Both are refused
//! here, so a typo cannot quietly hide every label. Which resources exist, and what `*` means,
//! is decided later, against the kinds the agent has.

use std::collections::BTreeMap;

/// How many `*` one key pattern may hold (KSM's `MaxPartialWildcardsPerLabel`).
pub const MAX_WILDCARDS_PER_KEY: usize = 1;

/// The keys allowed per resource, as written: resource name (or `*`) → keys in the given order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelsAllowList(pub BTreeMap<String, Vec<String>>);

/// Why an allowlist value does not parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SyntaxError {
    /// KSM's `errLabelsAllowListFormat`: a misplaced `=`, `[`, `]` or `,`.
    #[error("invalid format, expected resource=[key1,key2,…],resource2=[…]")]
    Format,
    /// Text outside any `resource=[…]` group, or a `[` never closed (KSM drops these silently).
    #[error("{0:?} is not part of a complete resource=[…] group")]
    Incomplete(String),
    /// KSM's `errLabelsAllowListMultipleWildcards`.
    #[error("key pattern {0:?} has more than one '*'; only one wildcard per key is allowed")]
    MultipleWildcards(String),
}

/// Parses one flag value. The empty string is the empty allowlist.
///
/// # Errors
/// [`SyntaxError`] where KSM's parser fails, plus the two silent drops named in the module doc.
pub fn parse(value: &str) -> Result<LabelsAllowList, SyntaxError> {
    let chars: Vec<char> = value.chars().collect();
    let text = |from: usize, to: usize| chars[from..to].iter().collect::<String>();
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut name = String::new();
    let mut word_start = 0;
    let mut in_brackets = false;
    for (i, &c) in chars.iter().enumerate() {
        // KSM's `previous` is the character itself at the start.
        let previous = if i == 0 { c } else { chars[i - 1] };
        let next = chars.get(i + 1).copied();
        match c {
            '=' => {
                if previous == ',' || next != Some('[') {
                    return Err(SyntaxError::Format);
                }
                name = text(word_start, i).trim().to_string();
                map.insert(name.clone(), Vec::new());
                word_start = i + 1;
            }
            '[' => {
                if previous != '=' {
                    return Err(SyntaxError::Format);
                }
                in_brackets = true;
                word_start = i + 1;
            }
            ']' => {
                if next.is_some_and(|n| n != ',') {
                    return Err(SyntaxError::Format);
                }
                if previous != '[' {
                    let key = text(word_start, i).trim().to_string();
                    map.entry(name.clone()).or_default().push(key);
                }
                in_brackets = false;
                word_start = i + 1;
            }
            ',' => {
                if previous == ',' || next.is_none() || next == Some(']') {
                    return Err(SyntaxError::Format);
                }
                if previous != ']' {
                    if !in_brackets {
                        return Err(SyntaxError::Incomplete(text(word_start, i)));
                    }
                    let key = text(word_start, i).trim().to_string();
                    map.entry(name.clone()).or_default().push(key);
                }
                word_start = i + 1;
            }
            _ => {}
        }
    }
    let rest = text(word_start.min(chars.len()), chars.len());
    if in_brackets || !rest.trim().is_empty() {
        return Err(SyntaxError::Incomplete(rest.trim().to_string()));
    }
    check_wildcards(&map)?;
    Ok(LabelsAllowList(map))
}

/// KSM's wildcard-count check, shared by the flag and the config file (`UnmarshalYAML`).
///
/// # Errors
/// The first key with more than [`MAX_WILDCARDS_PER_KEY`] `*`.
pub fn check_wildcards(map: &BTreeMap<String, Vec<String>>) -> Result<(), SyntaxError> {
    match map
        .values()
        .flatten()
        .find(|k| k.matches('*').count() > MAX_WILDCARDS_PER_KEY)
    {
        Some(k) => Err(SyntaxError::MultipleWildcards(k.clone())),
        None => Ok(()),
    }
}

/// Which Kubernetes label or annotation keys a `_labels`/`_annotations` family exposes.
///
/// One resource's entry of kube-state-metrics' `--metric-labels-allowlist`, matched as KSM's
/// `createPrometheusLabelKeysValues` (`internal/store/utils.go`) matches it:
/// - `*` as the *first* key allows every key; a `*` later in the list is ignored;
/// - a key with one `*` (`app.kubernetes.io/*`) is the pattern `^prefix.*suffix$`;
/// - a key with more `*` matches nothing (KSM fails closed; the flag parser refuses it);
/// - any other key matches itself exactly.
///
/// An empty list exposes nothing, and most `_labels` families then render no sample at all.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct KeyAllowlist {
    /// The keys as given, so emptiness means what it means to KSM.
    entries: Vec<String>,
    all: bool,
    exact: Vec<String>,
    /// `(prefix, suffix)` of each one-wildcard pattern.
    patterns: Vec<(String, String)>,
}

impl KeyAllowlist {
    /// Every key (`[*]`).
    pub fn all() -> Self {
        Self::new(["*"])
    }

    /// The allowlist of `keys`, in the order given.
    pub fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let entries: Vec<String> = keys.into_iter().map(Into::into).collect();
        let mut out = KeyAllowlist {
            all: entries.first().is_some_and(|k| k == "*"),
            ..KeyAllowlist::default()
        };
        for key in &entries {
            match key.matches('*').count() {
                0 => out.exact.push(key.clone()),
                1 if key != "*" => {
                    let (prefix, suffix) = key.split_once('*').expect("one '*'");
                    out.patterns.push((prefix.to_string(), suffix.to_string()));
                }
                _ => {}
            }
        }
        out.entries = entries;
        out
    }

    /// Whether `key` is exposed.
    pub fn allows(&self, key: &str) -> bool {
        self.all
            || self.exact.iter().any(|k| k == key)
            || self.patterns.iter().any(|(prefix, suffix)| {
                key.len() >= prefix.len() + suffix.len()
                    && key.starts_with(prefix.as_str())
                    && key.ends_with(suffix.as_str())
                    // Go's `.` does not match a newline.
                    && !key[prefix.len()..key.len() - suffix.len()].contains('\n')
            })
    }

    /// Whether the list is empty (nothing is exposed).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The keys as given.
    pub fn entries(&self) -> &[String] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_allowlists_match_as_ksm_exact_wildcard_and_partial_patterns() {
        let all = KeyAllowlist::all();
        assert!(all.allows("anything/at.all"));
        assert!(!all.is_empty());
        let none = KeyAllowlist::default();
        assert!(none.is_empty() && !none.allows("app"));
        let some = KeyAllowlist::new(["app", "app.kubernetes.io/*", "*-team", "*"]);
        assert!(some.allows("app"));
        assert!(!some.allows("apps"), "exact keys match whole keys only");
        assert!(some.allows("app.kubernetes.io/name"));
        assert!(
            some.allows("app.kubernetes.io/"),
            "the wildcard may match nothing"
        );
        assert!(
            !some.allows("xapp.kubernetes.io/name"),
            "patterns are anchored"
        );
        assert!(some.allows("blue-team"));
        assert!(!some.allows("team"), "prefix and suffix may not overlap");
        assert!(
            !some.allows("other"),
            "a '*' that is not first in the list is ignored, as in KSM"
        );
        let mid = KeyAllowlist::new(["a*z"]);
        assert!(mid.allows("az") && mid.allows("a-to-z") && !mid.allows("a\nz"));
        let two = KeyAllowlist::new(["*key*"]);
        assert!(!two.allows("mykeys") && !two.is_empty(), "fails closed");
    }

    fn ok(v: &str) -> Vec<(String, Vec<String>)> {
        parse(v)
            .unwrap_or_else(|e| panic!("{v:?}: {e}"))
            .0
            .into_iter()
            .collect()
    }

    fn entry(r: &str, keys: &[&str]) -> (String, Vec<String>) {
        (r.into(), keys.iter().map(|k| k.to_string()).collect())
    }

    #[test]
    fn accepts_what_ksm_accepts() {
        assert!(ok("").is_empty());
        assert_eq!(
            ok("pods=[app.kubernetes.io/component,app],nodes=[*]"),
            vec![
                entry("nodes", &["*"]),
                entry("pods", &["app.kubernetes.io/component", "app"])
            ]
        );
        assert_eq!(ok("*=[*]"), vec![entry("*", &["*"])]);
        assert_eq!(ok(" pods =[ a , b ]"), vec![entry("pods", &["a", "b"])]);
        assert_eq!(ok("pods=[]"), vec![entry("pods", &[])]);
        assert_eq!(
            ok("pods=[app.kubernetes.io/*,*-team]"),
            vec![entry("pods", &["app.kubernetes.io/*", "*-team"])]
        );
        // A resource named twice keeps its last list, as KSM's map assignment does.
        assert_eq!(ok("pods=[a],pods=[b]"), vec![entry("pods", &["b"])]);
        // An empty key is kept (it matches no label); KSM keeps it too.
        assert_eq!(ok("pods=[,a]"), vec![entry("pods", &["", "a"])]);
        // `=[a]` names the empty resource; the resource check refuses it later.
        assert_eq!(ok("=[a]"), vec![entry("", &["a"])]);
    }

    #[test]
    fn refuses_what_ksm_refuses() {
        for bad in [
            "pods=app",
            "pods= [app]",
            "pods=[a],",
            "pods=[a] nodes=[b]",
            "pods=[a]x",
            ",pods=[a]",
            "pods=[a,,b]",
            "pods=[a,]",
            "pods=[a[b]",
            "pods=[a=b]",
            "=*=[*]",
        ] {
            assert_eq!(parse(bad), Err(SyntaxError::Format), "{bad:?}");
        }
        assert_eq!(
            parse("pods=[*key*]"),
            Err(SyntaxError::MultipleWildcards("*key*".into()))
        );
    }

    #[test]
    fn refuses_what_ksm_silently_drops() {
        for bad in [
            "pods",
            "pods=[app",
            "pods=[",
            "pods=[a],nodes",
            "pods,nodes=[a]",
        ] {
            assert!(
                matches!(parse(bad), Err(SyntaxError::Incomplete(_))),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
    }
}
