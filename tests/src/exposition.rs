//! A strict reader of the Prometheus text format 0.0.4, for assertions on scrapes.
//!
//! It rejects what the agent must never produce: a family whose HELP/TYPE appear twice or after
//! its samples, a sample whose family was not announced, samples of one family split by
//! another, a malformed line. Label values are unescaped.

use std::collections::{BTreeMap, BTreeSet, HashSet};

/// One sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Metric name.
    pub name: String,
    /// Labels, in the order written.
    pub labels: Vec<(String, String)>,
    /// Value.
    pub value: f64,
}

impl Sample {
    /// The value of label `k`.
    pub fn label(&self, k: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    }

    /// The sample as one line: name, labels in their order (values quoted), value.
    pub fn line(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v:?}"))
            .collect();
        format!("{}{{{}}} {}", self.name, labels.join(","), self.value)
    }
}

/// A parsed scrape.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    /// Family name → TYPE.
    pub types: BTreeMap<String, String>,
    /// Every sample, in order.
    pub samples: Vec<Sample>,
}

impl Exposition {
    /// Parses and checks `text`.
    ///
    /// # Errors
    /// The first violation, with its line number.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut out = Exposition::default();
        let mut helped: HashSet<String> = HashSet::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut current: Option<String> = None;
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            if line.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap_or("").to_string();
                if !helped.insert(name.clone()) {
                    return Err(format!("line {n}: HELP for {name} appears twice"));
                }
                if let Some(prev) = current.replace(name) {
                    finished.insert(prev);
                }
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut parts = rest.split(' ');
                let name = parts.next().unwrap_or("").to_string();
                let ty = parts.next().ok_or(format!("line {n}: TYPE without type"))?;
                if out.types.insert(name.clone(), ty.to_string()).is_some() {
                    return Err(format!("line {n}: TYPE for {name} appears twice"));
                }
                if current.as_deref() != Some(name.as_str())
                    && let Some(prev) = current.replace(name)
                {
                    finished.insert(prev);
                }
                continue;
            }
            if line.starts_with('#') {
                continue;
            }
            let sample = parse_sample(line).map_err(|e| format!("line {n}: {e}: {line}"))?;
            let family = family_of(&sample.name, &out.types);
            if current.as_deref() != Some(family.as_str()) {
                return Err(format!(
                    "line {n}: sample of {family} outside its family block (current {current:?})"
                ));
            }
            if finished.contains(&family) {
                return Err(format!("line {n}: {family} continues after another family"));
            }
            out.samples.push(sample);
        }
        Ok(out)
    }

    /// Samples of metric `name`.
    pub fn samples_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |s| s.name == name)
    }

    /// Every sample as one line (name, labels in their order, value), so that two scrapes
    /// compare as sets.
    pub fn sample_lines(&self) -> BTreeSet<String> {
        self.samples.iter().map(Sample::line).collect()
    }

    /// The distinct values of label `label` over metric `name`.
    pub fn label_values(&self, name: &str, label: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .samples_of(name)
            .filter_map(|s| s.label(label).map(str::to_string))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}

/// Checks that `parts` (the scrapes of sharded instances) together export exactly the samples
/// of `expected` (the scrape of one unsharded instance), each exactly once, among the samples
/// `keep` selects; `keep` selecting none of `expected`'s is a failure too, so the check never
/// passes on empty output.
///
/// # Errors
/// What differs: how many samples were exported twice, and a few missing and extra ones.
pub fn exported_exactly_once(
    parts: &[Exposition],
    expected: &Exposition,
    keep: impl Fn(&Sample) -> bool,
) -> Result<usize, String> {
    let expected: BTreeSet<String> = expected
        .samples
        .iter()
        .filter(|s| keep(s))
        .map(Sample::line)
        .collect();
    if expected.is_empty() {
        return Err("the unsharded scrape has no sample to compare".into());
    }
    let together: Vec<String> = parts
        .iter()
        .flat_map(|p| p.samples.iter().filter(|s| keep(s)).map(Sample::line))
        .collect();
    let exported = together.len();
    let together: BTreeSet<String> = together.into_iter().collect();
    let twice = exported - together.len();
    if together == expected && twice == 0 {
        return Ok(expected.len());
    }
    let missing: Vec<_> = expected.difference(&together).take(3).collect();
    let extra: Vec<_> = together.difference(&expected).take(3).collect();
    Err(format!(
        "{twice} samples exported twice; missing {missing:?}; not in the unsharded scrape {extra:?}"
    ))
}

fn family_of(sample: &str, types: &BTreeMap<String, String>) -> String {
    if types.contains_key(sample) {
        return sample.to_string();
    }
    for suffix in ["_bucket", "_sum", "_count", "_total", "_info", "_created"] {
        if let Some(base) = sample.strip_suffix(suffix)
            && types.contains_key(base)
        {
            return base.to_string();
        }
    }
    sample.to_string()
}

fn parse_sample(line: &str) -> Result<Sample, String> {
    let name_end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return Err(format!("bad metric name {name:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        rest = r;
        loop {
            if let Some(r) = rest.strip_prefix('}') {
                rest = r;
                break;
            }
            let eq = rest.find('=').ok_or("label without '='")?;
            let key = &rest[..eq];
            if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("bad label name {key:?}"));
            }
            rest = rest[eq + 1..]
                .strip_prefix('"')
                .ok_or("label value not quoted")?;
            let mut value = String::new();
            let mut chars = rest.char_indices();
            let end = loop {
                match chars.next() {
                    Some((_, '\\')) => match chars.next() {
                        Some((_, 'n')) => value.push('\n'),
                        Some((_, '\\')) => value.push('\\'),
                        Some((_, '"')) => value.push('"'),
                        other => return Err(format!("bad escape {other:?}")),
                    },
                    Some((i, '"')) => break i,
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value".into()),
                }
            };
            labels.push((key.to_string(), value));
            rest = &rest[end + 1..];
            if let Some(r) = rest.strip_prefix(',') {
                rest = r;
            }
        }
    }
    let value = rest.trim_start_matches(' ');
    let value = value.split(' ').next().unwrap_or("");
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| format!("bad value {v:?}"))?,
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_families_and_unescapes_labels() {
        let e = Exposition::parse(
            "# HELP a A.\n# TYPE a gauge\na{x=\"q\\\"\\n\\\\\"} 1\na 2e+09\n# HELP b B.\n# TYPE b counter\nb_total 3\n",
        )
        .unwrap();
        assert_eq!(e.samples.len(), 3);
        assert_eq!(e.samples[0].label("x"), Some("q\"\n\\"));
        assert_eq!(e.samples[1].value, 2e9);
    }

    #[test]
    fn rejects_split_or_repeated_families() {
        assert!(Exposition::parse("# HELP a A.\n# TYPE a gauge\n# HELP a A.\n").is_err());
        assert!(
            Exposition::parse(
                "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na 2\n"
            )
            .is_err()
        );
        assert!(Exposition::parse("c 1\n").is_err(), "unannounced family");
        assert!(Exposition::parse("# HELP a A.\n# TYPE a gauge\na{x=\"1} 1\n").is_err());
    }
}
