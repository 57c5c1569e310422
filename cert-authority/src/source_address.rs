//! The `source-address` critical option: a comma-separated list of addresses and CIDR blocks
//! the certificate may be used from (PROTOCOL.certkeys).

use std::net::IpAddr;

/// Whether `peer` is inside one of the comma-separated `a.b.c.d[/n]` or IPv6 blocks of `list`.
/// An unparsable entry matches nothing, so a garbled option refuses rather than admits.
pub fn allows(list: &str, peer: IpAddr) -> bool {
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .any(|entry| block_contains(entry, peer))
}

fn block_contains(entry: &str, peer: IpAddr) -> bool {
    let (addr, bits) = match entry.split_once('/') {
        Some((a, b)) => match b.parse::<u32>() {
            Ok(bits) => (a, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(net) = addr.parse::<IpAddr>() else {
        return false;
    };
    let peer = match (net, peer) {
        (IpAddr::V4(_), IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => return false,
        },
        _ => peer,
    };
    match (net, peer) {
        (IpAddr::V4(n), IpAddr::V4(p)) => {
            let bits = bits.unwrap_or(32);
            bits <= 32 && prefix_eq(u128::from(u32::from(n)), u128::from(u32::from(p)), bits, 32)
        }
        (IpAddr::V6(n), IpAddr::V6(p)) => {
            let bits = bits.unwrap_or(128);
            bits <= 128 && prefix_eq(u128::from(n), u128::from(p), bits, 128)
        }
        _ => false,
    }
}

fn prefix_eq(a: u128, b: u128, bits: u32, width: u32) -> bool {
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (a >> shift) == (b >> shift)
}

#[cfg(test)]
mod tests {
    use super::allows;

    #[test]
    fn cidr_lists() {
        let ip = |s: &str| s.parse().unwrap();
        assert!(allows("127.0.0.1", ip("127.0.0.1")));
        assert!(allows("10.0.0.0/8,127.0.0.0/8", ip("127.9.9.9")));
        assert!(!allows("10.0.0.0/8", ip("127.0.0.1")));
        assert!(allows("192.168.1.0/24", ip("::ffff:192.168.1.7")));
        assert!(allows("::1", ip("::1")));
        assert!(allows("0.0.0.0/0", ip("8.8.8.8")));
        assert!(!allows("garbage", ip("127.0.0.1")));
        assert!(!allows("127.0.0.1/33", ip("127.0.0.1")));
    }
}
