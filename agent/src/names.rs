//! The syntax of Kubernetes names, as apimachinery's validation checks it: namespace names,
//! label keys and values, qualified names. Kept in one place so every flag and every rendered
//! label agrees with the API server on what a name is.

/// An RFC 1123 label (a namespace name, each part of a DNS subdomain): 1–63 characters of
/// `[a-z0-9-]`, starting and ending with a letter or digit.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// An RFC 1123 subdomain: at most 253 characters of dot-separated [`is_dns_label`]s.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// The name part of a qualified name, and a non-empty label value: 1–63 characters of
/// `[A-Za-z0-9._-]`, starting and ending with a letter or digit.
pub fn is_label_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    s.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// apimachinery's `IsQualifiedName` (a label key, an extended resource name): `[prefix/]name`,
/// the prefix an [`is_dns_subdomain`], the name an [`is_label_name`].
pub fn is_qualified_name(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_as_the_api_server_checks_them() {
        for ok in ["a", "kube-system", "a1", &"a".repeat(63)] {
            assert!(is_dns_label(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", &"a".repeat(64)] {
            assert!(!is_dns_label(bad), "{bad}");
        }
        assert!(is_dns_subdomain("kube-state-agent.io"));
        assert!(!is_dns_subdomain("a..b") && !is_dns_subdomain(&"a.".repeat(127)));
        for ok in [
            "app",
            "App_1.x",
            "kube-state-agent.io/leader-candidate",
            "example.com/gpu",
        ] {
            assert!(is_qualified_name(ok), "{ok}");
        }
        for bad in ["", "/a", "a/", "a/b/c", "Example.com/a", "-a", "a_", "x/.a"] {
            assert!(!is_qualified_name(bad), "{bad}");
        }
    }
}
