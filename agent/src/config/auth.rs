//! The `--auth-filter` settings: who may scrape what, and how long a decision is reused. Plain
//! values; [`crate::http::auth`] applies them.

use std::time::Duration;

/// The right that makes a user a tenant of a namespace: `verb` on `resource` of `group`
/// (`--tenant-access=list:pods`, `list:deployments.apps`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantAccess {
    /// E.g. `list`.
    pub verb: String,
    /// API group, `""` for the core group.
    pub group: String,
    /// E.g. `pods`.
    pub resource: String,
}

impl Default for TenantAccess {
    fn default() -> Self {
        TenantAccess {
            verb: "list".into(),
            group: String::new(),
            resource: "pods".into(),
        }
    }
}

impl std::str::FromStr for TenantAccess {
    type Err = String;

    /// `VERB:RESOURCE[.GROUP]`, e.g. `list:pods`, `get:deployments.apps`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (verb, resource) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not VERB:RESOURCE[.GROUP] (e.g. list:pods)"))?;
        let (resource, group) = resource.split_once('.').unwrap_or((resource, ""));
        let name_ok = |v: &str| {
            !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        };
        if !name_ok(verb) || !name_ok(resource) || !(group.is_empty() || name_ok(group)) {
            return Err(format!(
                "{s:?} is not VERB:RESOURCE[.GROUP] (e.g. list:pods)"
            ));
        }
        Ok(TenantAccess {
            verb: verb.into(),
            group: group.into(),
            resource: resource.into(),
        })
    }
}

/// How scrapes are authorized (`--auth-filter` and the flags beside it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthOptions {
    /// The tenant right; `None` turns tenant views off (only the full view or 403).
    pub tenant_access: Option<TenantAccess>,
    /// How long a granted decision is reused.
    pub ttl: Duration,
    /// How long a refusal or a failed review is reused.
    pub negative_ttl: Duration,
    /// How many tokens' decisions are kept at most.
    pub capacity: u64,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            tenant_access: Some(TenantAccess::default()),
            ttl: Duration::from_secs(60),
            negative_ttl: Duration::from_secs(10),
            capacity: 4096,
        }
    }
}

/// `--tenant-access`: `VERB:RESOURCE[.GROUP]`, or `none` to turn tenant views off.
///
/// # Errors
/// A value of neither form (clap names the flag).
pub fn parse_tenant_access(s: &str) -> Result<Option<TenantAccess>, String> {
    if s == "none" {
        Ok(None)
    } else {
        s.parse().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_access_parses_verb_resource_and_group() {
        assert_eq!(
            "list:pods".parse::<TenantAccess>().unwrap(),
            TenantAccess::default()
        );
        let d: TenantAccess = "get:deployments.apps".parse().unwrap();
        assert_eq!(
            (d.verb.as_str(), d.resource.as_str(), d.group.as_str()),
            ("get", "deployments", "apps")
        );
        for bad in ["pods", ":pods", "list:", "LIST:pods", "list:po ds"] {
            assert!(bad.parse::<TenantAccess>().is_err(), "{bad}");
        }
    }

    #[test]
    fn none_turns_tenant_views_off() {
        assert_eq!(parse_tenant_access("none"), Ok(None));
        assert_eq!(
            parse_tenant_access("list:pods"),
            Ok(Some(TenantAccess::default()))
        );
    }
}
