//! Kubernetes resource quantities (`resource.Quantity`), read and rounded as apimachinery does,
//! and the resource-name classes kube-state-metrics' helpers test.

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
    crate::names::is_qualified_name(&format!("requests.{name}"))
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
    fn extended_resources_are_recognised() {
        assert!(is_extended_resource("nvidia.com/gpu"));
        assert!(!is_extended_resource("cpu"));
        assert!(!is_extended_resource("kubernetes.io/something"));
        assert!(is_huge_page("hugepages-2Mi"));
        assert!(is_attachable_volume("attachable-volumes-aws-ebs"));
    }
}
