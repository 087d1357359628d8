//! apimachinery's `resource.ParseQuantity` followed by `AsApproximateFloat64`, the exact
//! arithmetic included, because a gauge's value is printed with every digit: `"100m"` must give
//! the same double (`0.1`) that kube-state-metrics prints.
//!
//! This is not `resources::common::quantity`: that one serves the built-in kinds, which read
//! `Value()` and `MilliValue()`; custom resources read the approximate float, whose rounding
//! (nano-scale round-up, the int64 fast path, Go's `math.Pow10`) is reproduced here step by step.
//! Reference: `k8s.io/apimachinery/pkg/api/resource/quantity.go` (`ParseQuantity`,
//! `parseQuantityString`, `AsApproximateFloat64`) and `suffix.go`.

/// The value of `s` as kube-state-metrics reads a quantity string, or `None` when
/// apimachinery refuses it.
pub fn approximate_f64(s: &str) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    if s == "0" {
        return Some(0.0);
    }
    let parts = split(s)?;
    let (base, exponent, format) = interpret_suffix(parts.suffix)?;

    let precision: i32;
    let mut scale: i32 = 0;
    let mut mantissa: i64 = 1;
    let (num, denom) = (parts.num, parts.denom);
    let digits = i32::try_from(num.len() + denom.len()).ok()?;
    match format {
        Format::Decimal => {
            scale = exponent;
            precision = MAX_INT64_FACTORS - digits;
        }
        Format::Binary => {
            if exponent >= 0 && denom.is_empty() {
                mantissa <<= exponent;
                // Go computes `int32(float32(exponent)*3/10)`; exponents are at most 60.
                #[allow(clippy::cast_possible_truncation, reason = "as Go truncates")]
                let decimal_digits = (exponent as f32 * 3.0 / 10.0) as i32;
                precision = 15 - i32::try_from(num.len()).ok()? - decimal_digits - 1;
            } else {
                precision = -1;
            }
        }
    }
    if precision >= 0 {
        scale -= i32::try_from(denom.len()).ok()?;
        if scale >= NANO {
            // At most 18 digits: always an int64.
            let value: i64 = format!("{num}{denom}").parse().ok()?;
            if let Some(result) = value.checked_mul(mantissa) {
                let result = if parts.positive { result } else { -result };
                #[allow(clippy::cast_precision_loss, reason = "Go's float64(int64)")]
                return Some(scaled(result as f64, scale));
            }
        }
    }
    exact(&parts, base, exponent, format)
}

/// apimachinery's `maxInt64Factors`: decimal digits that always fit an int64.
const MAX_INT64_FACTORS: i32 = 18;
/// apimachinery's `Nano` scale, the finest a quantity keeps.
const NANO: i32 = -9;

#[derive(Clone, Copy, PartialEq)]
enum Format {
    /// SI suffixes and `e<n>` exponents.
    Decimal,
    /// `Ki` … `Ei`.
    Binary,
}

struct Parts<'s> {
    positive: bool,
    /// Sign, integer digits and fraction as written (`-01.50`).
    value: &'s str,
    /// Integer digits without leading zeros, `"0"` when none remain.
    num: &'s str,
    denom: &'s str,
    suffix: &'s str,
}

/// `parseQuantityString`: splits sign, digits, fraction and suffix, refusing what cannot be a
/// suffix.
fn split(s: &str) -> Option<Parts<'_>> {
    let b = s.as_bytes();
    let end = b.len();
    let mut pos = 0;
    let mut positive = true;
    match b.first() {
        Some(b'-') => {
            positive = false;
            pos += 1;
        }
        Some(b'+') => pos += 1,
        _ => {}
    }
    while pos < end && b[pos] == b'0' {
        pos += 1;
    }
    if pos >= end {
        return Some(Parts {
            positive,
            value: "0",
            num: "0",
            denom: "",
            suffix: "",
        });
    }
    let num_start = pos;
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    let mut num = &s[num_start..pos];
    if pos >= end {
        return Some(Parts {
            positive,
            value: s,
            num,
            denom: "",
            suffix: "",
        });
    }
    if num.is_empty() {
        num = "0";
    }
    let mut denom = "";
    if b[pos] == b'.' {
        pos += 1;
        let denom_start = pos;
        while pos < end && b[pos].is_ascii_digit() {
            pos += 1;
        }
        denom = &s[denom_start..pos];
        if pos >= end {
            return Some(Parts {
                positive,
                value: s,
                num,
                denom,
                suffix: "",
            });
        }
    }
    let value = &s[..pos];
    let suffix_start = pos;
    while pos < end && b"eEinumkKMGTP".contains(&b[pos]) {
        pos += 1;
    }
    if pos < end && (b[pos] == b'-' || b[pos] == b'+') {
        pos += 1;
    }
    while pos < end && b[pos].is_ascii_digit() {
        pos += 1;
    }
    if pos < end {
        return None;
    }
    Some(Parts {
        positive,
        value,
        num,
        denom,
        suffix: &s[suffix_start..],
    })
}

/// `quantitySuffixer.interpret`: base, exponent and format of a suffix.
fn interpret_suffix(suffix: &str) -> Option<(u32, i32, Format)> {
    let decimal = match suffix {
        "n" => Some(-9),
        "u" => Some(-6),
        "m" => Some(-3),
        "" => Some(0),
        "k" => Some(3),
        "M" => Some(6),
        "G" => Some(9),
        "T" => Some(12),
        "P" => Some(15),
        "E" => Some(18),
        _ => None,
    };
    if let Some(e) = decimal {
        return Some((10, e, Format::Decimal));
    }
    let binary = match suffix {
        "Ki" => Some(10),
        "Mi" => Some(20),
        "Gi" => Some(30),
        "Ti" => Some(40),
        "Pi" => Some(50),
        "Ei" => Some(60),
        _ => None,
    };
    if let Some(e) = binary {
        return Some((2, e, Format::Binary));
    }
    let exp = suffix.strip_prefix(['e', 'E']).filter(|e| !e.is_empty())?;
    let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let parsed: i64 = exp.parse().ok()?;
    // Go converts with `int32(parsed)`, wrapping.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "as Go's int32() conversion"
    )]
    Some((10, parsed as i32, Format::Decimal))
}

/// The `inf.Dec` path of `ParseQuantity`: the exact value, rounded up (away from zero) to nano
/// scale, capped for binary quantities, then `AsApproximateFloat64`.
fn exact(parts: &Parts<'_>, base: u32, exponent: i32, format: Format) -> Option<f64> {
    let digits = parts.value.trim_start_matches(['+', '-']);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        // `inf.Dec.SetString` refuses a value without digits.
        return None;
    }
    let (Ok(mut unscaled), Ok(mut scale)) = (
        format!("{int}{frac}").parse::<u128>(),
        i32::try_from(frac.len()),
    ) else {
        return Some(fallback(parts, base, exponent));
    };
    if base == 10 {
        scale -= exponent;
    } else {
        match u32::try_from(exponent)
            .ok()
            .and_then(|e| 1u128.checked_shl(e))
            .and_then(|m| unscaled.checked_mul(m))
        {
            Some(v) => unscaled = v,
            None => return Some(fallback(parts, base, exponent)),
        }
    }
    if unscaled != 0 {
        // inf.Dec.Round(amount, 9, RoundUp) always leaves scale 9.
        let shift = scale + NANO;
        if shift > 0 {
            unscaled = match 10u128.checked_pow(shift.unsigned_abs()) {
                Some(div) => unscaled.div_ceil(div),
                // Far below a nano: rounds up to one.
                None => 1,
            };
        } else if shift < 0 {
            match 10u128
                .checked_pow(shift.unsigned_abs())
                .and_then(|m| unscaled.checked_mul(m))
            {
                Some(v) => unscaled = v,
                None => return Some(fallback(parts, base, exponent)),
            }
        }
        scale = -NANO;
    }
    // BinarySI amounts above MaxInt64 are capped to it (`maxAllowed`, scale 0).
    const MAX_ALLOWED: u128 = i64::MAX as u128;
    if format == Format::Binary && exceeds(unscaled, scale, MAX_ALLOWED) {
        unscaled = MAX_ALLOWED;
        scale = 0;
    }
    #[allow(
        clippy::cast_precision_loss,
        reason = "big.Float.Float64 rounds the same way"
    )]
    let base = unscaled as f64;
    let base = if parts.positive { base } else { -base };
    Some(scaled(base, -scale))
}

/// Whether `unscaled / 10^scale > limit`.
fn exceeds(unscaled: u128, scale: i32, limit: u128) -> bool {
    let factor = 10u128.checked_pow(scale.unsigned_abs());
    if scale >= 0 {
        factor
            .and_then(|d| limit.checked_mul(d))
            .is_some_and(|l| unscaled > l)
    } else {
        factor
            .and_then(|m| unscaled.checked_mul(m))
            .is_none_or(|v| v > limit)
    }
}

/// Quantities too large for 128 bits: the plain float reading. kube-state-metrics would do the
/// same arithmetic in big integers; the last digit may differ.
fn fallback(parts: &Parts<'_>, base: u32, exponent: i32) -> f64 {
    let v: f64 = parts.value.parse().unwrap_or(0.0);
    if base == 10 {
        v * go_pow10(exponent)
    } else {
        v * 2f64.powi(exponent)
    }
}

/// `AsApproximateFloat64`'s last step: `base * math.Pow10(exponent)`, `base` alone at 0.
fn scaled(base: f64, exponent: i32) -> f64 {
    if exponent == 0 {
        base
    } else {
        base * go_pow10(exponent)
    }
}

/// Go's `math.Pow10`, table for table, so products round as they do in Go.
fn go_pow10(n: i32) -> f64 {
    const TAB: [f64; 32] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
        1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31,
    ];
    const POS32: [f64; 10] = [
        1e0, 1e32, 1e64, 1e96, 1e128, 1e160, 1e192, 1e224, 1e256, 1e288,
    ];
    const NEG32: [f64; 11] = [
        1e-0, 1e-32, 1e-64, 1e-96, 1e-128, 1e-160, 1e-192, 1e-224, 1e-256, 1e-288, 1e-320,
    ];
    let i = n.unsigned_abs() as usize;
    if (0..=308).contains(&n) {
        POS32[i / 32] * TAB[i % 32]
    } else if (-323..=0).contains(&n) {
        NEG32[i / 32] / TAB[i % 32]
    } else if n > 0 {
        f64::INFINITY
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::approximate_f64 as q;

    #[test]
    fn milli_and_binary_quantities_read_as_in_kube_state_metrics_tests() {
        // registry_factory_test.go: "quantity_milli" and "quantity_binarySI".
        assert_eq!(q("250m"), Some(0.25));
        assert_eq!(q("5Gi"), Some(5_368_709_120.0));
        assert_eq!(q("100m"), Some(0.1));
        assert_eq!(q("262144k"), Some(262_144_000.0));
        assert_eq!(q("1"), Some(1.0));
        assert_eq!(q("43.21"), Some(43.21));
    }

    #[test]
    fn exponents_signs_and_the_slow_path_agree_with_apimachinery() {
        assert_eq!(q("1e3"), Some(1000.0));
        assert_eq!(q("1E-3"), Some(0.001));
        assert_eq!(q("-2k"), Some(-2000.0));
        assert_eq!(q("+5"), Some(5.0));
        assert_eq!(q(".5"), Some(0.5));
        assert_eq!(q("1."), Some(1.0));
        // A fraction with a binary suffix takes the exact path.
        assert_eq!(q("1.5Gi"), Some(1_610_612_736.0));
        // Below a nano, the exact path rounds up to one nano.
        assert_eq!(q("0.0000000001"), Some(1e-9));
        // A bare suffix is a zero quantity for apimachinery.
        assert_eq!(q("m"), Some(0.0));
        assert_eq!(q("000"), Some(0.0));
    }

    #[test]
    fn what_apimachinery_refuses_is_refused() {
        for s in [
            "", "Pending", "abc", "1 ", " 1", "1x", "e", "1e", "1Gb", "50%", "1.2.3",
        ] {
            assert_eq!(q(s), None, "{s:?}");
        }
    }
}
