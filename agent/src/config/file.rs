//! `--config FILE`: the same settings as the flags, in YAML, as kube-state-metrics' `--config`.
//!
//! Keys are KSM's (`pkg/options/options.go` yaml tags: `metric_denylist`, `labels_allow_list`,
//! `resources`, `port`, …); the flags' own names (`metric-denylist`, `metric-labels-allowlist`)
//! are accepted as well. List values take KSM's form (a mapping whose keys are the entries,
//! `resources: {pods: {}}`), a YAML sequence, or the flag's comma-separated string; the
//! label/annotation allowlists take KSM's mapping (`pods: [app, team]`) or the flag syntax.
//!
//! As in KSM, a value in the file overrides the same setting on the command line. Each load
//! starts again from the command line, so a key removed from the file falls back to its flag.
//! KSM options the agent does not have are accepted and reported in [`Config::warnings`];
//! any other key is an error, so a typo does not go unnoticed.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::allowlist::{self, LabelsAllowList};
use super::{ApiEncoding, Args, Config, Error, KindCatalog, Result, ScopeMode, parse_duration};

/// The file a [`Config`] was read with: where it is, the command line it was applied over
/// (to apply the next version of the file over), and the bytes that were read.
#[derive(Clone, Debug)]
pub struct ConfigFile {
    /// The file as given to `--config`.
    pub path: PathBuf,
    /// The command-line flags, before the file was applied.
    pub command_line: Args,
    /// The file's contents when it was read.
    pub contents: Vec<u8>,
}

/// Builds the config from `args`, applying the `--config` file when one is named.
///
/// # Errors
/// A flag with a bad value, or a config file that cannot be read, does not parse, or sets a
/// bad value (named with the file).
pub fn load(args: Args, kinds: &dyn KindCatalog) -> Result<Config> {
    let Some(path) = args.config.clone() else {
        return Config::from_args(args, kinds);
    };
    let contents = std::fs::read(&path).map_err(|e| Error::ConfigFile {
        path: path.clone(),
        reason: e.to_string(),
    })?;
    load_contents(args, &path, contents, kinds)
}

/// [`load`] with the file's contents already read (the reloader reads them to tell whether
/// they changed).
///
/// # Errors
/// As [`load`].
pub fn load_contents(
    command_line: Args,
    path: &Path,
    contents: Vec<u8>,
    kinds: &dyn KindCatalog,
) -> Result<Config> {
    let bad = |reason: String| Error::ConfigFile {
        path: path.to_path_buf(),
        reason,
    };
    let (settings, ignored) = parse(&contents).map_err(bad)?;
    let mut args = command_line.clone();
    settings.apply(&mut args);
    let mut config = Config::from_args(args, kinds).map_err(|e| Error::InConfigFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    for key in ignored {
        config.warnings.push(format!(
            "--config {}: {key:?} is a kube-state-metrics option this agent does not have; ignored",
            path.display()
        ));
    }
    config.file = Some(ConfigFile {
        path: path.to_path_buf(),
        command_line,
        contents,
    });
    Ok(config)
}

/// KSM `Options` keys the agent has no setting for: accepted, reported, ignored.
const KSM_KEYS_WITHOUT_SETTING: &[&str] = &[
    "apiserver",
    "auto-gomemlimit",
    "auto-gomemlimit-ratio",
    "custom_resource_config",
    "custom_resource_config_file",
    "custom_resources_only",
    "help",
    "namespace",
    "pod",
    "server_idle_timeout",
    "server_read_header_timeout",
    "server_read_timeout",
    "server_write_timeout",
    "track_unscheduled_pods",
];

/// Parses the file into settings, plus the KSM keys it sets that the agent ignores.
fn parse(contents: &[u8]) -> std::result::Result<(Settings, Vec<String>), String> {
    let value: serde_yaml::Value = serde_yaml::from_slice(contents).map_err(|e| e.to_string())?;
    let mut mapping = match value {
        serde_yaml::Value::Null => serde_yaml::Mapping::new(),
        serde_yaml::Value::Mapping(m) => m,
        _ => return Err("the file must be a YAML mapping of settings".to_string()),
    };
    let mut ignored = Vec::new();
    for key in KSM_KEYS_WITHOUT_SETTING {
        if mapping.remove(*key).is_some() {
            ignored.push((*key).to_string());
        }
    }
    match serde_yaml::from_value(serde_yaml::Value::Mapping(mapping.clone())) {
        Ok(settings) => Ok((settings, ignored)),
        // serde_yaml does not say which key a value error belongs to: find it by parsing each
        // entry alone, so the message names the setting.
        Err(whole) => Err(mapping
            .into_iter()
            .find_map(|(k, v)| {
                let one = serde_yaml::Mapping::from_iter([(k.clone(), v)]);
                serde_yaml::from_value::<Settings>(serde_yaml::Value::Mapping(one))
                    .err()
                    .map(|e| format!("{}: {e}", scalar(k).unwrap_or_default()))
            })
            .unwrap_or_else(|| whole.to_string())),
    }
}

/// Every setting the file may hold; `None` leaves the command line's value.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default, alias = "metric-allowlist")]
    metric_allowlist: Option<List>,
    #[serde(default, alias = "metric-denylist")]
    metric_denylist: Option<List>,
    #[serde(default, alias = "metric-opt-in-list")]
    metric_opt_in_list: Option<List>,
    #[serde(default, alias = "metric-labels-allowlist")]
    labels_allow_list: Option<KeyLists>,
    #[serde(default, alias = "metric-annotations-allowlist")]
    annotations_allow_list: Option<KeyLists>,
    #[serde(default)]
    resources: Option<List>,
    #[serde(default, alias = "enable-gzip-encoding")]
    enable_gzip_encoding: Option<bool>,
    #[serde(default)]
    host: Option<IpAddr>,
    #[serde(default)]
    port: Option<u16>,
    #[serde(default, alias = "telemetry-host")]
    telemetry_host: Option<IpAddr>,
    #[serde(default, alias = "telemetry-port")]
    telemetry_port: Option<u16>,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    kubeconfig: Option<PathBuf>,
    #[serde(default)]
    scope: Option<Scope>,
    #[serde(default, alias = "snapshot-interval")]
    snapshot_interval: Option<FileDuration>,
    #[serde(default, alias = "leader-election")]
    leader_election: Option<bool>,
    #[serde(default, alias = "lease-namespace")]
    lease_namespace: Option<String>,
    #[serde(default, alias = "lease-name")]
    lease_name: Option<String>,
    #[serde(default, alias = "lease-identity")]
    lease_identity: Option<String>,
    #[serde(default, alias = "lease-duration")]
    lease_duration: Option<FileDuration>,
    #[serde(default, alias = "renew-deadline")]
    renew_deadline: Option<FileDuration>,
    #[serde(default, alias = "retry-period")]
    retry_period: Option<FileDuration>,
    #[serde(default, alias = "log-format")]
    log_format: Option<LogFormat>,
    #[serde(default)]
    namespaces: Option<List>,
    #[serde(default, alias = "namespaces-denylist")]
    namespaces_denylist: Option<List>,
    #[serde(default, alias = "use-apiserver-cache")]
    use_api_server_cache: Option<bool>,
    #[serde(default, alias = "object-limit")]
    object_limit: Option<u64>,
    #[serde(default)]
    shard: Option<u32>,
    #[serde(default, alias = "total-shards")]
    total_shards: Option<u32>,
    #[serde(default, alias = "lean-watches")]
    lean_watches: Option<bool>,
    #[serde(default, alias = "tls-config")]
    tls_config: Option<PathBuf>,
    #[serde(default, alias = "telemetry-tls")]
    telemetry_tls: Option<bool>,
    #[serde(default, alias = "api-encoding")]
    api_encoding: Option<Encoding>,
}

impl Settings {
    /// Overrides `args` with every setting the file holds.
    fn apply(self, args: &mut Args) {
        fn set<T>(slot: &mut T, value: Option<T>) {
            if let Some(v) = value {
                *slot = v;
            }
        }
        set(
            &mut args.metric_allowlist,
            self.metric_allowlist.map(|l| l.0),
        );
        set(&mut args.metric_denylist, self.metric_denylist.map(|l| l.0));
        set(
            &mut args.metric_opt_in_list,
            self.metric_opt_in_list.map(|l| l.0),
        );
        set(
            &mut args.metric_labels_allowlist,
            self.labels_allow_list.map(|l| l.0),
        );
        set(
            &mut args.metric_annotations_allowlist,
            self.annotations_allow_list.map(|l| l.0),
        );
        if let Some(r) = self.resources {
            args.resources = Some(r.0);
        }
        set(&mut args.enable_gzip_encoding, self.enable_gzip_encoding);
        set(&mut args.host, self.host);
        set(&mut args.port, self.port);
        set(&mut args.telemetry_host, self.telemetry_host);
        set(&mut args.telemetry_port, self.telemetry_port);
        if let Some(n) = self.node {
            args.node = Some(n);
        }
        if let Some(k) = self.kubeconfig {
            args.kubeconfig = Some(k);
        }
        set(&mut args.scope, self.scope.map(|s| s.0));
        set(
            &mut args.snapshot_interval,
            self.snapshot_interval.map(|d| d.0),
        );
        set(&mut args.leader_election, self.leader_election);
        set(&mut args.lease_namespace, self.lease_namespace);
        set(&mut args.lease_name, self.lease_name);
        if let Some(i) = self.lease_identity {
            args.lease_identity = Some(i);
        }
        set(&mut args.lease_duration, self.lease_duration.map(|d| d.0));
        set(&mut args.renew_deadline, self.renew_deadline.map(|d| d.0));
        set(&mut args.retry_period, self.retry_period.map(|d| d.0));
        set(&mut args.log_format, self.log_format.map(|f| f.0));
        set(&mut args.namespaces, self.namespaces.map(|l| l.0));
        set(
            &mut args.namespaces_denylist,
            self.namespaces_denylist.map(|l| l.0),
        );
        set(&mut args.use_apiserver_cache, self.use_api_server_cache);
        set(&mut args.object_limit, self.object_limit);
        set(&mut args.shard, self.shard);
        set(&mut args.total_shards, self.total_shards);
        set(&mut args.lean_watches, self.lean_watches);
        if let Some(f) = self.tls_config {
            args.tls_config = Some(f);
        }
        set(&mut args.telemetry_tls, self.telemetry_tls);
        set(&mut args.api_encoding, self.api_encoding.map(|e| e.0));
    }
}

/// A list setting: KSM's mapping form (`{a: {}, b: {}}`), a sequence, or a comma string.
#[derive(Debug)]
struct List(Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let items = match serde_yaml::Value::deserialize(d)? {
            serde_yaml::Value::Null => Vec::new(),
            serde_yaml::Value::String(s) => s.split(',').map(str::to_string).collect(),
            serde_yaml::Value::Sequence(seq) => seq
                .into_iter()
                .map(|v| scalar(v).map_err(de::Error::custom))
                .collect::<std::result::Result<_, _>>()?,
            serde_yaml::Value::Mapping(m) => m
                .into_iter()
                .map(|(k, _)| scalar(k).map_err(de::Error::custom))
                .collect::<std::result::Result<_, _>>()?,
            other => {
                return Err(de::Error::custom(format!(
                    "expected a list, a mapping or a comma-separated string, got {other:?}"
                )));
            }
        };
        Ok(List(
            items
                .into_iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        ))
    }
}

fn scalar(v: serde_yaml::Value) -> std::result::Result<String, String> {
    match v {
        serde_yaml::Value::String(s) => Ok(s),
        serde_yaml::Value::Number(n) => Ok(n.to_string()),
        serde_yaml::Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected a name, got {other:?}")),
    }
}

/// A label/annotation allowlist: KSM's mapping (`pods: [app, team]`) or the flag syntax.
#[derive(Debug)]
struct KeyLists(LabelsAllowList);

impl<'de> Deserialize<'de> for KeyLists {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Flag(String),
            Map(BTreeMap<String, Option<Vec<String>>>),
        }
        let map = match Form::deserialize(d).map_err(|_| {
            de::Error::custom(
                "expected a mapping of resource to keys (pods: [app]) or the flag syntax (pods=[app])",
            )
        })? {
            Form::Flag(s) => allowlist::parse(&s).map_err(de::Error::custom)?.0,
            Form::Map(m) => {
                let m: BTreeMap<String, Vec<String>> = m
                    .into_iter()
                    .map(|(r, keys)| (r, keys.unwrap_or_default()))
                    .collect();
                allowlist::check_wildcards(&m).map_err(de::Error::custom)?;
                m
            }
        };
        Ok(KeyLists(LabelsAllowList(map)))
    }
}

/// A duration written as the flags take it (`100ms`, `2s`, `1m`).
#[derive(Debug)]
struct FileDuration(Duration);

impl<'de> Deserialize<'de> for FileDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s)
            .map(FileDuration)
            .map_err(de::Error::custom)
    }
}

/// `node` or `cluster`.
#[derive(Debug)]
struct Scope(ScopeMode);

impl<'de> Deserialize<'de> for Scope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "node" => Ok(Scope(ScopeMode::Node)),
            "cluster" => Ok(Scope(ScopeMode::Cluster)),
            other => Err(de::Error::custom(format!(
                "scope must be node or cluster, not {other:?}"
            ))),
        }
    }
}

/// `protobuf` or `json`.
#[derive(Debug)]
struct Encoding(ApiEncoding);

impl<'de> Deserialize<'de> for Encoding {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "protobuf" => Ok(Encoding(ApiEncoding::Protobuf)),
            "json" => Ok(Encoding(ApiEncoding::Json)),
            other => Err(de::Error::custom(format!(
                "api encoding must be protobuf or json, not {other:?}"
            ))),
        }
    }
}

/// `text` or `json`.
#[derive(Debug)]
struct LogFormat(String);

impl<'de> Deserialize<'de> for LogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "text" || s == "json" {
            Ok(LogFormat(s))
        } else {
            Err(de::Error::custom(format!(
                "log format must be text or json, not {s:?}"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    struct Kinds;
    impl KindCatalog for Kinds {
        fn resources(&self) -> Vec<&'static str> {
            vec!["pods", "nodes", "services"]
        }
        fn default_resources(&self) -> Vec<&'static str> {
            vec!["pods", "nodes"]
        }
        fn families(&self) -> Vec<(&'static str, bool)> {
            vec![
                ("kube_pod_info", false),
                ("kube_pod_status_phase", false),
                ("kube_pod_nodeselectors", true),
                ("kube_node_info", false),
            ]
        }
    }

    fn cli(extra: &[&str]) -> Args {
        let mut argv = vec!["kube-state-agent", "--node", "n1"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    fn from_yaml(args: Args, yaml: &str) -> Result<Config> {
        load_contents(args, Path::new("/etc/ksa/config.yaml"), yaml.into(), &Kinds)
    }

    #[test]
    fn ksm_keys_and_forms_are_read() {
        let c = from_yaml(
            cli(&[]),
            "
metric_denylist:
  kube_pod_info: {}
metric_opt_in_list: [kube_pod_nodeselectors]
resources:
  pods: {}
  services: {}
labels_allow_list:
  '*':
    - app.kubernetes.io/*
  nodes: [kubernetes.io/os]
annotations_allow_list: pods=[owner]
enable_gzip_encoding: true
port: 9090
",
        )
        .unwrap();
        assert!(!c.metrics.enables("kube_pod_info", false));
        assert!(c.metrics.enables("kube_pod_nodeselectors", true));
        assert_eq!(c.resources, ["pods", "services"]);
        assert_eq!(c.labels_for("nodes").entries(), ["app.kubernetes.io/*"]);
        assert_eq!(c.annotations_for("pods").entries(), ["owner"]);
        assert!(c.gzip);
        assert_eq!(c.listen.port(), 9090);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(c.file.is_some());
    }

    #[test]
    fn flag_names_and_comma_strings_are_read_too() {
        let c = from_yaml(
            cli(&[]),
            "metric-allowlist: 'kube_pod_.*, kube_node_info'\nsnapshot-interval: 250ms\n",
        )
        .unwrap();
        assert!(c.metrics.enables("kube_node_info", false));
        assert!(!c.metrics.enables("kube_service_info", false));
        assert_eq!(c.snapshot_interval, Duration::from_millis(250));
    }

    #[test]
    fn the_file_overrides_the_command_line_and_a_removed_key_falls_back_to_it() {
        let args = cli(&["--metric-denylist", "kube_node_info", "--port", "7070"]);
        let c = from_yaml(args.clone(), "metric_denylist: [kube_pod_info]\n").unwrap();
        assert!(!c.metrics.enables("kube_pod_info", false));
        assert!(c.metrics.enables("kube_node_info", false), "file wins");
        assert_eq!(c.listen.port(), 7070, "what the file does not set stays");
        let c = from_yaml(args, "{}").unwrap();
        assert!(!c.metrics.enables("kube_node_info", false));
        let c = from_yaml(cli(&[]), "").unwrap();
        assert!(
            c.metrics.enables("kube_node_info", false),
            "an empty file is fine"
        );
    }

    #[test]
    fn ksm_options_without_a_setting_are_reported_and_unknown_keys_refused() {
        let c = from_yaml(
            cli(&[]),
            "track_unscheduled_pods: true\nserver_read_timeout: 1m\n",
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert!(
            c.warnings[0].contains("\"server_read_timeout\""),
            "{:?}",
            c.warnings
        );
        let err = from_yaml(cli(&[]), "metric_denylists: [a]\n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("--config /etc/ksa/config.yaml") && msg.contains("metric_denylists"),
            "{msg}"
        );
    }

    #[test]
    fn tls_config_is_read_under_ksms_key() {
        let c = from_yaml(cli(&[]), "tls_config: /etc/ksa/web.yaml\n").unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let tls = c.tls.expect("TLS on");
        assert_eq!(tls.file, PathBuf::from("/etc/ksa/web.yaml"));
        assert!(tls.telemetry);
        let c = from_yaml(cli(&[]), "tls-config: web.yaml\ntelemetry-tls: false\n").unwrap();
        assert!(!c.tls.expect("TLS on").telemetry);
        let c = from_yaml(cli(&["--tls-config", "web.yaml"]), "tls_config: ''\n").unwrap();
        assert_eq!(c.tls, None, "an empty tls_config turns the flag's TLS off");
    }

    #[test]
    fn watch_settings_are_read_under_ksm_keys_and_flag_names() {
        let c = from_yaml(
            cli(&[]),
            "
namespaces: [team-a, team-b]
namespaces_denylist: team-c
use_api_server_cache: true
object_limit: 500
shard: 1
total_shards: 3
lean-watches: false
api_encoding: json
",
        )
        .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert_eq!(
            c.watch.namespaces.watched(),
            [Some("team-a".to_string()), Some("team-b".to_string())]
        );
        assert!(c.watch.use_apiserver_cache);
        assert_eq!(c.watch.object_limit, Some(500));
        let shard = c.watch.shard.expect("sharded");
        assert_eq!((shard.index, shard.total), (1, 3));
        assert!(!c.watch.lean);
        assert_eq!(c.watch.encoding, ApiEncoding::Json);
        let c = from_yaml(
            cli(&["--api-encoding", "json"]),
            "object-limit: 7\ntotal-shards: 2\nshard: 0\napi-encoding: protobuf\n",
        )
        .unwrap();
        assert_eq!(c.watch.object_limit, Some(7));
        assert_eq!(c.watch.encoding, ApiEncoding::Protobuf, "the file wins");
        assert_eq!(c.watch.shard.map(|s| s.total), Some(2));
    }

    #[test]
    fn bad_values_fail_naming_the_file_and_the_setting() {
        for (yaml, needle) in [
            ("labels_allow_list: pods\n", "resource=[…]"),
            ("labels_allow_list:\n  pods: ['*a*']\n", "more than one '*'"),
            (
                "labels_allow_list:\n  pod: [app]\n",
                "unknown resource \"pod\"",
            ),
            (
                "metric_allowlist: [a]\nmetric_denylist: [b]\n",
                "--metric-allowlist and --metric-denylist",
            ),
            ("metric_denylist: ['*_pod_info']\n", "\"*_pod_info\""),
            ("port: eighty\n", "port"),
            ("api_encoding: yaml\n", "protobuf or json"),
            ("- a\n- b\n", "mapping"),
            ("metric_denylist: [a\n", "--config"),
        ] {
            let msg = from_yaml(cli(&[]), yaml).unwrap_err().to_string();
            assert!(msg.contains("/etc/ksa/config.yaml"), "{yaml}: {msg}");
            assert!(msg.contains(needle), "{yaml}: {msg}");
        }
    }

    #[test]
    fn a_missing_file_fails_naming_it() {
        let args = cli(&["--config", "/nonexistent/ksa.yaml"]);
        let err = load(args, &Kinds).unwrap_err().to_string();
        assert!(err.contains("--config /nonexistent/ksa.yaml"), "{err}");
    }
}
