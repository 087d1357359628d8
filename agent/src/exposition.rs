//! Prometheus text exposition primitives: number formatting, label escaping, label-name
//! sanitizing and the [`Series`] writer that family functions render into.
//!
//! Everything here writes into a caller's `Vec<u8>` and cannot fail. It must not know about
//! Kubernetes objects, watches or HTTP. Byte-for-byte compatibility with kube-state-metrics is
//! the point of this module: each function names the upstream code it reproduces.

use std::fmt::Write as _;

use crate::config::KeyAllowlist;

/// The type a family declares in its `# TYPE` line.
///
/// `Info` and `StateSet` are written as `gauge` in the text format 0.0.4 and kept as they are
/// when OpenMetrics is negotiated, as kube-state-metrics' `SanitizeHeaders` does
/// (`pkg/metrics_store/metrics_writer.go`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricType {
    /// A value that goes up and down.
    Gauge,
    /// A monotonically increasing value.
    Counter,
    /// A constant 1 carrying information in its labels.
    Info,
    /// One series per possible state, exactly one of which is 1.
    StateSet,
}

impl MetricType {
    /// The `# TYPE` word for the text format 0.0.4.
    pub fn text_name(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge | MetricType::Info | MetricType::StateSet => "gauge",
        }
    }

    /// The `# TYPE` word for OpenMetrics.
    pub fn openmetrics_name(self) -> &'static str {
        match self {
            MetricType::Gauge => "gauge",
            MetricType::Counter => "counter",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
        }
    }

    /// The `# TYPE` word in `format`.
    pub fn name_in(self, format: Format) -> &'static str {
        match format {
            Format::Text => self.text_name(),
            Format::OpenMetrics => self.openmetrics_name(),
        }
    }

    /// Writes the family's `# TYPE` line: `# TYPE <family> <word>` and a newline.
    pub fn write_type_line(self, out: &mut Vec<u8>, family: &str, format: Format) {
        out.extend_from_slice(b"# TYPE ");
        out.extend_from_slice(family.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.name_in(format).as_bytes());
        out.push(b'\n');
    }

    /// The name `# HELP` and `# TYPE` give the family whose samples are named `sample_name`.
    ///
    /// OpenMetrics names a counter family without the `_total` its samples carry
    /// (`# TYPE kube_pod_container_status_restarts counter` above
    /// `kube_pod_container_status_restarts_total{…}`), and a strict parser rejects a family
    /// declared under its samples' name. The text format 0.0.4 declares the samples' name, as
    /// kube-state-metrics does in both formats (Prometheus accepts either).
    pub fn family_name(self, sample_name: &str, format: Format) -> &str {
        match (self, format) {
            (MetricType::Counter, Format::OpenMetrics) => {
                sample_name.strip_suffix("_total").unwrap_or(sample_name)
            }
            _ => sample_name,
        }
    }
}

/// The exposition format negotiated with a scraper.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain; version=0.0.4`.
    Text,
    /// `application/openmetrics-text; version=1.0.0`.
    OpenMetrics,
}

/// The stability level of a family, as kube-state-metrics declares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stability {
    /// Covered by kube-state-metrics' stability guarantees; its HELP starts with `[STABLE]`.
    Stable,
    /// May change between releases; HELP has no prefix.
    Experimental,
}

/// Appends `v` the way kube-state-metrics' `writeFloat` does (`pkg/metric/metric.go`): `0`, `1`
/// and `-1` literally, `NaN`, `+Inf`, `-Inf`, else Go's `strconv.AppendFloat(v, 'g', -1, 64)`.
///
/// Go's shortest `'g'` switches to exponent form when the decimal exponent is below -4 or at
/// least 6 (Go's `eprec = 6` for precision -1), so `100000`, `1e+06` and `1.501569018e+09` are
/// what Prometheus users see from KSM, and what they see from us.
pub fn write_float(out: &mut Vec<u8>, v: f64) {
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    if v == 1.0 {
        out.push(b'1');
        return;
    }
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
        return;
    }
    // Fast path: integers below 1e6 print the same in every form.
    if v.fract() == 0.0 && v.abs() < 1e6 {
        let mut buf = itoa_buf();
        out.extend_from_slice(fmt_i64(&mut buf, v as i64));
        return;
    }
    let neg = v < 0.0;
    // Integers below 2^53 (timestamps, byte counts) are exact, and neighbouring doubles are at
    // most 1 apart, so their shortest round-trip digits are their decimal digits without
    // trailing zeros: no float formatting needed.
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        let mut buf = itoa_buf();
        let all = fmt_i64(&mut buf, (v as i64).abs());
        let exp = all.len() as i32 - 1;
        let digits = &all[..all.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1)];
        write_go_g(out, neg, digits, exp);
        return;
    }
    // Rust's `{:e}` yields the shortest round-trip digits, like Go's precision -1.
    let mut sci = StackText::default();
    let _ = write!(sci, "{:e}", v.abs());
    let sci = sci.as_str();
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let mut digits = [0u8; 20];
    let mut n = 0;
    for d in mantissa.bytes().filter(|c| *c != b'.') {
        digits[n] = d;
        n += 1;
    }
    write_go_g(out, neg, &digits[..n], exp);
}

/// Lays out shortest decimal `digits` (no trailing zeros, first digit non-zero) with decimal
/// exponent `exp` as Go's `'g'` with precision -1 does.
fn write_go_g(out: &mut Vec<u8>, neg: bool, digits: &[u8], exp: i32) {
    if neg {
        out.push(b'-');
    }
    if !(-4..6).contains(&exp) {
        // %e: d[.ddd]e±XX with at least two exponent digits.
        out.push(digits[0]);
        if digits.len() > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        let mut buf = itoa_buf();
        out.extend_from_slice(fmt_i64(&mut buf, i64::from(e)));
    } else if exp < 0 {
        // 0.000ddd
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(digits);
    } else {
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(digits);
            for _ in digits.len()..int_len {
                out.push(b'0');
            }
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

/// A fixed buffer for formatting one float; `{:e}` of an f64 is at most 24 bytes.
#[derive(Default)]
struct StackText {
    buf: [u8; 32],
    len: usize,
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("only ASCII is written")
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn fmt_i64(buf: &mut [u8; 20], v: i64) -> &[u8] {
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Appends `s` escaped as a label value: backslash, double quote and newline, exactly the
/// three characters kube-state-metrics' `escapeString` replaces.
///
/// Label values are most of an object's rows and almost never hold any of the three, so one
/// branch-free pass (which the compiler vectorizes) decides, and a clean value is copied whole.
/// A search such as `memchr3` costs more than it saves on values this short.
pub fn write_label_value(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let needs_escape = bytes.iter().fold(false, |found, &b| {
        found | (b == b'\\') | (b == b'"') | (b == b'\n')
    });
    if !needs_escape {
        out.extend_from_slice(bytes);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            b'\n' => b"\\n",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Escapes HELP text for the text format: backslash and newline.
pub fn write_help_text(out: &mut Vec<u8>, s: &str) {
    for b in s.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            _ => out.push(b),
        }
    }
}

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, like kube-state-metrics'
/// `SanitizeLabelName` (`internal/store/utils.go`).
pub fn sanitize_label_name(name: &str) -> String {
    sanitized_label_name(name).into_owned()
}

/// [`sanitize_label_name`] that borrows `name` when it is a valid label name already (`cpu`,
/// `memory`: the common case when rendering), so rendering allocates only for the rest.
pub fn sanitized_label_name(name: &str) -> std::borrow::Cow<'_, str> {
    if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return std::borrow::Cow::Borrowed(name);
    }
    let owned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    std::borrow::Cow::Owned(owned)
}

/// Pre-rendered identity labels of one object (`namespace="…",pod="…",uid="…"`), written once
/// per object and copied in front of every sample's own labels.
#[derive(Debug, Default, Clone)]
pub struct Identity {
    rendered: Vec<u8>,
}

impl Identity {
    /// Renders the identity labels in the given order.
    pub fn new<'a>(labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut rendered = Vec::with_capacity(96);
        for (i, (k, v)) in labels.into_iter().enumerate() {
            if i > 0 {
                rendered.push(b',');
            }
            rendered.extend_from_slice(k.as_bytes());
            rendered.extend_from_slice(b"=\"");
            write_label_value(&mut rendered, v);
            rendered.push(b'"');
        }
        Identity { rendered }
    }

    /// The rendered bytes, without braces.
    pub fn as_bytes(&self) -> &[u8] {
        &self.rendered
    }
}

/// The samples one family renders for one object.
///
/// A family function only ever adds samples of its own family: the name and the identity
/// labels are put in front by the writer, in kube-state-metrics' order (identity first), so a
/// family function can neither misspell its name nor forget the object's identity.
pub struct Series<'a> {
    buf: &'a mut Vec<u8>,
    name: &'static str,
    identity: &'a Identity,
    context: &'a RenderContext,
}

impl<'a> Series<'a> {
    /// A writer appending `name{identity,…} value` lines to `buf`.
    pub fn new(
        buf: &'a mut Vec<u8>,
        name: &'static str,
        identity: &'a Identity,
        context: &'a RenderContext,
    ) -> Self {
        Series {
            buf,
            name,
            identity,
            context,
        }
    }

    /// Per-run settings that some families read (label and annotation allowlists).
    pub fn context(&self) -> &RenderContext {
        self.context
    }

    /// The family's name, for families whose labels depend on it.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// One sample with only the identity labels.
    pub fn value(&mut self, value: f64) {
        self.sample(std::iter::empty::<(&str, &str)>(), value);
    }

    /// One sample with the identity labels followed by `labels`, in the given order.
    pub fn sample<K, V>(&mut self, labels: impl IntoIterator<Item = (K, V)>, value: f64)
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let buf = &mut *self.buf;
        buf.extend_from_slice(self.name.as_bytes());
        let ident = self.identity.as_bytes();
        let mut open = false;
        if !ident.is_empty() {
            buf.push(b'{');
            buf.extend_from_slice(ident);
            open = true;
        }
        for (k, v) in labels {
            buf.push(if open { b',' } else { b'{' });
            open = true;
            buf.extend_from_slice(k.as_ref().as_bytes());
            buf.extend_from_slice(b"=\"");
            write_label_value(buf, v.as_ref());
            buf.push(b'"');
        }
        if open {
            buf.push(b'}');
        }
        buf.push(b' ');
        write_float(buf, value);
        buf.push(b'\n');
    }
}

/// Settings that change what some families render, fixed for the life of a watch.
#[derive(Debug, Default, Clone)]
pub struct RenderContext {
    /// Kubernetes label keys to expose in `kube_<kind>_labels`, for this kind.
    pub labels: KeyAllowlist,
    /// Annotation keys to expose in `kube_<kind>_annotations`, for this kind.
    pub annotations: KeyAllowlist,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(v: f64) -> String {
        let mut out = Vec::new();
        write_float(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn floats_print_like_go_shortest_g() {
        // Expected values are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints.
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-1.0, "-1"),
            (2.0, "2"),
            (0.2, "0.2"),
            (0.25, "0.25"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1e8, "1e+08"),
            (1.501569018e9, "1.501569018e+09"),
            (1501569018.0, "1.501569018e+09"),
            (268435456.0, "2.68435456e+08"),
            (1073741824.0, "1.073741824e+09"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (1.25e-7, "1.25e-07"),
            (123456.5, "123456.5"),
            (1234567.5, "1.2345675e+06"),
            (-2.5e10, "-2.5e+10"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (-42.0, "-42"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1732095480.0, "1.73209548e+09"),
            (-1732095481.0, "-1.732095481e+09"),
            (9007199254740991.0, "9.007199254740991e+15"),
            (9007199254740992.0, "9.007199254740992e+15"),
            (1e17, "1e+17"),
            (123456789012345680.0, "1.2345678901234568e+17"),
            (1000000.0, "1e+06"),
            (-1000000.0, "-1e+06"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::MIN_POSITIVE, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
        ];
        for (v, want) in cases {
            assert_eq!(float(*v), *want, "formatting {v:?}");
        }
    }

    #[test]
    fn label_values_escape_backslash_quote_and_newline_only() {
        let mut out = Vec::new();
        write_label_value(&mut out, "a\\b\"c\nd\te");
        assert_eq!(out, b"a\\\\b\\\"c\\nd\te");
    }

    #[test]
    fn a_clean_label_value_is_copied_whole_and_an_escape_at_either_end_is_kept() {
        for (value, want) in [
            ("registry.local/app:1.4.2", "registry.local/app:1.4.2"),
            ("", ""),
            ("\"quoted\"", "\\\"quoted\\\""),
            ("ends with a backslash\\", "ends with a backslash\\\\"),
        ] {
            let mut out = b"x=".to_vec();
            write_label_value(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), format!("x={want}"));
        }
    }

    #[test]
    fn a_valid_label_name_is_borrowed_and_only_others_are_rewritten() {
        assert!(matches!(
            sanitized_label_name("ephemeral_storage2"),
            std::borrow::Cow::Borrowed("ephemeral_storage2")
        ));
        assert_eq!(sanitized_label_name("nvidia.com/gpu"), "nvidia_com_gpu");
        assert_eq!(sanitized_label_name("hugepages-2Mi"), "hugepages_2Mi");
    }

    #[test]
    fn label_names_are_sanitized() {
        assert_eq!(
            sanitize_label_name("app.kubernetes.io/name"),
            "app_kubernetes_io_name"
        );
        assert_eq!(sanitize_label_name("ok_Name9"), "ok_Name9");
    }

    #[test]
    fn series_puts_identity_first_and_family_labels_after() {
        let ident = Identity::new([("namespace", "ns"), ("pod", "p\"1"), ("uid", "u")]);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        let mut s = Series::new(&mut buf, "kube_pod_status_phase", &ident, &ctx);
        s.sample([("phase", "Running")], 1.0);
        s.value(0.0);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "kube_pod_status_phase{namespace=\"ns\",pod=\"p\\\"1\",uid=\"u\",phase=\"Running\"} 1\n\
             kube_pod_status_phase{namespace=\"ns\",pod=\"p\\\"1\",uid=\"u\"} 0\n"
        );
    }

    #[test]
    fn openmetrics_names_a_counter_family_without_total_and_text_keeps_it() {
        let name = "kube_pod_container_status_restarts_total";
        assert_eq!(
            MetricType::Counter.family_name(name, Format::OpenMetrics),
            "kube_pod_container_status_restarts"
        );
        assert_eq!(MetricType::Counter.family_name(name, Format::Text), name);
        assert_eq!(
            MetricType::Gauge.family_name("kube_x_total", Format::OpenMetrics),
            "kube_x_total",
            "only counters lose the suffix"
        );
    }

    #[test]
    fn series_without_any_label_has_no_braces() {
        let ident = Identity::default();
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        Series::new(&mut buf, "m", &ident, &ctx).value(3.0);
        assert_eq!(buf, b"m 3\n");
    }
}
