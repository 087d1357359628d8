//! `--config FILE`: the same settings as the flags, in YAML, as kube-state-metrics' `--config`.
//!
//! [`KEYS`] is the one list of keys the file may hold and what each does: every key of
//! kube-state-metrics' `Options` (`pkg/options/options.go` yaml tags, at
//! kubernetes/kube-state-metrics@c92fe0c5ce02) plus the agent's own settings. A key the agent
//! implements is applied, at once on a reload or at the next restart ([`Effect`]); a KSM key it
//! does not implement gives one warning naming the key and what to do instead, and never stops
//! the agent; any other key is an error, so a typo does not go unnoticed (KSM ignores unknown
//! keys silently). Each setting may also be spelled as its flag (`metric-denylist`,
//! `namespaces-denylist`). List values take KSM's form (a mapping whose keys are the entries,
//! `resources: {pods: {}}`), a YAML sequence, or the flag's comma-separated string; the
//! label/annotation allowlists take KSM's mapping (`pods: [app, team]`) or the flag syntax.
//!
//! As in KSM, a value in the file overrides the same setting on the command line. Each load
//! starts again from the command line, so a key removed from the file falls back to its flag.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};

use super::allowlist::{self, LabelsAllowList};
use super::{
    ApiEncoding, Args, Catalog, Config, Error, LogFormat, Result, ScopeMode, parse_duration,
};

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
pub fn load(args: Args, kinds: &Catalog) -> Result<Config> {
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
    kinds: &Catalog,
) -> Result<Config> {
    let bad = |reason: String| Error::ConfigFile {
        path: path.to_path_buf(),
        reason,
    };
    let (settings, ignored) = parse(&contents).map_err(bad)?;
    let mut args = command_line.clone();
    let file_sets_resources = settings.resources.is_some();
    settings.apply(&mut args);
    let mut config = Config::from_args(args, kinds).map_err(|e| Error::InConfigFile {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    if file_sets_resources {
        config.resources_from = super::ResourcesFrom::ConfigFile;
    }
    for (key, advice) in ignored {
        config.warnings.push(format!(
            "--config {}: {key:?} is a kube-state-metrics setting this agent does not implement; \
             ignored: {advice}",
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

/// The flags `contents` (a `--config` file) makes of `command_line`, or `None` when it does
/// not parse (loading it reports why): what the reloader reads to find the custom resource
/// state config file the file names.
pub(crate) fn args_with(command_line: &Args, contents: &[u8]) -> Option<Args> {
    let (settings, _) = parse(contents).ok()?;
    let mut args = command_line.clone();
    settings.apply(&mut args);
    Some(args)
}

/// How a key of the file takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Applied at start and again by every reload of the changed file.
    Reloaded,
    /// Applied at start; a reload that changes it is logged, shown by
    /// `ksa_config_restart_required`, and waits for a restart
    /// ([`super::reload::keep_restart_only_settings`]).
    RestartOnly,
    /// A kube-state-metrics key without a setting here: one warning at each load, naming the
    /// key and saying this (what to do instead); the value is not used.
    Ignored(&'static str),
}

/// One key the file may hold.
#[derive(Clone, Copy, Debug)]
pub struct Key {
    /// The key as kube-state-metrics' yaml tag spells it (or, for the agent's own settings,
    /// the flag's name in snake case).
    pub name: &'static str,
    /// The flag's spelling, accepted too, where it differs from `name`.
    pub flag_name: Option<&'static str>,
    /// Whether it comes from kube-state-metrics' `Options`.
    pub ksm: bool,
    /// What it does.
    pub effect: Effect,
}

const fn key(
    name: &'static str,
    flag_name: Option<&'static str>,
    ksm: bool,
    effect: Effect,
) -> Key {
    Key {
        name,
        flag_name,
        ksm,
        effect,
    }
}

use Effect::{Ignored, Reloaded, RestartOnly};

/// Every key the file may hold. Docs: docs/flags.md, "Config file" (a test compares them).
pub const KEYS: &[Key] = &[
    // kube-state-metrics' keys the agent implements.
    key("metric_allowlist", Some("metric-allowlist"), true, Reloaded),
    key("metric_denylist", Some("metric-denylist"), true, Reloaded),
    key(
        "metric_opt_in_list",
        Some("metric-opt-in-list"),
        true,
        Reloaded,
    ),
    key(
        "labels_allow_list",
        Some("metric-labels-allowlist"),
        true,
        Reloaded,
    ),
    key(
        "annotations_allow_list",
        Some("metric-annotations-allowlist"),
        true,
        Reloaded,
    ),
    key("resources", None, true, Reloaded),
    key(
        "enable_gzip_encoding",
        Some("enable-gzip-encoding"),
        true,
        Reloaded,
    ),
    key("namespaces", None, true, Reloaded),
    key(
        "namespaces_denylist",
        Some("namespaces-denylist"),
        true,
        Reloaded,
    ),
    key(
        "use_api_server_cache",
        Some("use-apiserver-cache"),
        true,
        Reloaded,
    ),
    key("object_limit", Some("object-limit"), true, Reloaded),
    key("shard", None, true, Reloaded),
    key("total_shards", Some("total-shards"), true, Reloaded),
    key("host", None, true, RestartOnly),
    key("port", None, true, RestartOnly),
    key("telemetry_host", Some("telemetry-host"), true, RestartOnly),
    key("telemetry_port", Some("telemetry-port"), true, RestartOnly),
    key(
        "server_read_header_timeout",
        Some("server-read-header-timeout"),
        true,
        RestartOnly,
    ),
    key(
        "server_read_timeout",
        Some("server-read-timeout"),
        true,
        RestartOnly,
    ),
    key(
        "server_write_timeout",
        Some("server-write-timeout"),
        true,
        RestartOnly,
    ),
    key(
        "server_idle_timeout",
        Some("server-idle-timeout"),
        true,
        RestartOnly,
    ),
    key(
        "server_max_connections",
        Some("server-max-connections"),
        false,
        RestartOnly,
    ),
    key("node", None, true, RestartOnly),
    key("kubeconfig", None, true, RestartOnly),
    key("tls_config", Some("tls-config"), true, RestartOnly),
    key("auth_filter", Some("auth-filter"), true, RestartOnly),
    // The agent's own settings.
    key("scope", None, false, RestartOnly),
    key(
        "snapshot_interval",
        Some("snapshot-interval"),
        false,
        Reloaded,
    ),
    key("lean_watches", Some("lean-watches"), false, Reloaded),
    key("api_encoding", Some("api-encoding"), false, Reloaded),
    key("watch_timeout", Some("watch-timeout"), false, RestartOnly),
    key(
        "leader_election",
        Some("leader-election"),
        false,
        RestartOnly,
    ),
    key(
        "lease_namespace",
        Some("lease-namespace"),
        false,
        RestartOnly,
    ),
    key("lease_name", Some("lease-name"), false, RestartOnly),
    key("lease_identity", Some("lease-identity"), false, RestartOnly),
    key("lease_duration", Some("lease-duration"), false, RestartOnly),
    key("renew_deadline", Some("renew-deadline"), false, RestartOnly),
    key("retry_period", Some("retry-period"), false, RestartOnly),
    key(
        "leader_candidate_selector",
        Some("leader-candidate-selector"),
        false,
        RestartOnly,
    ),
    key("log_format", Some("log-format"), false, RestartOnly),
    key("telemetry_tls", Some("telemetry-tls"), false, RestartOnly),
    key("tenant_access", Some("tenant-access"), false, RestartOnly),
    key("auth_cache_ttl", Some("auth-cache-ttl"), false, RestartOnly),
    key(
        "auth_cache_negative_ttl",
        Some("auth-cache-negative-ttl"),
        false,
        RestartOnly,
    ),
    key(
        "auth_cache_size",
        Some("auth-cache-size"),
        false,
        RestartOnly,
    ),
    // kube-state-metrics' keys without a setting here.
    key(
        "apiserver",
        None,
        true,
        Ignored("put the API server's URL in a kubeconfig and pass --kubeconfig"),
    ),
    key(
        "auto-gomemlimit",
        None,
        true,
        Ignored(
            "a Go runtime setting; there is no garbage collector to tune: size the container's memory limit",
        ),
    ),
    key(
        "auto-gomemlimit-ratio",
        None,
        true,
        Ignored(
            "a Go runtime setting; there is no garbage collector to tune: size the container's memory limit",
        ),
    ),
    key(
        "config",
        None,
        true,
        Ignored("a config file cannot name another one; remove the key"),
    ),
    key(
        "continue_without_config",
        None,
        true,
        Ignored(
            "the file was read, so it has no effect; a --config file missing at start fails the start: mount the ConfigMap without `optional`",
        ),
    ),
    key(
        "custom_resource_config",
        Some("custom-resource-state-config"),
        true,
        Reloaded,
    ),
    key(
        "custom_resource_state_config_file",
        Some("custom-resource-state-config-file"),
        true,
        Reloaded,
    ),
    // kube-state-metrics' deprecated name of `custom_resource_state_config_file`.
    key("custom_resource_config_file", None, true, Reloaded),
    key(
        "continue_without_custom_resource_state_config_file",
        Some("continue-without-custom-resource-state-config-file"),
        true,
        Reloaded,
    ),
    key(
        "custom_resources_only",
        Some("custom-resource-state-only"),
        true,
        Reloaded,
    ),
    key("help", None, true, Ignored("remove the key")),
    key(
        "namespace",
        None,
        true,
        Ignored(
            "StatefulSet autosharding is set at start by the --pod and --pod-namespace flags; pass them on the command line",
        ),
    ),
    key(
        "pod",
        None,
        true,
        Ignored(
            "StatefulSet autosharding is set at start by the --pod and --pod-namespace flags; pass them on the command line",
        ),
    ),
    key(
        "track_unscheduled_pods",
        None,
        true,
        Ignored(
            "not needed: the elected leader always exports the unscheduled pods; remove the key",
        ),
    ),
];

/// Parses the file into settings, plus the KSM keys it sets that the agent ignores (with what
/// to do about each).
type IgnoredKeys = Vec<(&'static str, &'static str)>;

fn parse(contents: &[u8]) -> std::result::Result<(Settings, IgnoredKeys), String> {
    let value: serde_norway::Value =
        serde_norway::from_slice(contents).map_err(|e| e.to_string())?;
    let mut mapping = match value {
        serde_norway::Value::Null => serde_norway::Mapping::new(),
        serde_norway::Value::Mapping(m) => m,
        _ => return Err("the file must be a YAML mapping of settings".to_string()),
    };
    let mut ignored = Vec::new();
    for key in KEYS {
        if let Ignored(advice) = key.effect
            && mapping.remove(key.name).is_some()
        {
            ignored.push((key.name, advice));
        }
    }
    match serde_norway::from_value(serde_norway::Value::Mapping(mapping.clone())) {
        Ok(settings) => Ok((settings, ignored)),
        // serde_norway does not say which key a value error belongs to: find it by parsing each
        // entry alone, so the message names the setting.
        Err(whole) => Err(mapping
            .into_iter()
            .find_map(|(k, v)| {
                let one = serde_norway::Mapping::from_iter([(k.clone(), v)]);
                serde_norway::from_value::<Settings>(serde_norway::Value::Mapping(one))
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
    #[serde(default, alias = "server-read-header-timeout")]
    server_read_header_timeout: Option<FileDuration>,
    #[serde(default, alias = "server-read-timeout")]
    server_read_timeout: Option<FileDuration>,
    #[serde(default, alias = "server-write-timeout")]
    server_write_timeout: Option<FileDuration>,
    #[serde(default, alias = "server-idle-timeout")]
    server_idle_timeout: Option<FileDuration>,
    #[serde(default, alias = "server-max-connections")]
    server_max_connections: Option<usize>,
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
    #[serde(default, alias = "leader-candidate-selector")]
    leader_candidate_selector: Option<String>,
    #[serde(default, alias = "log-format")]
    log_format: Option<FileLogFormat>,
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
    #[serde(default, alias = "watch-timeout")]
    watch_timeout: Option<FileDuration>,
    #[serde(default, alias = "auth-filter")]
    auth_filter: Option<bool>,
    #[serde(default, alias = "tenant-access")]
    tenant_access: Option<TenantAccess>,
    #[serde(default, alias = "auth-cache-ttl")]
    auth_cache_ttl: Option<FileDuration>,
    #[serde(default, alias = "auth-cache-negative-ttl")]
    auth_cache_negative_ttl: Option<FileDuration>,
    #[serde(default, alias = "auth-cache-size")]
    auth_cache_size: Option<u64>,
    #[serde(default, alias = "custom-resource-state-config")]
    custom_resource_config: Option<String>,
    #[serde(default, alias = "custom-resource-state-config-file")]
    custom_resource_state_config_file: Option<PathBuf>,
    #[serde(default)]
    custom_resource_config_file: Option<PathBuf>,
    #[serde(default, alias = "custom-resource-state-only")]
    custom_resources_only: Option<bool>,
    #[serde(default, alias = "continue-without-custom-resource-state-config-file")]
    continue_without_custom_resource_state_config_file: Option<bool>,
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
        set(
            &mut args.server_read_header_timeout,
            self.server_read_header_timeout.map(|d| d.0),
        );
        set(
            &mut args.server_read_timeout,
            self.server_read_timeout.map(|d| d.0),
        );
        set(
            &mut args.server_write_timeout,
            self.server_write_timeout.map(|d| d.0),
        );
        set(
            &mut args.server_idle_timeout,
            self.server_idle_timeout.map(|d| d.0),
        );
        set(
            &mut args.server_max_connections,
            self.server_max_connections,
        );
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
        set(
            &mut args.leader_candidate_selector,
            self.leader_candidate_selector,
        );
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
        set(&mut args.watch_timeout, self.watch_timeout.map(|d| d.0));
        set(&mut args.auth_filter, self.auth_filter);
        set(&mut args.tenant_access, self.tenant_access.map(|t| t.0));
        set(&mut args.auth_cache_ttl, self.auth_cache_ttl.map(|d| d.0));
        set(
            &mut args.auth_cache_negative_ttl,
            self.auth_cache_negative_ttl.map(|d| d.0),
        );
        set(&mut args.auth_cache_size, self.auth_cache_size);
        if let Some(c) = self.custom_resource_config {
            args.custom_resource_state_config = Some(c);
        }
        // The current key wins over its deprecated name when both are set.
        if let Some(f) = self
            .custom_resource_state_config_file
            .or(self.custom_resource_config_file)
        {
            args.custom_resource_state_config_file = Some(f);
        }
        set(
            &mut args.custom_resource_state_only,
            self.custom_resources_only,
        );
        set(
            &mut args.continue_without_custom_resource_state_config_file,
            self.continue_without_custom_resource_state_config_file,
        );
    }
}

/// `--tenant-access`'s value: `VERB:RESOURCE[.GROUP]` or `none`.
#[derive(Debug)]
struct TenantAccess(Option<super::auth::TenantAccess>);

impl<'de> Deserialize<'de> for TenantAccess {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        super::auth::parse_tenant_access(&s)
            .map(TenantAccess)
            .map_err(de::Error::custom)
    }
}

/// A list setting: KSM's mapping form (`{a: {}, b: {}}`), a sequence, or a comma string.
#[derive(Debug)]
struct List(Vec<String>);

impl<'de> Deserialize<'de> for List {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let items = match serde_norway::Value::deserialize(d)? {
            serde_norway::Value::Null => Vec::new(),
            serde_norway::Value::String(s) => s.split(',').map(str::to_string).collect(),
            serde_norway::Value::Sequence(seq) => seq
                .into_iter()
                .map(|v| scalar(v).map_err(de::Error::custom))
                .collect::<std::result::Result<_, _>>()?,
            serde_norway::Value::Mapping(m) => m
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

fn scalar(v: serde_norway::Value) -> std::result::Result<String, String> {
    match v {
        serde_norway::Value::String(s) => Ok(s),
        serde_norway::Value::Number(n) => Ok(n.to_string()),
        serde_norway::Value::Bool(b) => Ok(b.to_string()),
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
struct FileLogFormat(LogFormat);

impl<'de> Deserialize<'de> for FileLogFormat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "text" => Ok(FileLogFormat(LogFormat::Text)),
            "json" => Ok(FileLogFormat(LogFormat::Json)),
            other => Err(de::Error::custom(format!(
                "log format must be text or json, not {other:?}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn kinds() -> Catalog {
        Catalog {
            resources: vec!["pods", "nodes", "services"],
            default_resources: vec!["pods", "nodes"],
            families: vec![
                ("kube_pod_info", false),
                ("kube_pod_status_phase", false),
                ("kube_pod_nodeselectors", true),
                ("kube_node_info", false),
            ],
            leader_only: vec!["services"],
        }
    }

    fn cli(extra: &[&str]) -> Args {
        let mut argv = vec!["kube-state-agent", "--node", "n1"];
        argv.extend_from_slice(extra);
        Args::try_parse_from(argv).unwrap()
    }

    fn from_yaml(args: Args, yaml: &str) -> Result<Config> {
        load_contents(
            args,
            Path::new("/etc/ksa/config.yaml"),
            yaml.into(),
            &kinds(),
        )
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
        assert_eq!(c.resources_from, super::super::ResourcesFrom::ConfigFile);
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

    /// A value for each applied key that differs from [`baseline_args`]'s.
    fn sample(key: &str) -> &'static str {
        match key {
            "metric_allowlist" | "metric_denylist" => "[kube_pod_info]",
            "metric_opt_in_list" => "[kube_pod_nodeselectors]",
            "labels_allow_list" => "{pods: [app]}",
            "annotations_allow_list" => "{pods: [owner]}",
            "resources" => "[pods]",
            "enable_gzip_encoding" | "use_api_server_cache" | "lean_watches" => "false",
            "namespaces" => "[team-a]",
            "namespaces_denylist" => "[team-b]",
            "object_limit" | "auth_cache_size" => "5",
            "shard" => "1",
            "total_shards" => "2",
            "host" | "telemetry_host" => "'127.0.0.1'",
            "port" => "9999",
            "telemetry_port" => "9998",
            "node" => "n2",
            "kubeconfig" => "/etc/ksa/kubeconfig",
            "tls_config" => "/etc/ksa/web.yaml",
            "auth_filter" | "leader_election" | "telemetry_tls" => "false",
            "scope" => "cluster",
            "snapshot_interval" => "1s",
            "lease_namespace" | "lease_name" | "lease_identity" => "other",
            "lease_duration" => "20s",
            "renew_deadline" => "5s",
            "retry_period" => "1s",
            "leader_candidate_selector" => "kube-state-agent.io/leader-candidate=true",
            "log_format" => "json",
            "api_encoding" => "json",
            "tenant_access" => "get:pods",
            "auth_cache_ttl" => "30s",
            "auth_cache_negative_ttl" => "5s",
            "server_read_header_timeout"
            | "server_read_timeout"
            | "server_write_timeout"
            | "server_idle_timeout"
            | "watch_timeout" => "7s",
            "server_max_connections" => "9",
            "custom_resource_config" => {
                "'spec: {resources: [{groupVersionKind: {group: example.com, version: v1, \
                 kind: Foo}, metrics: [{name: up, help: Up., each: {type: Gauge, \
                 gauge: {path: [status, up]}}}]}]}'"
            }
            "custom_resource_state_config_file" | "custom_resource_config_file" => concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/golden-custom/gauge/config.yaml"
            ),
            "custom_resources_only" | "continue_without_custom_resource_state_config_file" => {
                "true"
            }
            _ => "anything",
        }
    }

    /// A command line where every setting has a value the file can change: use-apiserver-cache
    /// on (the sample turns it off), TLS, auth filter and sharding on.
    fn baseline_args() -> Args {
        cli(&[
            "--use-apiserver-cache",
            "--total-shards",
            "3",
            "--tls-config",
            "/base/web.yaml",
            "--auth-filter",
        ])
    }

    /// `config` without what every load differs in (the file and its contents).
    fn settings_of(mut config: Config) -> String {
        config.file = None;
        config.warnings.clear();
        // The flags are what the settings were made from, not a setting; except the one whose
        // only effect is on a start or reload that finds the custom config file missing.
        let continue_without = config
            .args
            .continue_without_custom_resource_state_config_file;
        config.args = baseline_args();
        config
            .args
            .continue_without_custom_resource_state_config_file = continue_without;
        format!("{config:?}")
    }

    #[test]
    fn every_key_is_recognized_applied_with_its_reload_effect_or_warned_about_once() {
        let baseline = from_yaml(baseline_args(), "{}").unwrap();
        assert!(baseline.warnings.is_empty(), "{:?}", baseline.warnings);
        for key in KEYS {
            let yaml = format!("{}: {}\n", key.name, sample(key.name));
            let loaded = from_yaml(baseline_args(), &yaml)
                .unwrap_or_else(|e| panic!("{}: refused: {e}", key.name));
            match key.effect {
                Ignored(advice) => {
                    assert_eq!(
                        loaded.warnings.len(),
                        1,
                        "{}: {:?}",
                        key.name,
                        loaded.warnings
                    );
                    let w = &loaded.warnings[0];
                    assert!(
                        w.contains(&format!("{:?}", key.name)) && w.contains(advice),
                        "{w}"
                    );
                    assert_eq!(
                        settings_of(loaded),
                        settings_of(baseline.clone()),
                        "{}",
                        key.name
                    );
                }
                Reloaded | RestartOnly => {
                    assert!(
                        loaded.warnings.is_empty(),
                        "{}: {:?}",
                        key.name,
                        loaded.warnings
                    );
                    let mut reloaded = loaded.clone();
                    let kept =
                        super::super::reload::keep_restart_only_settings(&baseline, &mut reloaded);
                    assert_ne!(
                        settings_of(loaded.clone()),
                        settings_of(baseline.clone()),
                        "{} is not applied",
                        key.name
                    );
                    if key.effect == RestartOnly {
                        assert!(!kept.is_empty(), "{}: a reload would apply it", key.name);
                        assert_eq!(
                            settings_of(reloaded),
                            settings_of(baseline.clone()),
                            "{}: a reload keeps the running value",
                            key.name
                        );
                    } else {
                        assert!(kept.is_empty(), "{}: a reload keeps {kept:?}", key.name);
                    }
                    if let Some(flag_name) = key.flag_name {
                        let yaml = format!("{flag_name}: {}\n", sample(key.name));
                        let by_flag = from_yaml(baseline_args(), &yaml).unwrap();
                        assert_eq!(settings_of(by_flag), settings_of(loaded), "{flag_name}");
                    }
                }
            }
        }
    }

    #[test]
    fn every_ksm_options_key_is_in_the_table() {
        // The yaml tags of `Options` in kube-state-metrics' pkg/options/options.go at
        // kubernetes/kube-state-metrics@c92fe0c5ce02 (`config` is its untagged `Config` field,
        // which yaml.v3 reads under its lowercased name).
        let ksm = "annotations_allow_list labels_allow_list metric_allowlist metric_denylist
            metric_opt_in_list resources apiserver custom_resource_config
            custom_resource_state_config_file custom_resource_config_file
            continue_without_custom_resource_state_config_file host kubeconfig namespace node pod
            tls_config telemetry_host config continue_without_config namespaces
            namespaces_denylist auto-gomemlimit-ratio port telemetry_port total_shards
            server_read_timeout server_write_timeout server_idle_timeout
            server_read_header_timeout shard auto-gomemlimit custom_resources_only
            enable_gzip_encoding help track_unscheduled_pods use_api_server_cache object_limit
            auth_filter";
        let mut ksm: Vec<&str> = ksm.split_whitespace().collect();
        ksm.sort_unstable();
        let mut ours: Vec<&str> = KEYS.iter().filter(|k| k.ksm).map(|k| k.name).collect();
        ours.sort_unstable();
        assert_eq!(ours, ksm);
        let mut all: Vec<&str> = KEYS
            .iter()
            .flat_map(|k| std::iter::once(k.name).chain(k.flag_name))
            .collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "a key is listed twice");
    }

    #[test]
    fn docs_describe_every_key_with_its_effect() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/flags.md");
        let text = std::fs::read_to_string(path).unwrap();
        let section = text
            .split("\n## Config file\n")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("a Config file section");
        // Its table: | what | keys |, one row per effect.
        let mut documented: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for line in section
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| ---"))
        {
            let cells: Vec<&str> = line.split(" | ").collect();
            let effect = if cells[0].contains("reloaded") {
                "reloaded"
            } else if cells[0].contains("restart") {
                "restart"
            } else if cells[0].contains("warn") {
                "ignored"
            } else {
                continue;
            };
            documented
                .entry(effect)
                .or_default()
                .extend(cells[1].split('`').skip(1).step_by(2).map(str::to_string));
        }
        for key in KEYS {
            let effect = match key.effect {
                Reloaded => "reloaded",
                RestartOnly => "restart",
                Ignored(_) => "ignored",
            };
            let keys = documented.get(effect).cloned().unwrap_or_default();
            assert!(
                keys.iter().any(|k| k == key.name),
                "docs/flags.md: {} is not in the {effect} row",
                key.name
            );
        }
        for (effect, keys) in &documented {
            for k in keys {
                assert!(
                    KEYS.iter().any(|key| key.name == k),
                    "docs/flags.md lists {k} ({effect}), which the code does not know"
                );
            }
        }
    }

    #[test]
    fn ksm_options_without_a_setting_are_reported_and_unknown_keys_refused() {
        let c = from_yaml(
            cli(&[]),
            "track_unscheduled_pods: true\nserver_read_timeout: 1m\ncontinue_without_config: true\n",
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 2, "{:?}", c.warnings);
        assert_eq!(
            c.server.read_timeout,
            Duration::from_secs(60),
            "a KSM key now read"
        );
        assert!(
            c.warnings[0].contains("\"continue_without_config\""),
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
        assert_eq!(c.watch.namespaces.allow, ["team-a", "team-b"]);
        assert_eq!(c.watch.namespaces.deny, ["team-c"]);
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
        let err = load(args, &kinds()).unwrap_err().to_string();
        assert!(err.contains("--config /nonexistent/ksa.yaml"), "{err}");
    }
}
