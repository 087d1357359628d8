//! Go's `strconv.ParseFloat`, for the values kube-state-metrics parses with it.

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
