use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

/// The client a per-IP limit counts (SPEC §4a): an IPv4 address as it is, an IPv6 address by
/// its network prefix (one customer usually holds a whole /64, so every /128 in it is the same
/// client). IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) are the IPv4 address.
///
/// Built only through [`ClientNet::of`], so no limit can be keyed by a raw address by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientNet {
    /// The address with every bit past the prefix cleared.
    network: IpAddr,
    /// 32 for IPv4; the configured prefix length for IPv6.
    prefix_len: u8,
}

impl ClientNet {
    /// The client `ip` belongs to, keying IPv6 by its first `ipv6_prefix_len` bits (clamped to
    /// 1..=128).
    pub fn of(ip: IpAddr, ipv6_prefix_len: u8) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self {
                network: IpAddr::V4(v4),
                prefix_len: 32,
            },
            IpAddr::V6(v6) => {
                let len = ipv6_prefix_len.clamp(1, 128);
                let mask = u128::MAX << (128 - u32::from(len));
                Self {
                    network: IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask)),
                    prefix_len: len,
                }
            }
        }
    }
}

/// `203.0.113.7` for IPv4, `2001:db8:1:2::/64` for IPv6: what store keys and logs show.
impl fmt::Display for ClientNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.network {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/{}", self.prefix_len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(ip: &str, len: u8) -> ClientNet {
        ClientNet::of(ip.parse().unwrap(), len)
    }

    #[test]
    fn ipv4_is_keyed_by_the_address() {
        assert_eq!(net("203.0.113.7", 64).to_string(), "203.0.113.7");
        assert_ne!(net("203.0.113.7", 64), net("203.0.113.8", 64));
    }

    #[test]
    fn every_address_of_one_ipv6_prefix_is_one_client() {
        let a = net("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64);
        let b = net("2001:db8:1:2::1", 64);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_ne!(a, net("2001:db8:1:3::1", 64));
        assert_eq!(net("2001:db8:1:2::1", 48), net("2001:db8:1:ffff::1", 48));
        assert_eq!(net("2001:db8::1", 128).to_string(), "2001:db8::1/128");
    }

    #[test]
    fn mapped_ipv4_is_the_ipv4_client() {
        assert_eq!(net("::ffff:203.0.113.7", 64), net("203.0.113.7", 64));
    }

    #[test]
    fn prefix_length_is_clamped() {
        assert_eq!(net("2001:db8::1", 0), net("::1", 1));
        assert_ne!(net("2001:db8::1", 0), net("8000::", 1));
        assert_eq!(net("2001:db8::1", 200), net("2001:db8::1", 128));
    }
}
