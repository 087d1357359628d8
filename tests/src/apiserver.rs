//! The kube-apiserver's own `/metrics`, read through a client, so request and watch figures
//! come from the server side: `apiserver_request_total` by verb and resource, watchers held.
//!
//! The reader is lenient (it keeps the samples of the names asked for and skips the rest),
//! unlike [`crate::exposition`], which checks the agent's output.

use std::collections::BTreeMap;

use kube::Client;

/// One sample: its labels and value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    /// Labels by name.
    pub labels: BTreeMap<String, String>,
    /// Value.
    pub value: f64,
}

/// The samples of some metric names from one read of the apiserver's `/metrics`.
#[derive(Clone, Debug, Default)]
pub struct ApiserverMetrics {
    samples: BTreeMap<String, Vec<Sample>>,
}

impl ApiserverMetrics {
    /// Reads `/metrics` and keeps the samples of `names`.
    ///
    /// # Errors
    /// When the request fails.
    pub async fn read(client: &Client, names: &[&str]) -> anyhow::Result<ApiserverMetrics> {
        let text = client
            .request_text(crate::cluster::http_get("/metrics"))
            .await?;
        Ok(ApiserverMetrics::parse(&text, names))
    }

    /// The samples of `names` in `text`.
    pub fn parse(text: &str, names: &[&str]) -> ApiserverMetrics {
        let mut samples: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name_end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..name_end];
            if !names.contains(&name) {
                continue;
            }
            let (labels, rest) = match line[name_end..].strip_prefix('{') {
                Some(body) => match parse_labels(body) {
                    Some(parsed) => parsed,
                    None => continue,
                },
                None => (BTreeMap::new(), &line[name_end..]),
            };
            let Some(value) = rest.split_whitespace().next().and_then(|v| v.parse().ok()) else {
                continue;
            };
            samples
                .entry(name.to_string())
                .or_default()
                .push(Sample { labels, value });
        }
        ApiserverMetrics { samples }
    }

    /// The samples of `name` whose labels include every pair of `filter`.
    pub fn matching<'a>(
        &'a self,
        name: &str,
        filter: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples
            .get(name)
            .into_iter()
            .flatten()
            .filter(move |s| {
                filter
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
    }

    /// The sum of `name`'s samples matching `filter`.
    pub fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.matching(name, filter).map(|s| s.value).sum()
    }

    /// The sums of `name`'s samples matching `filter`, by the values of `keys`.
    pub fn sum_by(
        &self,
        name: &str,
        keys: &[&str],
        filter: &[(&str, &str)],
    ) -> BTreeMap<Vec<String>, f64> {
        let mut out = BTreeMap::new();
        for s in self.matching(name, filter) {
            let key = keys
                .iter()
                .map(|k| s.labels.get(*k).cloned().unwrap_or_default())
                .collect();
            *out.entry(key).or_insert(0.0) += s.value;
        }
        out
    }
}

/// `k="v",…}` up to the closing brace, values unescaped; the rest of the line after it.
fn parse_labels(body: &str) -> Option<(BTreeMap<String, String>, &str)> {
    let mut labels = BTreeMap::new();
    let mut rest = body;
    loop {
        rest = rest.trim_start_matches(',');
        if let Some(after) = rest.strip_prefix('}') {
            return Some((labels, after));
        }
        let (key, after) = rest.split_once("=\"")?;
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            let (i, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break i,
                c => value.push(c),
            }
        };
        labels.insert(key.trim().to_string(), value);
        rest = &after[end + 1..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_counts_are_read_by_label_and_other_names_skipped() {
        let text = "# HELP apiserver_request_total x\n\
            apiserver_request_total{code=\"200\",resource=\"leases\",verb=\"PUT\"} 7\n\
            apiserver_request_total{code=\"200\",resource=\"leases\",verb=\"WATCH\"} 2\n\
            apiserver_request_total{code=\"201\",resource=\"pods\",verb=\"POST\"} 1\n\
            apiserver_registered_watchers{group=\"\",kind=\"Pod\",version=\"v1\"} 3\n\
            other_metric{path=\"/a,b\\\"c\"} 9\n";
        let m = ApiserverMetrics::parse(
            text,
            &["apiserver_request_total", "apiserver_registered_watchers"],
        );
        assert_eq!(
            m.sum("apiserver_request_total", &[("resource", "leases")]),
            9.0
        );
        assert_eq!(
            m.sum("apiserver_registered_watchers", &[("kind", "Pod")]),
            3.0
        );
        assert_eq!(m.sum("other_metric", &[]), 0.0);
        let by = m.sum_by(
            "apiserver_request_total",
            &["verb"],
            &[("resource", "leases")],
        );
        assert_eq!(by.get(&vec!["PUT".to_string()]), Some(&7.0));
    }
}
