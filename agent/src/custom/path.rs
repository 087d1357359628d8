//! Paths into a custom object (`[status, conditions, "[type=Ready]", status]`), compiled once
//! when the config is read and then walked for every object.
//!
//! The syntax and its odd corners are kube-state-metrics' `compilePath`
//! (`pkg/customresourcestate/registry_factory.go`):
//! - a plain segment reads a map key, or an index when the value is a list (`"0"`, and `"-1"`
//!   counting from the end); an index outside the list resolves to nothing;
//! - `key=value` on a map reads `key` when it holds exactly the string `value`, and otherwise
//!   falls back to reading the whole segment as a key;
//! - `[key=value]` picks the first map of a list whose `key` equals `value` as a string, as a
//!   number (after the same conversions a gauge value gets, so `[status=True]` also matches
//!   `status: "yes"`) or as a Go boolean literal.
//!
//! A path that meets a missing key, `null`, or a value of the wrong shape resolves to nothing
//! ([`None`]): JSON `null` and "absent" are the same, as they are for Go's `interface{}`.

use serde_json::Value;

use super::value::to_float;

/// A path segment that cannot be compiled. Only list lookups can be malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid list lookup {segment:?}: expected \"[key=value]\"")]
pub struct PathError {
    /// The segment as written.
    pub segment: String,
}

/// A compiled path: an ordered list of steps from an object to a value.
///
/// The empty path is valid and resolves to the value it starts from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Path {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    /// A map key or list index, possibly a `key=value` map match.
    Field {
        segment: String,
        /// `Some` when the segment holds exactly one `=`.
        equals: Option<(String, String)>,
        /// `Some` when the segment reads as a Go `strconv.Atoi` integer.
        index: Option<i64>,
    },
    /// `[key=value]`: the first list element (a map) whose `key` matches.
    Select {
        segment: String,
        key: String,
        text: String,
        /// `value` converted as a gauge value would be, when it converts.
        number: Option<f64>,
        /// `value` as a Go boolean literal (`strconv.ParseBool`), when it is one.
        boolean: Option<bool>,
    },
}

impl Path {
    /// Compiles the segments of one configured path.
    ///
    /// # Errors
    /// A segment in brackets without a `=` (`"[Ready]"`), which kube-state-metrics refuses too.
    pub fn compile<S: AsRef<str>>(segments: &[S]) -> Result<Path, PathError> {
        let steps = segments
            .iter()
            .map(|s| Step::compile(s.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Path { steps })
    }

    /// Whether the path has no step (it resolves to its starting value).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The segment of a one-step path, for the gauge shortcut that reads a map entry whose key
    /// is the `valueFrom` segment itself.
    pub(super) fn single_segment(&self) -> Option<&str> {
        match self.steps.as_slice() {
            [Step::Field { segment, .. }] | [Step::Select { segment, .. }] => Some(segment),
            _ => None,
        }
    }

    /// Walks the path from `start`. `None` (and JSON `null`) at any step gives `None`.
    pub fn get<'v>(&self, start: Option<&'v Value>) -> Option<&'v Value> {
        let mut at = non_null(start)?;
        for step in &self.steps {
            at = non_null(step.apply(at))?;
        }
        Some(at)
    }

    /// This path followed by `tail`: the full path an error message names.
    pub(super) fn joined(&self, tail: &Path) -> Path {
        let mut steps = self.steps.clone();
        steps.extend(tail.steps.iter().cloned());
        Path { steps }
    }
}

impl std::fmt::Display for Path {
    /// `[status,conditions,[type=Ready]]`, the way kube-state-metrics prints a path in its logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[")?;
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(step.segment())?;
        }
        f.write_str("]")
    }
}

fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

impl Step {
    fn compile(segment: &str) -> Result<Step, PathError> {
        if let Some(inner) = segment.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            let (key, text) = inner.split_once('=').ok_or_else(|| PathError {
                segment: segment.to_owned(),
            })?;
            return Ok(Step::Select {
                segment: segment.to_owned(),
                key: key.to_owned(),
                text: text.to_owned(),
                number: to_float(&Value::String(text.to_owned())).ok(),
                boolean: parse_go_bool(text),
            });
        }
        let mut parts = segment.split('=');
        let equals = match (parts.next(), parts.next(), parts.next()) {
            (Some(k), Some(v), None) => Some((k.to_owned(), v.to_owned())),
            _ => None,
        };
        Ok(Step::Field {
            segment: segment.to_owned(),
            equals,
            index: parse_go_atoi(segment),
        })
    }

    fn segment(&self) -> &str {
        match self {
            Step::Field { segment, .. } | Step::Select { segment, .. } => segment,
        }
    }

    fn apply<'v>(&self, at: &'v Value) -> Option<&'v Value> {
        match self {
            Step::Field {
                segment,
                equals,
                index,
            } => match at {
                Value::Object(map) => {
                    if let Some((k, v)) = equals {
                        let hit = map.get(k).filter(|found| found.as_str() == Some(v));
                        if hit.is_some() {
                            return hit;
                        }
                    }
                    map.get(segment)
                }
                Value::Array(list) => {
                    let len = i64::try_from(list.len()).ok()?;
                    let i = (*index)?;
                    let i = if i < 0 { i + len } else { i };
                    list.get(usize::try_from(i).ok()?)
                }
                _ => None,
            },
            Step::Select {
                key,
                text,
                number,
                boolean,
                ..
            } => at.as_array()?.iter().find(|element| {
                let Some(candidate) = element.as_object().and_then(|m| m.get(key.as_str())) else {
                    return false;
                };
                candidate.as_str() == Some(text.as_str())
                    || number.is_some_and(|n| to_float(candidate).is_ok_and(|c| c == n))
                    || boolean.is_some_and(|b| candidate.as_bool() == Some(b))
            }),
        }
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits, in range.
fn parse_go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The custom object of kube-state-metrics' custom resource state documentation.
    fn foo() -> Value {
        json!({
            "metadata": {"name": "foo", "labels": {"foo": "bar"}},
            "spec": {
                "replicas": 1,
                "order": [{"id": 1, "value": true}, {"id": 3, "value": false}],
                "refs": ["my_other_foo", "foo_2"]
            },
            "status": {
                "conditions": [{"name": "a", "value": 45}, {"name": "b", "value": 66}],
                "flags": [{"type": "Ready", "status": "yes"}, {"on": false, "n": "x"}],
                "empty": null
            }
        })
    }

    fn get(obj: &Value, path: &[&str]) -> Option<Value> {
        Path::compile(path).unwrap().get(Some(obj)).cloned()
    }

    #[test]
    fn the_documented_examples_resolve_as_documented() {
        let o = foo();
        assert_eq!(get(&o, &["spec", "replicas"]), Some(json!(1)));
        assert_eq!(get(&o, &["spec", "order", "0", "value"]), Some(json!(true)));
        assert_eq!(
            get(&o, &["status", "conditions", "[name=a]", "value"]),
            Some(json!(45))
        );
        assert_eq!(
            get(&o, &["status", "conditions", "[value=66]", "name"]),
            Some(json!("b"))
        );
        assert_eq!(get(&o, &["metadata", "name=foo"]), Some(json!("foo")));
    }

    #[test]
    fn a_key_value_segment_that_does_not_match_falls_back_to_a_literal_key() {
        let o = json!({"metadata": {"name": "foo", "a=b": "literal"}});
        assert_eq!(get(&o, &["metadata", "name=bar"]), None);
        assert_eq!(get(&o, &["metadata", "a=b"]), Some(json!("literal")));
    }

    #[test]
    fn negative_indices_count_from_the_end_and_out_of_range_resolves_to_nothing() {
        let o = foo();
        assert_eq!(get(&o, &["spec", "order", "-1", "id"]), Some(json!(3)));
        assert_eq!(get(&o, &["spec", "refs", "+1"]), Some(json!("foo_2")));
        assert_eq!(get(&o, &["spec", "order", "5"]), None);
        assert_eq!(get(&o, &["spec", "order", "-3"]), None);
        assert_eq!(get(&o, &["spec", "order", "id"]), None);
    }

    #[test]
    fn list_lookups_compare_as_strings_numbers_and_booleans() {
        let o = foo();
        // "True" converts to 1 like a gauge value, and so does "yes".
        assert_eq!(
            get(&o, &["status", "flags", "[status=True]", "type"]),
            Some(json!("Ready"))
        );
        // "f" is Go's ParseBool false.
        assert_eq!(
            get(&o, &["status", "flags", "[on=f]", "n"]),
            Some(json!("x"))
        );
        assert_eq!(
            get(&o, &["spec", "order", "[id=3.0]", "value"]),
            Some(json!(false))
        );
        assert_eq!(get(&o, &["status", "conditions", "[name=c]"]), None);
        assert_eq!(get(&o, &["spec", "replicas", "[id=1]"]), None);
    }

    #[test]
    fn null_and_missing_are_both_nothing_and_the_empty_path_is_the_start() {
        let o = foo();
        assert_eq!(get(&o, &["status", "empty"]), None);
        assert_eq!(get(&o, &["status", "empty", "x"]), None);
        assert_eq!(get(&o, &["nope", "deeper"]), None);
        assert_eq!(get(&o, &[]), Some(o.clone()));
        assert_eq!(Path::default().get(None), None);
    }

    #[test]
    fn a_list_lookup_without_an_equals_sign_does_not_compile() {
        let err = Path::compile(&["status", "conditions", "[Ready]"]).unwrap_err();
        assert_eq!(err.segment, "[Ready]");
        assert!(err.to_string().contains("[Ready]"));
        // The value after the first `=` may itself contain one.
        assert!(Path::compile(&["[a=b=c]"]).is_ok());
    }

    #[test]
    fn paths_print_like_kube_state_metrics_logs_them() {
        let p = Path::compile(&["status", "conditions", "[type=Ready]"]).unwrap();
        assert_eq!(p.to_string(), "[status,conditions,[type=Ready]]");
        assert_eq!(Path::default().to_string(), "[]");
    }
}
