//! Shapes that recur across kinds: booleans, timestamps, condition state sets, Kubernetes
//! label maps turned into Prometheus labels, and resource quantities.
//!
//! Each helper reproduces a named kube-state-metrics function (`internal/store/utils.go` and
//! apimachinery's `resource.Quantity`) so every kind renders them the same way.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::exposition::{KeyAllowlist, Series, sanitize_label_name};

/// `boolFloat64`: 1 for true, 0 for false.
pub fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Seconds since the epoch, truncated to whole seconds like Go's `t.Unix()`.
pub fn timestamp(t: &Time) -> f64 {
    t.0.as_second() as f64
}

/// The condition statuses kube-state-metrics enumerates, as Kubernetes spells them and as the
/// `status` label spells them.
pub const CONDITION_STATUSES: [(&str, &str); 3] =
    [("True", "true"), ("False", "false"), ("Unknown", "unknown")];

/// `addConditionMetrics`: one sample per condition status (`true`, `false`, `unknown`), 1 for
/// the one equal to `status`, after the caller's `labels`; the status label is always last.
pub fn condition_samples(out: &mut Series<'_>, labels: &[(&str, &str)], status: &str) {
    for (k8s, label) in CONDITION_STATUSES {
        out.sample(
            labels.iter().copied().chain([("status", label)]),
            bool_value(status == k8s),
        );
    }
}

/// `toSnakeCase`: `_` before an upper-case letter that follows a lower-case letter or digit,
/// then lower-cased.
fn to_snake_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut prev: Option<char> = None;
    for c in s.chars() {
        if c.is_ascii_uppercase()
            && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out
}

/// `labelName`: `prefix_` + the key sanitized and snake-cased.
pub fn prometheus_label_name(prefix: &str, key: &str) -> String {
    format!("{prefix}_{}", to_snake_case(&sanitize_label_name(key)))
}

/// `createPrometheusLabelKeysValues` + `mapToPrometheusLabels`: the allowed keys of a Kubernetes
/// label or annotation map as Prometheus label pairs, sorted by Kubernetes key, with keys that
/// collide after sanitizing renamed `_conflict1`, `_conflict2`, … in that order.
pub fn kube_map_labels(
    prefix: &str,
    map: Option<&BTreeMap<String, String>>,
    allow: &KeyAllowlist,
) -> Vec<(String, String)> {
    let Some(map) = map else {
        return Vec::new();
    };
    if allow.is_empty() {
        return Vec::new();
    }
    // BTreeMap iterates in sorted key order, which is Go's sort.Strings order for UTF-8.
    let mut out: Vec<(String, String)> = Vec::new();
    // name -> (count, index of the first holder)
    let mut conflicts: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (k, v) in map.iter().filter(|(k, _)| allow.allows(k)) {
        let mut name = prometheus_label_name(prefix, k);
        if let Some((count, initial)) = conflicts.get_mut(&name) {
            if *count == 1 {
                out[*initial].0 = format!("{}_conflict1", out[*initial].0);
            }
            *count += 1;
            name = format!("{name}_conflict{count}");
        } else {
            conflicts.insert(name.clone(), (1, out.len()));
        }
        out.push((name, v.clone()));
    }
    out
}

// ===== resource quantities =====

/// A parsed `resource.Quantity`: an exact rational `num / 10^scale * 2^shift`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantity {
    num: i128,
    /// Power of ten in the denominator (negative multiplies).
    scale: i32,
    /// Power of two multiplier from binary suffixes.
    shift: u32,
}

impl Quantity {
    /// Parses Kubernetes quantity syntax: `250m`, `1Gi`, `1e3`, `1.5`, `-2k`.
    ///
    /// Returns `None` for anything apimachinery would reject.
    pub fn parse(s: &str) -> Option<Quantity> {
        let s = s.trim();
        let (neg, rest) = match s.as_bytes().first()? {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, suffix) = rest.split_at(num_end);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (int_part, frac_part) = number.split_once('.').unwrap_or((number, ""));
        let mut num: i128 = 0;
        for c in int_part.bytes().chain(frac_part.bytes()) {
            num = num.checked_mul(10)?.checked_add(i128::from(c - b'0'))?;
        }
        let mut scale = i32::try_from(frac_part.len()).ok()?;
        let mut shift = 0;
        match suffix {
            "" => {}
            "Ki" => shift = 10,
            "Mi" => shift = 20,
            "Gi" => shift = 30,
            "Ti" => shift = 40,
            "Pi" => shift = 50,
            "Ei" => shift = 60,
            "n" => scale += 9,
            "u" => scale += 6,
            "m" => scale += 3,
            "k" => scale -= 3,
            "M" => scale -= 6,
            "G" => scale -= 9,
            "T" => scale -= 12,
            "P" => scale -= 15,
            "E" => scale -= 18,
            _ => {
                let exp = suffix.strip_prefix(['e', 'E'])?;
                let exp: i32 = exp.parse().ok()?;
                scale -= exp;
            }
        }
        Some(Quantity {
            num: if neg { -num } else { num },
            scale,
            shift,
        })
    }

    /// `Quantity.Value()`: the value rounded up (away from zero) to an integer.
    pub fn value(&self) -> f64 {
        self.scaled_ceil(0)
    }

    /// `Quantity.MilliValue()`: the value times 1000 rounded up to an integer.
    pub fn milli_value(&self) -> f64 {
        self.scaled_ceil(3)
    }

    /// `float64(q.MilliValue()) / 1000`, the cpu-core convention.
    pub fn cores(&self) -> f64 {
        self.milli_value() / 1000.0
    }

    /// `AsApproximateFloat64()`.
    pub fn approx_f64(&self) -> f64 {
        (self.num as f64) * 10f64.powi(-self.scale) * 2f64.powi(self.shift as i32)
    }

    /// ceil(value * 10^extra) with apimachinery's round-away-from-zero semantics.
    fn scaled_ceil(&self, extra: i32) -> f64 {
        let mut num = self.num;
        let mut den: i128 = 1;
        let exp = extra - self.scale;
        let pow10 = |e: i32| 10i128.checked_pow(e.unsigned_abs());
        match exp.cmp(&0) {
            std::cmp::Ordering::Greater => match pow10(exp).and_then(|p| num.checked_mul(p)) {
                Some(n) => num = n,
                None => return self.approx_f64() * 10f64.powi(extra),
            },
            std::cmp::Ordering::Less => match pow10(exp) {
                Some(p) => den = p,
                None => return 0.0,
            },
            std::cmp::Ordering::Equal => {}
        }
        match num.checked_mul(1i128 << self.shift) {
            Some(n) => num = n,
            None => return self.approx_f64() * 10f64.powi(extra),
        }
        let q = num / den;
        let r = num % den;
        let rounded = if r == 0 {
            q
        } else if num > 0 {
            q + 1
        } else {
            q - 1
        };
        rounded as f64
    }
}

const HUGE_PAGES_PREFIX: &str = "hugepages-";
const ATTACHABLE_VOLUMES_PREFIX: &str = "attachable-volumes-";

/// `isHugePageResourceName`.
pub fn is_huge_page(name: &str) -> bool {
    name.starts_with(HUGE_PAGES_PREFIX)
}

/// `isAttachableVolumeResourceName`.
pub fn is_attachable_volume(name: &str) -> bool {
    name.starts_with(ATTACHABLE_VOLUMES_PREFIX)
}

/// `isExtendedResourceName`: not native (no `/`, or in `kubernetes.io/`), not `requests.`,
/// and a valid qualified name once prefixed with `requests.`.
pub fn is_extended_resource(name: &str) -> bool {
    let native = !name.contains('/') || name.contains("kubernetes.io/");
    if native || name.starts_with("requests.") {
        return false;
    }
    is_qualified_name(&format!("requests.{name}"))
}

/// apimachinery's `IsQualifiedName`: `[prefix/]name`, prefix a DNS-1123 subdomain, name ≤ 63
/// characters of `[A-Za-z0-9._-]` starting and ending alphanumeric.
fn is_qualified_name(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    if name.contains('/') {
        return false;
    }
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && label.as_bytes()[0].is_ascii_alphanumeric()
                    && label.as_bytes()[label.len() - 1].is_ascii_alphanumeric()
            })
    });
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity::parse(s).unwrap_or_else(|| panic!("{s} should parse"))
    }

    #[test]
    fn quantities_round_like_apimachinery() {
        assert_eq!(q("250m").cores(), 0.25);
        assert_eq!(q("250m").value(), 1.0);
        assert_eq!(q("2").cores(), 2.0);
        assert_eq!(q("1Gi").value(), 1073741824.0);
        assert_eq!(q("128Mi").value(), 134217728.0);
        assert_eq!(q("1e3").value(), 1000.0);
        assert_eq!(q("1.5").milli_value(), 1500.0);
        assert_eq!(q("100M").value(), 1e8);
        assert_eq!(q("1k").value(), 1000.0);
        assert_eq!(q("0.1").value(), 1.0);
        assert_eq!(q("1n").milli_value(), 1.0);
        assert_eq!(q("-1.5").value(), -2.0);
        assert_eq!(q("110").value(), 110.0);
        assert_eq!(q("1E-3").milli_value(), 1.0);
        assert!(Quantity::parse("abc").is_none());
        assert!(Quantity::parse("1Zi").is_none());
        assert!(Quantity::parse("").is_none());
    }

    #[test]
    fn extended_resources_are_recognised() {
        assert!(is_extended_resource("nvidia.com/gpu"));
        assert!(!is_extended_resource("cpu"));
        assert!(!is_extended_resource("kubernetes.io/something"));
        assert!(is_huge_page("hugepages-2Mi"));
        assert!(is_attachable_volume("attachable-volumes-aws-ebs"));
    }

    #[test]
    fn label_maps_sort_sanitize_snake_case_and_resolve_conflicts() {
        let map: BTreeMap<String, String> = [
            ("app.kubernetes.io/name", "web"),
            ("app_kubernetes_io/name", "other"),
            ("teamName", "core"),
            ("hidden", "x"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let all = kube_map_labels("label", Some(&map), &KeyAllowlist::all());
        assert_eq!(
            all,
            vec![
                (
                    "label_app_kubernetes_io_name_conflict1".into(),
                    "web".into()
                ),
                (
                    "label_app_kubernetes_io_name_conflict2".into(),
                    "other".into()
                ),
                ("label_hidden".into(), "x".into()),
                ("label_team_name".into(), "core".into()),
            ]
        );
        let some = KeyAllowlist {
            all: false,
            keys: vec!["teamName".into(), "missing".into()],
        };
        assert_eq!(
            kube_map_labels("label", Some(&map), &some),
            vec![("label_team_name".into(), "core".into())]
        );
        assert!(kube_map_labels("label", Some(&map), &KeyAllowlist::default()).is_empty());
    }
}
