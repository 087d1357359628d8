//! Kubernetes label selectors in their string form (`kubectl -l`), parsed once at start and
//! matched against one label map: `--leader-candidate-selector` decides candidacy from the
//! agent's own Node labels.
//!
//! The grammar is apimachinery's `labels.Parse` (`k8s.io/apimachinery/pkg/labels/selector.go`)
//! minus the numeric `gt`/`lt` operators, which no node label selector needs: requirements
//! separated by commas, each `key`, `!key`, `key=value`, `key==value`, `key!=value`,
//! `key in (a,b)` or `key notin (a,b)`. Keys and values are checked as the apiserver checks
//! them, so a selector that would not select any real node is refused at start.

use std::collections::BTreeMap;
use std::fmt;

use crate::names::{is_dns_subdomain, is_label_name};

/// Why a selector does not parse; the message names what is wrong, the caller the flag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParseError(String);

/// One requirement of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    /// `key`.
    Exists(String),
    /// `!key`.
    DoesNotExist(String),
    /// `key=value`, `key==value`, `key in (a,b)`.
    In(String, Vec<String>),
    /// `key!=value`, `key notin (a,b)`: also true when the label is absent, as in Kubernetes.
    NotIn(String, Vec<String>),
}

/// A parsed label selector: every requirement must hold. Empty selects everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    source: String,
    requirements: Vec<Requirement>,
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl LabelSelector {
    /// Parses `text`.
    ///
    /// # Errors
    /// When a requirement is malformed, or a key or value is not a valid label key or value.
    pub fn parse(text: &str) -> Result<LabelSelector, ParseError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(ParseError(format!("empty requirement in {text:?}")));
            }
            requirements.push(requirement(part)?);
        }
        Ok(LabelSelector {
            source: text.trim().to_string(),
            requirements,
        })
    }

    /// Whether `labels` satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
            Requirement::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
        })
    }
}

/// Splits at the commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, ParseError> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_u32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| ParseError(format!("unbalanced ')' in {text:?}")))?;
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(ParseError(format!("unbalanced '(' in {text:?}")));
    }
    if !text.trim().is_empty() {
        parts.push(&text[start..]);
    }
    Ok(parts)
}

fn requirement(part: &str) -> Result<Requirement, ParseError> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(label_key(key.trim())?));
    }
    for (op, negated) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((key, value)) = part.split_once(op) {
            let key = label_key(key.trim())?;
            let value = label_value(value.trim())?;
            return Ok(if negated {
                Requirement::NotIn(key, vec![value])
            } else {
                Requirement::In(key, vec![value])
            });
        }
    }
    if let Some(open) = part.find('(') {
        let head = part[..open].trim();
        let Some(body) = part[open + 1..].trim_end().strip_suffix(')') else {
            return Err(ParseError(format!("{part:?}: expected ')' at the end")));
        };
        let (key, op) = head.rsplit_once(char::is_whitespace).ok_or_else(|| {
            ParseError(format!(
                "{part:?}: expected `key in (…)` or `key notin (…)`"
            ))
        })?;
        let key = label_key(key.trim())?;
        let values = body
            .split(',')
            .map(|v| label_value(v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        return match op {
            "in" => Ok(Requirement::In(key, values)),
            "notin" => Ok(Requirement::NotIn(key, values)),
            other => Err(ParseError(format!(
                "{part:?}: unknown operator {other:?} (in, notin, =, ==, != or none)"
            ))),
        };
    }
    Ok(Requirement::Exists(label_key(part)?))
}

/// A qualified name: `[prefix/]name`, the prefix a DNS subdomain, the name 1–63 characters.
fn label_key(key: &str) -> Result<String, ParseError> {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(p) = prefix
        && !is_dns_subdomain(p)
    {
        return Err(ParseError(format!(
            "{key:?}: the key's prefix must be a DNS subdomain"
        )));
    }
    if !is_label_name(name) {
        return Err(ParseError(format!(
            "{key:?}: not a label key (1-63 letters, digits, '-', '_', '.', starting and ending \
             with a letter or digit, optionally after a DNS prefix and '/')"
        )));
    }
    Ok(key.to_string())
}

/// Empty, or 1–63 characters as a label name.
fn label_value(value: &str) -> Result<String, ParseError> {
    if value.is_empty() || is_label_name(value) {
        Ok(value.to_string())
    } else {
        Err(ParseError(format!(
            "{value:?}: not a label value (at most 63 letters, digits, '-', '_', '.', starting \
             and ending with a letter or digit)"
        )))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A label map from pairs.
    pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_candidate_label_and_the_control_plane_role_select_as_kubectl_does() {
        let candidate = LabelSelector::parse("kube-state-agent.io/leader-candidate=true").unwrap();
        assert!(candidate.matches(&labels(&[("kube-state-agent.io/leader-candidate", "true")])));
        assert!(!candidate.matches(&labels(&[(
            "kube-state-agent.io/leader-candidate",
            "false"
        )])));
        assert!(!candidate.matches(&labels(&[])));

        let role = LabelSelector::parse("node-role.kubernetes.io/control-plane").unwrap();
        assert!(role.matches(&labels(&[("node-role.kubernetes.io/control-plane", "")])));
        assert!(!role.matches(&labels(&[("node-role.kubernetes.io/worker", "")])));
    }

    #[test]
    fn every_operator_of_the_string_form_is_understood() {
        let s = LabelSelector::parse("a in (x, y),b notin (z),!c,d!=1,e==2").unwrap();
        assert!(s.matches(&labels(&[("a", "x"), ("d", "0"), ("e", "2")])));
        assert!(
            !s.matches(&labels(&[("a", "w"), ("e", "2")])),
            "a not in (x,y)"
        );
        assert!(
            !s.matches(&labels(&[("a", "y"), ("b", "z"), ("e", "2")])),
            "b in notin set"
        );
        assert!(
            !s.matches(&labels(&[("a", "y"), ("c", ""), ("e", "2")])),
            "c exists"
        );
        assert!(
            !s.matches(&labels(&[("a", "y"), ("d", "1"), ("e", "2")])),
            "d is 1"
        );
        assert!(!s.matches(&labels(&[("a", "y")])), "e missing");
        assert!(LabelSelector::parse("").unwrap().matches(&labels(&[])));
    }

    #[test]
    fn malformed_selectors_are_refused_with_what_is_wrong() {
        for bad in [
            "a=(",
            "a in (x",
            "a in x)",
            "a,,b",
            "-a=1",
            "a=b c",
            "a between (x)",
            "UPPER.example.com/a=1",
            "a=this-value-is-far-too-long-for-a-label-value-it-has-more-than-63-chars",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad:?} parsed");
        }
        let e = LabelSelector::parse("a between (x)").unwrap_err();
        assert!(e.to_string().contains("between"), "{e}");
    }
}
