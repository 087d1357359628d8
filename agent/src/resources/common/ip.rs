//! IP families as Go's `net.ParseIP` sees addresses.

use std::net::Ipv6Addr;

// ===== IP addresses =====

/// The IP family label of `ip` (`"4"` or `"6"`), as KSM derives it with k8s.io/utils/net's
/// `ParseIPSloppy` (IPv4 octets may carry leading zeros) and `IsIPv4`/`IsIPv6`; an IPv4-mapped
/// IPv6 address counts as IPv4. `None` when it does not parse.
pub fn ip_family(ip: &str) -> Option<&'static str> {
    if is_sloppy_ipv4(ip) {
        return Some("4");
    }
    let v6: Ipv6Addr = ip.parse().ok()?;
    Some(if v6.to_ipv4_mapped().is_some() {
        "4"
    } else {
        "6"
    })
}

/// Dotted-quad IPv4 in the pre-Go-1.17 grammar: four decimal fields, leading zeros allowed.
fn is_sloppy_ipv4(ip: &str) -> bool {
    let mut fields = 0;
    for field in ip.split('.') {
        fields += 1;
        let ok = !field.is_empty()
            && field.bytes().all(|b| b.is_ascii_digit())
            && field.parse::<u32>().is_ok_and(|v| v <= 255);
        if !ok || fields > 4 {
            return false;
        }
    }
    fields == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_families_follow_parse_ip_sloppy() {
        assert_eq!(ip_family("10.0.0.1"), Some("4"));
        assert_eq!(ip_family("010.000.000.001"), Some("4"));
        assert_eq!(ip_family("::ffff:10.0.0.1"), Some("4"));
        assert_eq!(ip_family("fd00::1"), Some("6"));
        assert_eq!(ip_family("256.0.0.1"), None);
        assert_eq!(ip_family("1.2.3"), None);
        assert_eq!(ip_family("1.2.3.4.5"), None);
        assert_eq!(ip_family("fe80::1%eth0"), None);
        assert_eq!(ip_family(""), None);
    }
}
