//! Shapes that recur across kinds: booleans, timestamps, condition state sets, owner references,
//! resource versions, Kubernetes label maps turned into Prometheus labels, resource quantities,
//! IP families, and the serde helpers the lean decode types share.
//!
//! Each helper reproduces a named kube-state-metrics function (`internal/store/utils.go`),
//! apimachinery behaviour (`resource.Quantity`, `metav1.Time`) or Go library behaviour, so every
//! kind renders them the same way.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use serde::{Deserialize, Deserializer};

use crate::config::KeyAllowlist;
use crate::exposition::{RenderContext, Series, sanitize_label_name};

/// `boolFloat64`: 1 for true, 0 for false.
pub fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Seconds since the epoch, truncated to whole seconds like Go's `t.Unix()`.
pub fn timestamp(t: &Time) -> f64 {
    t.0.as_second() as f64
}

// ===== Go's zero time =====
//
// Go has no absent `time.Time`: an unset `metav1.Time` is the zero time, `0001-01-01T00:00:00Z`.
// KSM meets it in two ways, and the helpers below keep them deliberately separate rules:
// - a generator that guards with `t.IsZero()` (pointer or value field) emits nothing for it:
//   [`is_go_zero`], and the sample shape built on it, [`nonzero_timestamp_sample`];
// - a generator that calls `t.Unix()` on a non-pointer field without a guard emits the zero
//   time's Unix seconds, a large negative number: [`unix_or_go_zero`].

/// `time.Time{}.Unix()`: the Unix seconds of Go's zero time, `0001-01-01T00:00:00Z`.
const GO_ZERO_TIME_UNIX: f64 = -62_135_596_800.0;

/// `metav1.Time.IsZero()` for a timestamp that is present: true for `0001-01-01T00:00:00Z`.
pub fn is_go_zero(t: &Time) -> bool {
    timestamp(t) == GO_ZERO_TIME_UNIX
}

/// The guarded timestamp shape of `createPodCreatedFamilyGenerator`,
/// `createNodeCreatedFamilyGenerator` and the deletion-timestamp generators
/// (`if !t.IsZero() { … float64(t.Unix()) }`): one sample with `t`'s Unix seconds, nothing when
/// `t` is unset or Go's zero time.
pub fn nonzero_timestamp_sample(out: &mut Series<'_>, t: Option<&Time>) {
    if let Some(t) = t.filter(|t| !is_go_zero(t)) {
        out.value(timestamp(t));
    }
}

/// `metav1.Time.Unix()` on a non-pointer field, as KSM reads e.g. `StartedAt` of a container
/// state: the timestamp, or Go's zero time (`-62135596800`) when the field is unset.
///
/// NOTE: not the [`is_go_zero`] rule: an unset field still yields a sample here, because KSM
/// emits one without checking `IsZero()`.
pub fn unix_or_go_zero(t: Option<&Time>) -> f64 {
    t.map_or(GO_ZERO_TIME_UNIX, timestamp)
}

/// The condition statuses kube-state-metrics enumerates, as Kubernetes spells them and as the
/// `status` label spells them.
pub const CONDITION_STATUSES: [(&str, &str); 3] =
    [("True", "true"), ("False", "false"), ("Unknown", "unknown")];

/// `addConditionMetrics`: one sample per condition status (`true`, `false`, `unknown`), 1 for
/// the one equal to `status`, after the caller's `labels`; the status label is always last.
pub fn condition_samples(out: &mut Series<'_>, labels: &[(&str, &str)], status: &str) {
    condition_samples_as(out, labels, "status", status);
}

/// [`condition_samples`] with the status label named `status_label`: job.go and pod.go call
/// `addConditionMetrics` and rename its label to `condition`.
pub fn condition_samples_as(
    out: &mut Series<'_>,
    labels: &[(&str, &str)],
    status_label: &str,
    status: &str,
) {
    for (k8s, label) in CONDITION_STATUSES {
        out.sample(
            labels.iter().copied().chain([(status_label, label)]),
            bool_value(status == k8s),
        );
    }
}

// ===== owner references =====

/// The `_owner` shape of pods, jobs, replica sets, replication controllers and secrets
/// (`createPodOwnerFamilyGenerator` and its twins): `owner_kind`, `owner_name`,
/// `owner_is_controller` (`strconv.FormatBool`, `false` when `controller` is unset) per owner
/// reference, in metadata order; one sample with all three empty when there is none (KSM 1.x
/// wrote `<none>`, 2.x writes empty values, as replicaset_test.go expects).
pub fn owner_samples(out: &mut Series<'_>, owners: Option<&[OwnerReference]>) {
    let owners = owners.unwrap_or_default();
    if owners.is_empty() {
        out.sample(
            [
                ("owner_kind", ""),
                ("owner_name", ""),
                ("owner_is_controller", ""),
            ],
            1.0,
        );
        return;
    }
    for o in owners {
        let is_controller = if o.controller == Some(true) {
            "true"
        } else {
            "false"
        };
        out.sample(
            [
                ("owner_kind", o.kind.as_str()),
                ("owner_name", o.name.as_str()),
                ("owner_is_controller", is_controller),
            ],
            1.0,
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
/// label or annotation map as Prometheus label pairs, sorted by Kubernetes key.
///
/// Names that collide after sanitizing are resolved as current KSM does: the first collision
/// renames the name already emitted to `<name>_conflict1` and gives the newcomer
/// `<name>_conflict2`; later ones take the next number. A suffixed name that another key already
/// produced is skipped (its number too), so a sample never carries one label name twice.
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
    // BTreeMap iterates in sorted key order, which is Go's slices.Sort order for UTF-8.
    let mut out: Vec<(String, String)> = Vec::new();
    // Emitted name -> its index in `out`.
    let mut used: HashMap<String, usize> = HashMap::new();
    // Sanitized name -> the last conflict number handed out for it.
    let mut conflicts: HashMap<String, usize> = HashMap::new();
    let next_free = |base: &str, count: &mut usize, used: &HashMap<String, usize>| loop {
        *count += 1;
        let candidate = format!("{base}_conflict{count}");
        if !used.contains_key(&candidate) {
            return candidate;
        }
    };
    for (k, v) in map.iter().filter(|(k, _)| allow.allows(k)) {
        let base = prometheus_label_name(prefix, k);
        let name = if let Some(count) = conflicts.get_mut(&base) {
            next_free(&base, count, &used)
        } else if let Some(idx) = used.remove(&base) {
            let mut count = 0;
            let renamed = next_free(&base, &mut count, &used);
            out[idx].0 = renamed.clone();
            used.insert(renamed, idx);
            let name = next_free(&base, &mut count, &used);
            conflicts.insert(base, count);
            name
        } else {
            base
        };
        used.insert(name.clone(), out.len());
        out.push((name, v.clone()));
    }
    out
}

/// `createPodLabelsGenerator`, `createNodeLabelsGenerator`, …: the `kube_<kind>_labels` shape.
/// Nothing when the labels allowlist is empty, else one sample carrying the allowed labels as
/// `label_*` pairs (bare when none of them is set).
pub fn labels_sample(out: &mut Series<'_>, labels: Option<&BTreeMap<String, String>>) {
    allowlisted_map_sample(out, "label", labels, |ctx| &ctx.labels);
}

/// `createPodAnnotationsGenerator`, `createNodeAnnotationsGenerator`, …: the
/// `kube_<kind>_annotations` shape, as [`labels_sample`] with `annotation_*` pairs.
pub fn annotations_sample(out: &mut Series<'_>, annotations: Option<&BTreeMap<String, String>>) {
    allowlisted_map_sample(out, "annotation", annotations, |ctx| &ctx.annotations);
}

/// The shape [`labels_sample`] and [`annotations_sample`] share, with `allowlist` picking which
/// allowlist of the render context applies.
fn allowlisted_map_sample(
    out: &mut Series<'_>,
    prefix: &str,
    map: Option<&BTreeMap<String, String>>,
    allowlist: fn(&RenderContext) -> &KeyAllowlist,
) {
    let allow = allowlist(out.context());
    if allow.is_empty() {
        return;
    }
    let pairs = kube_map_labels(prefix, map, allow);
    out.sample(pairs, 1.0);
}

// ===== resource version =====

/// KSM's `resourceVersionMetric` (`internal/store/utils.go`): one sample whose value is the
/// resourceVersion read by Go's `strconv.ParseFloat` ([`go_parse_float`]), nothing when it does
/// not parse (or is unset, which Go sees as `""`). Every `_metadata_resource_version` family is
/// this shape.
pub fn resource_version_sample(out: &mut Series<'_>, resource_version: Option<&str>) {
    if let Some(v) = go_parse_float(resource_version.unwrap_or("")) {
        out.value(v);
    }
}

/// Go's `strconv.ParseFloat(s, 64)` for the inputs a resourceVersion can hold, `None` where Go
/// returns an error:
/// - decimal literals with optional sign, fraction and exponent (`10596`, `-1.5e3`, `.5`, `1.`),
///   with `_` allowed only between digits as Go's `underscoreOK` rules (`1_000`);
/// - `inf`, `infinity` with an optional sign and `nan` without one, in any case;
/// - a finite literal too large for an `f64` is an error in Go (`ErrRange`), so `None` here.
///
/// Deliberate difference: Go also reads hexadecimal floats (`0x1p-2`); they are `None` here.
/// The apiserver's resourceVersions are decimal etcd revisions, so no real object has one.
pub fn go_parse_float(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    // Go's `special`: the whole string must be the word, and `nan` takes no sign.
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if s.eq_ignore_ascii_case("nan") {
        return Some(f64::NAN);
    }
    if !is_go_decimal_literal(unsigned) {
        return None;
    }
    let digits: String = s.chars().filter(|&c| c != '_').collect();
    // The grammar is checked above, so Rust's correctly rounded parser sees a plain decimal.
    let v: f64 = digits.parse().ok()?;
    v.is_finite().then_some(v)
}

/// `[digits][.digits][(e|E)[sign]digits]` with at least one mantissa digit and, when `_` occurs,
/// every `_` between two digits (Go's `underscoreOK`: a `.` or `e` next to `_` is refused).
fn is_go_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let digits_at = |mut i: usize| {
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'_') {
            i += 1;
        }
        (i, i > start)
    };
    let (after_int, int_digits) = digits_at(i);
    i = after_int;
    let mut frac_digits = false;
    if i < b.len() && b[i] == b'.' {
        let (after_frac, any) = digits_at(i + 1);
        i = after_frac;
        frac_digits = any;
    }
    let mantissa = &s[..i];
    if !(int_digits || frac_digits) || !mantissa.bytes().any(|c| c.is_ascii_digit()) {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        // Go requires a digit right after the exponent sign.
        if i >= b.len() || !b[i].is_ascii_digit() {
            return false;
        }
        i = digits_at(i).0;
    }
    i == b.len() && underscores_ok(s)
}

/// Go's `underscoreOK` for a sign-less decimal literal: each `_` follows a digit and is
/// followed by one.
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'_'
            || (i > 0 && b[i - 1].is_ascii_digit() && b.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
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

/// apimachinery's `resource.MaxMilliValue` (`math.MaxInt64 / 1000`).
const MAX_MILLI_VALUE: i64 = i64::MAX / 1000;

/// KSM's `convertValueToFloat64` (`internal/store/utils.go`): `MilliValue()/1000`, or `Value()`
/// when the milli-value would overflow an int64 (a node with 10000T of memory).
pub fn convert_value_to_float64(q: &Quantity) -> f64 {
    let value = q.value();
    // Compared in f64: past 2^53 both sides round alike, and so do the values printed.
    #[allow(
        clippy::cast_precision_loss,
        reason = "compared as KSM compares, in f64 range"
    )]
    if value > MAX_MILLI_VALUE as f64 {
        value
    } else {
        q.cores()
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

// ===== IP addresses =====

/// The IP family label of `ip` (`"4"` or `"6"`), as KSM derives it with k8s.io/utils/net's
/// `ParseIPSloppy` (IPv4 octets may carry leading zeros) and `IsIPv4`/`IsIPv6`; an IPv4-mapped
/// IPv6 address counts as IPv4. `None` when it does not parse.
pub fn ip_family(ip: &str) -> Option<&'static str> {
    if is_sloppy_ipv4(ip) {
        return Some("4");
    }
    let v6: Ipv6Addr = ip.parse().ok()?;
    Some(if v6.to_ipv4_mapped().is_some() {
        "4"
    } else {
        "6"
    })
}

/// Dotted-quad IPv4 in the pre-Go-1.17 grammar: four decimal fields, leading zeros allowed.
fn is_sloppy_ipv4(ip: &str) -> bool {
    let mut fields = 0;
    for field in ip.split('.') {
        fields += 1;
        let ok = !field.is_empty()
            && field.bytes().all(|b| b.is_ascii_digit())
            && field.parse::<u32>().is_ok_and(|v| v <= 255);
        if !ok || fields > 4 {
            return false;
        }
    }
    fields == 4
}

// ===== decoding =====

/// `deserialize_with` for fields the API may send as `null`: null reads as the default, as
/// Go's `encoding/json` (which the apiserver's clients decode with) leaves the zero value.
///
/// # Errors
/// Fails when a present, non-null value does not decode as `T`.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A quantity as it stands on the wire: a string, or the bare number apimachinery's
/// `Quantity.UnmarshalJSON` also accepts (a YAML fixture turned into JSON makes `cpu: 1` one).
#[derive(Deserialize)]
#[serde(untagged)]
enum RawQuantity {
    Text(String),
    Int(i64),
    Float(f64),
}

impl RawQuantity {
    /// The quantity's text; a number is kept as its text.
    fn into_text(self) -> String {
        match self {
            RawQuantity::Text(s) => s,
            RawQuantity::Int(i) => i.to_string(),
            RawQuantity::Float(f) => f.to_string(),
        }
    }
}

/// `deserialize_with` for a `ResourceList` (resource name → quantity text). Quantities are
/// strings on the wire, but apimachinery's `Quantity.UnmarshalJSON` also accepts a bare number,
/// and a YAML fixture turned into JSON makes `cpu: 1` or `pods: 110` one; numbers are kept as
/// their text. A null list reads as empty.
///
/// # Errors
/// Fails when the list is not a map, or a value is neither a string nor a number.
pub fn quantity_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, RawQuantity>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_text()))
        .collect())
}

/// `deserialize_with` for an optional quantity: its text, with a bare JSON number kept as its
/// text (apimachinery accepts both); null reads as unset.
///
/// # Errors
/// Fails when a present, non-null value is neither a string nor a number.
pub fn quantity_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<RawQuantity>::deserialize(d)?.map(RawQuantity::into_text))
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
    fn quantities_above_max_milli_value_use_the_plain_value_like_ksm() {
        // node_test.go's "memory overflow test": 10000T must not wrap negative.
        assert_eq!(convert_value_to_float64(&q("10000T")), 1e16);
        assert_eq!(convert_value_to_float64(&q("3900m")), 3.9);
        assert_eq!(convert_value_to_float64(&q("1.5")), 1.5);
        assert_eq!(convert_value_to_float64(&q("16Gi")), 17_179_869_184.0);
        assert_eq!(convert_value_to_float64(&q("250m")), 0.25);
        assert_eq!(convert_value_to_float64(&q("1e3")), 1000.0);
    }

    #[test]
    fn go_zero_time_is_skipped_by_the_is_zero_rule_and_reported_by_the_unix_rule() {
        let zero: Time = serde_json::from_str("\"0001-01-01T00:00:00Z\"").unwrap();
        let set: Time = serde_json::from_str("\"2017-08-03T16:16:58Z\"").unwrap();
        assert!(is_go_zero(&zero));
        assert!(!is_go_zero(&set));
        assert_eq!(unix_or_go_zero(None), -62_135_596_800.0);
        assert_eq!(unix_or_go_zero(Some(&zero)), -62_135_596_800.0);
        assert_eq!(unix_or_go_zero(Some(&set)), 1_501_777_018.0);
    }

    /// What `f` writes for an object whose identity is `obj="o"`, with `ctx`.
    fn render(ctx: &RenderContext, f: impl FnOnce(&mut Series<'_>)) -> String {
        let ident = crate::exposition::Identity::new([("obj", "o")]);
        let mut buf = Vec::new();
        f(&mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn nonzero_timestamp_sample_skips_unset_and_go_zero_times() {
        let zero: Time = serde_json::from_str("\"0001-01-01T00:00:00Z\"").unwrap();
        let set: Time = serde_json::from_str("\"2017-08-03T16:16:58Z\"").unwrap();
        let ctx = RenderContext::default();
        assert_eq!(render(&ctx, |out| nonzero_timestamp_sample(out, None)), "");
        assert_eq!(
            render(&ctx, |out| nonzero_timestamp_sample(out, Some(&zero))),
            ""
        );
        assert_eq!(
            render(&ctx, |out| nonzero_timestamp_sample(out, Some(&set))),
            "m{obj=\"o\"} 1.501777018e+09\n"
        );
    }

    #[test]
    fn resource_versions_parse_like_go_parse_float() {
        let cases: &[(&str, Option<f64>)] = &[
            ("10596", Some(10596.0)),
            ("000000", Some(0.0)),
            ("0", Some(0.0)),
            ("+7", Some(7.0)),
            ("-7", Some(-7.0)),
            ("1.5", Some(1.5)),
            (".5", Some(0.5)),
            ("5.", Some(5.0)),
            ("1e3", Some(1000.0)),
            ("1E+3", Some(1000.0)),
            ("2e-3", Some(0.002)),
            ("1_000", Some(1000.0)),
            ("1_0.2_5e1_0", Some(10.25e10)),
            ("18446744073709551615", Some(18_446_744_073_709_551_615.0)),
            ("1e-400", Some(0.0)),
            ("Inf", Some(f64::INFINITY)),
            ("-infinity", Some(f64::NEG_INFINITY)),
            ("123456B", None),
            ("BBBBB", None),
            ("", None),
            ("-", None),
            (".", None),
            ("e5", None),
            ("1e", None),
            ("1e+", None),
            ("1e_5", None),
            ("_1", None),
            ("1_", None),
            ("1__0", None),
            ("1_.5", None),
            ("1._5", None),
            ("1e400", None),
            ("infin", None),
            ("+nan", None),
            ("0x1p4", None),
            (" 1", None),
        ];
        for (s, want) in cases {
            assert_eq!(go_parse_float(s), *want, "parsing {s:?}");
        }
        assert!(go_parse_float("NaN").unwrap().is_nan());
        assert!(go_parse_float("nan").unwrap().is_nan());
    }

    #[test]
    fn resource_versions_read_as_the_ingress_and_cronjob_copies_read_them() {
        // The asserts of the copies this helper replaced (ingress.rs, cronjob.rs).
        assert_eq!(go_parse_float("000000"), Some(0.0));
        assert_eq!(go_parse_float("123456"), Some(123456.0));
        assert_eq!(go_parse_float("11111"), Some(11111.0));
        assert_eq!(go_parse_float("1e3"), Some(1000.0));
        assert_eq!(go_parse_float("abcdef"), None);
        assert_eq!(go_parse_float("abc"), None);
        assert_eq!(go_parse_float(""), None);
        assert_eq!(go_parse_float("1e400"), None);
        assert_eq!(go_parse_float("+Inf"), Some(f64::INFINITY));
    }

    #[test]
    fn resource_version_sample_renders_only_when_numeric() {
        let ctx = RenderContext::default();
        assert_eq!(
            render(&ctx, |out| resource_version_sample(out, Some("10596"))),
            "m{obj=\"o\"} 10596\n"
        );
        assert_eq!(
            render(&ctx, |out| resource_version_sample(out, Some("BBBBB"))),
            ""
        );
        assert_eq!(render(&ctx, |out| resource_version_sample(out, None)), "");
    }

    #[test]
    fn label_and_annotation_samples_follow_their_own_allowlist() {
        let map: BTreeMap<String, String> = [("teamName".to_string(), "core".to_string())].into();
        let none = RenderContext::default();
        assert_eq!(render(&none, |out| labels_sample(out, Some(&map))), "");
        assert_eq!(render(&none, |out| annotations_sample(out, Some(&map))), "");
        let labels_only = RenderContext {
            labels: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&labels_only, |out| labels_sample(out, Some(&map))),
            "m{obj=\"o\",label_team_name=\"core\"} 1\n"
        );
        assert_eq!(
            render(&labels_only, |out| annotations_sample(out, Some(&map))),
            ""
        );
        let annotations_only = RenderContext {
            annotations: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&annotations_only, |out| annotations_sample(out, Some(&map))),
            "m{obj=\"o\",annotation_team_name=\"core\"} 1\n"
        );
        // An allowlist with nothing set still gives the one bare sample.
        assert_eq!(
            render(&annotations_only, |out| annotations_sample(out, None)),
            "m{obj=\"o\"} 1\n"
        );
    }

    #[test]
    fn ip_families_follow_parse_ip_sloppy() {
        assert_eq!(ip_family("10.0.0.1"), Some("4"));
        assert_eq!(ip_family("010.000.000.001"), Some("4"));
        assert_eq!(ip_family("::ffff:10.0.0.1"), Some("4"));
        assert_eq!(ip_family("fd00::1"), Some("6"));
        assert_eq!(ip_family("256.0.0.1"), None);
        assert_eq!(ip_family("1.2.3"), None);
        assert_eq!(ip_family("1.2.3.4.5"), None);
        assert_eq!(ip_family("fe80::1%eth0"), None);
        assert_eq!(ip_family(""), None);
    }

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct Lists {
        #[serde(deserialize_with = "null_as_default")]
        items: Vec<String>,
        #[serde(deserialize_with = "quantity_map")]
        resources: BTreeMap<String, String>,
    }

    #[test]
    fn null_collections_read_as_empty_and_numeric_quantities_as_their_text() {
        let l: Lists = serde_json::from_str(r#"{"items":null,"resources":null}"#).unwrap();
        assert!(l.items.is_empty() && l.resources.is_empty());
        let l: Lists = serde_json::from_str(
            r#"{"items":["a"],"resources":{"cpu":1,"memory":1.5e9,"pods":"110","gpu":"250m"}}"#,
        )
        .unwrap();
        assert_eq!(l.items, ["a"]);
        let text: Vec<(&str, &str)> = l
            .resources
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            text,
            [
                ("cpu", "1"),
                ("gpu", "250m"),
                ("memory", "1500000000"),
                ("pods", "110")
            ]
        );
        assert!(serde_json::from_str::<Lists>(r#"{"resources":{"cpu":true}}"#).is_err());
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
        let some = KeyAllowlist::new(["teamName", "missing"]);
        assert_eq!(
            kube_map_labels("label", Some(&map), &some),
            vec![("label_team_name".into(), "core".into())]
        );
        assert!(kube_map_labels("label", Some(&map), &KeyAllowlist::default()).is_empty());
    }

    fn labels_of(keys: &[&str]) -> Vec<String> {
        let map: BTreeMap<String, String> = keys
            .iter()
            .map(|k| (k.to_string(), k.to_string()))
            .collect();
        kube_map_labels("label", Some(&map), &KeyAllowlist::all())
            .into_iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect()
    }

    #[test]
    fn conflict_suffixes_skip_names_another_key_already_produced() {
        // KSM's mapToPrometheusLabels test cases: a suffixed name never repeats a name in use.
        assert_eq!(
            labels_of(&["foo.bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=foo.bar",
                "label_foo_bar_conflict2=foo_bar"
            ]
        );
        assert_eq!(
            labels_of(&["foo.bar", "foo/bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=foo.bar",
                "label_foo_bar_conflict2=foo/bar",
                "label_foo_bar_conflict3=foo_bar"
            ]
        );
        // "FOO_BAR_conflict1" sorts first and takes label_foo_bar_conflict1 unsuffixed, so the
        // later collision of foo.bar and foo_bar must skip that number.
        assert_eq!(
            labels_of(&["FOO_BAR_conflict1", "foo.bar", "foo_bar"]),
            [
                "label_foo_bar_conflict1=FOO_BAR_conflict1",
                "label_foo_bar_conflict2=foo.bar",
                "label_foo_bar_conflict3=foo_bar"
            ]
        );
        // A key that sanitizes to a name already renamed: the renamed holder moves again.
        assert_eq!(
            labels_of(&["a.b", "a_b", "a_b_conflict1"]),
            [
                "label_a_b_conflict1_conflict1=a.b",
                "label_a_b_conflict2=a_b",
                "label_a_b_conflict1_conflict2=a_b_conflict1"
            ]
        );
    }
}
