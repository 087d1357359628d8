//! What a JSON value becomes in a sample: a number for the sample's value ([`to_float`]) or a
//! text for a label ([`label_text`]), each exactly as kube-state-metrics converts it.
//!
//! Mirrors `toFloat64` and the `fmt.Sprintf("%v", …)` of `addPathLabels`
//! (`pkg/customresourcestate/registry_factory.go`). Objects arrive the way client-go's
//! unstructured decoder leaves them: integers as int64, other numbers as float64, which is what
//! `serde_json` keeps apart too.

use serde_json::Value;

use super::quantity;
use crate::exposition::write_float;

/// Why a value cannot become a sample's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// The value is absent or `null` and `nilIsZero` is not set.
    #[error("expected a number, found nothing")]
    Nil,
    /// A string that is none of the forms kube-state-metrics reads.
    #[error("{0:?} is not a number, boolean, RFC 3339 time, quantity or percentage")]
    Unparsable(String),
    /// A map or a list.
    #[error("expected a number, found {0}")]
    NotScalar(&'static str),
}

/// `toFloat64` for a value that is present: booleans are 0/1; strings go through the
/// condition words (`true`/`yes` → 1, `false`/`no`/`unknown` → 0, any case), RFC 3339 times
/// (unix seconds), quantities (`250m`, `1Gi`), whole percentages (`50%` → 0.5) and finally Go's
/// `strconv.ParseFloat`, in that order.
///
/// # Errors
/// [`ConversionError`] when no reading applies.
pub fn to_float(value: &Value) -> Result<f64, ConversionError> {
    match value {
        Value::Null => Err(ConversionError::Nil),
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => Ok(number(n)),
        Value::String(s) => string_to_float(s),
        Value::Array(_) => Err(ConversionError::NotScalar("a list")),
        Value::Object(_) => Err(ConversionError::NotScalar("a map")),
    }
}

/// [`to_float`] where absence reads as 0 when `nil_is_zero`.
///
/// # Errors
/// [`ConversionError::Nil`] for an absent value without `nil_is_zero`, else as [`to_float`].
pub fn to_float_or_nil(value: Option<&Value>, nil_is_zero: bool) -> Result<f64, ConversionError> {
    match value.filter(|v| !v.is_null()) {
        Some(v) => to_float(v),
        None if nil_is_zero => Ok(0.0),
        None => Err(ConversionError::Nil),
    }
}

fn number(n: &serde_json::Number) -> f64 {
    // An int64 or a float64 in Go: both convert to the nearest double.
    n.as_i64()
        .map(|i| {
            #[allow(clippy::cast_precision_loss, reason = "Go's float64(int64)")]
            let f = i as f64;
            f
        })
        .or_else(|| n.as_f64())
        .unwrap_or(f64::NAN)
}

fn string_to_float(s: &str) -> Result<f64, ConversionError> {
    match s.to_lowercase().as_str() {
        "true" | "yes" => return Ok(1.0),
        "false" | "no" | "unknown" => return Ok(0.0),
        _ => {}
    }
    if let Some(seconds) = rfc3339_unix_seconds(s) {
        #[allow(clippy::cast_precision_loss, reason = "Go's float64(t.Unix())")]
        return Ok(seconds as f64);
    }
    if let Some(v) = quantity::approximate_f64(s) {
        return Ok(v);
    }
    if let Some(digits) = s.strip_suffix('%')
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
    {
        let v: f64 = digits
            .parse()
            .map_err(|_| ConversionError::Unparsable(s.to_owned()))?;
        return Ok(v / 100.0);
    }
    go_parse_float(s).ok_or_else(|| ConversionError::Unparsable(s.to_owned()))
}

/// Go's `strconv.ParseFloat(s, 64)` for decimal forms and `inf`/`nan`; an out-of-range
/// literal is an error there, not an infinity. Hexadecimal floats are not read (see the
/// compatibility notes).
fn go_parse_float(s: &str) -> Option<f64> {
    let v: f64 = s.parse().ok()?;
    let literal_infinity = s
        .trim_start_matches(['+', '-'])
        .to_ascii_lowercase()
        .starts_with("inf");
    (v.is_finite() || v.is_nan() || literal_infinity).then_some(v)
}

/// Go's `time.Parse(time.RFC3339, s)` followed by `Unix()`: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction (ignored: `Unix()` truncates toward the earlier second) and `Z` or `±hh:mm`.
pub fn rfc3339_unix_seconds(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = b.get(range)?;
        part.iter().all(u8::is_ascii_digit).then(|| {
            part.iter()
                .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'))
        })
    };
    let sep = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(sep(4, b'-') && sep(7, b'-') && sep(10, b'T') && sep(13, b':') && sep(16, b':')) {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix(['.', ',']) {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &frac[digits..];
    }
    let offset = match rest.as_bytes() {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2]
            if [h1, h2, m1, m2].iter().all(|d| d.is_ascii_digit()) =>
        {
            let hours = i64::from((h1 - b'0') * 10 + (h2 - b'0'));
            let minutes = i64::from((m1 - b'0') * 10 + (m2 - b'0'));
            if hours > 23 || minutes > 59 {
                return None;
            }
            let off = hours * 3600 + minutes * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Appends `value` as Go's `fmt.Sprintf("%v", value)` prints an unstructured value: strings
/// bare, numbers in `%g`'s shortest form, `map[k:v …]` with sorted keys, `[a b]`, `<nil>`.
pub fn label_text(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::String(s) => out.push_str(s),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                out.push_str(&i.to_string());
            } else {
                go_g(number(n), out);
            }
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                label_text(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // serde_json's map iterates in key order, as fmt prints a map.
            out.push_str("map[");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(k);
                out.push(':');
                label_text(v, out);
            }
            out.push(']');
        }
    }
}

/// `strconv.FormatFloat(v, 'g', -1, 64)`: the sample writer's form, except that `-0` keeps
/// its sign.
fn go_g(v: f64, out: &mut String) {
    if v == 0.0 && v.is_sign_negative() {
        out.push_str("-0");
        return;
    }
    let mut buf = Vec::new();
    write_float(&mut buf, v);
    out.push_str(&String::from_utf8_lossy(&buf));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(v: Value) -> Result<f64, ConversionError> {
        to_float(&v)
    }

    #[test]
    fn condition_words_are_read_in_any_case() {
        for (s, want) in [
            ("True", 1.0),
            ("YES", 1.0),
            ("true", 1.0),
            ("False", 0.0),
            ("no", 0.0),
            ("Unknown", 0.0),
        ] {
            assert_eq!(f(json!(s)), Ok(want), "{s}");
        }
        assert_eq!(f(json!(true)), Ok(1.0));
        assert_eq!(f(json!(false)), Ok(0.0));
    }

    #[test]
    fn times_quantities_percentages_and_numbers_convert_in_that_order() {
        // registry_factory_test.go: "timestamp", "percentage".
        assert_eq!(f(json!("2022-06-28T00:00:00Z")), Ok(1_656_374_400.0));
        assert_eq!(
            f(json!("2022-06-28T02:00:00.999+02:00")),
            Ok(1_656_374_400.0)
        );
        assert_eq!(f(json!("1969-12-31T23:59:59.5Z")), Ok(-1.0));
        assert_eq!(f(json!("28%")), Ok(0.28));
        assert_eq!(f(json!("39%")), Ok(0.39));
        assert_eq!(f(json!("250m")), Ok(0.25));
        assert_eq!(f(json!("1.5e3")), Ok(1500.0));
        assert_eq!(f(json!("NaN")).map(f64::is_nan), Ok(true));
        assert_eq!(f(json!("-Inf")), Ok(f64::NEG_INFINITY));
        assert_eq!(f(json!(43.21)), Ok(43.21));
        assert_eq!(f(json!(-7)), Ok(-7.0));
    }

    #[test]
    fn what_no_reading_accepts_is_an_error() {
        for s in ["Pending", "12.5%", "%", "2022-13-01T00:00:00Z", "0x10", ""] {
            assert!(
                matches!(f(json!(s)), Err(ConversionError::Unparsable(_))),
                "{s:?}"
            );
        }
        // A huge exponent is a valid quantity, whose approximate float is infinite.
        assert_eq!(f(json!("1e400")), Ok(f64::INFINITY));
        assert_eq!(f(json!({})), Err(ConversionError::NotScalar("a map")));
        assert_eq!(f(json!([1])), Err(ConversionError::NotScalar("a list")));
        assert_eq!(to_float_or_nil(None, false), Err(ConversionError::Nil));
        assert_eq!(to_float_or_nil(Some(&Value::Null), true), Ok(0.0));
    }

    #[test]
    fn rfc3339_needs_the_strict_shape() {
        assert_eq!(rfc3339_unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_unix_seconds("2024-02-29T12:00:00-01:30"),
            Some(1_709_213_400)
        );
        for s in [
            "2023-02-29T00:00:00Z",
            "2022-06-28t00:00:00Z",
            "2022-06-28T00:00:00z",
            "2022-06-28T00:00:00",
            "2022-06-28T00:00:00.Z",
            "2022-06-28 00:00:00Z",
        ] {
            assert_eq!(rfc3339_unix_seconds(s), None, "{s}");
        }
    }

    #[test]
    fn label_text_prints_like_go_percent_v() {
        let text = |v: Value| {
            let mut s = String::new();
            label_text(&v, &mut s);
            s
        };
        assert_eq!(text(json!("x")), "x");
        assert_eq!(text(json!(1)), "1");
        assert_eq!(text(json!(1.5)), "1.5");
        assert_eq!(text(json!(1e21)), "1e+21");
        assert_eq!(text(json!(2_000_000.5)), "2.0000005e+06");
        assert_eq!(text(json!(false)), "false");
        assert_eq!(text(json!(-0.0)), "-0");
        assert_eq!(text(json!(["a", 1, null])), "[a 1 <nil>]");
        assert_eq!(text(json!({"b": {"c": 2}, "a": 1})), "map[a:1 b:map[c:2]]");
    }
}
