//! The client's address, for the per-IP limits (SPEC §4a).
//!
//! The socket peer is the client, unless `server.trust_forwarded_for` is on **and** the peer is
//! one of `server.trusted_proxies`. Then `X-Forwarded-For` (every header line, in order, as one
//! list) is walked from the right: each proxy appends the address it received the request from,
//! so entries are believed only while they were appended by a proxy we trust. Trusted proxies
//! are skipped; the first untrusted address is the client. An entry that does not parse
//! (`unknown`, garbage, empty) ends the walk at the last trusted hop, which is then the client:
//! whatever stands left of it was written by someone we do not trust. If every entry is
//! trusted, the left-most one is the client.
//!
//! Addresses are compared in canonical form: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, as a
//! dual-stack listener reports IPv4 peers) is the IPv4 address.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use actix_web::http::header::X_FORWARDED_FOR;
use actix_web::HttpRequest;
use ipnet::{IpNet, Ipv4Net};

/// `server.trusted_proxies` when unset: loopback and the private ranges, where a proxy you run
/// usually sits. Link-local ranges (`169.254.0.0/16`, `fe80::/10`) are left out on purpose:
/// any host on the segment can give itself such an address without anyone handing it out, and
/// a proxy you run has a configured one; add them explicitly if yours really uses them.
pub const DEFAULT_TRUSTED_PROXIES: [&str; 6] = [
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
];

/// The networks whose `X-Forwarded-For` entries are believed (`server.trusted_proxies`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of `server.trusted_proxies` that is neither a CIDR nor an address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProxy(pub String);

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a CIDR (10.0.0.0/8, fc00::/7) or an address (192.168.1.7)",
            self.0
        )
    }
}

impl TrustedProxies {
    /// Parse CIDRs (`10.0.0.0/8`, `fc00::/7`) and bare addresses (`/32` or `/128`); every entry
    /// that does neither is returned.
    pub fn parse<S: AsRef<str>>(
        entries: impl IntoIterator<Item = S>,
    ) -> Result<Self, Vec<InvalidProxy>> {
        let mut nets = Vec::new();
        let mut invalid = Vec::new();
        for entry in entries {
            let entry = entry.as_ref().trim();
            match parse_net(entry) {
                Some(net) => nets.push(net),
                None => invalid.push(InvalidProxy(entry.to_owned())),
            }
        }
        if invalid.is_empty() {
            Ok(Self(nets))
        } else {
            Err(invalid)
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }
}

/// A CIDR or a bare address, in canonical form: an IPv4-mapped IPv6 network is the IPv4 one,
/// as the addresses it is compared with are.
fn parse_net(entry: &str) -> Option<IpNet> {
    let net = match entry.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(entry.parse::<IpAddr>().ok()?),
    };
    Some(
        match net {
            IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
                Some(v4) => IpNet::V4(Ipv4Net::new(v4, v6.prefix_len() - 96).ok()?),
                None => net,
            },
            _ => net,
        }
        .trunc(),
    )
}

/// How to find the client's address (see the module documentation).
#[derive(Debug, Clone)]
pub struct ClientIp {
    pub trust_forwarded_for: bool,
    pub trusted_proxies: TrustedProxies,
}

impl ClientIp {
    pub fn of(&self, req: &HttpRequest) -> IpAddr {
        // No peer (not a TCP connection): no proxy to trust either.
        let Some(peer) = req.peer_addr() else {
            return IpAddr::V4(Ipv4Addr::LOCALHOST);
        };
        self.client(peer.ip(), &forwarded_for(req))
    }

    /// The walk itself: `peer` is the socket peer, `entries` the `X-Forwarded-For` entries in
    /// header order.
    fn client(&self, peer: IpAddr, entries: &[&str]) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trust_forwarded_for || !self.trusted_proxies.contains(peer) {
            return peer;
        }
        // `client` is the last trusted hop until an untrusted address replaces it.
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(ip) = parse_hop(entry) else {
                break;
            };
            client = ip;
            if !self.trusted_proxies.contains(ip) {
                break;
            }
        }
        client
    }
}

/// Every entry of every `X-Forwarded-For` line, in order. A line that is not visible ASCII
/// counts as one entry that does not parse.
fn forwarded_for(req: &HttpRequest) -> Vec<&str> {
    req.headers()
        .get_all(X_FORWARDED_FOR)
        .flat_map(|v| v.to_str().unwrap_or("\u{0}").split(','))
        .collect()
}

/// One entry: `1.2.3.4`, `2001:db8::1`, and the forms with a port some proxies write,
/// `1.2.3.4:5678` and `[2001:db8::1]:443` (also `[2001:db8::1]`).
fn parse_hop(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<IpAddr>()
                .ok()
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn defaults() -> TrustedProxies {
        TrustedProxies::parse(DEFAULT_TRUSTED_PROXIES).unwrap()
    }

    fn trusting(proxies: &[&str]) -> ClientIp {
        ClientIp {
            trust_forwarded_for: true,
            trusted_proxies: TrustedProxies::parse(proxies).unwrap(),
        }
    }

    fn on() -> ClientIp {
        ClientIp {
            trust_forwarded_for: true,
            trusted_proxies: defaults(),
        }
    }

    /// The client of a request from `peer` with these `X-Forwarded-For` header lines.
    fn of(c: &ClientIp, peer: &str, lines: &[&str]) -> IpAddr {
        let mut req = TestRequest::default().peer_addr(peer.parse().unwrap());
        for line in lines {
            req = req.append_header(("X-Forwarded-For", *line));
        }
        c.of(&req.to_http_request())
    }

    #[test]
    fn the_defaults_are_loopback_and_private_ranges_without_link_local() {
        let d = defaults();
        for trusted in [
            "127.0.0.1",
            "127.9.9.9",
            "::1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.7",
            "fc00::1",
            "fd12::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(d.contains(ip(trusted)), "{trusted}");
        }
        for untrusted in [
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "169.254.1.1",
            "fe80::1",
            "2001:db8::1",
            "::ffff:8.8.8.8",
        ] {
            assert!(!d.contains(ip(untrusted)), "{untrusted}");
        }
    }

    #[test]
    fn proxies_are_cidrs_or_bare_addresses_and_bad_entries_are_named() {
        let t = TrustedProxies::parse([" 10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]).unwrap();
        assert!(t.contains(ip("10.255.0.1")));
        assert!(t.contains(ip("192.168.1.7")));
        assert!(!t.contains(ip("192.168.1.8")), "a bare address is a /32");
        assert!(t.contains(ip("2001:db8:1::5")));
        let single6 = TrustedProxies::parse(["2001:db8::1"]).unwrap();
        assert!(
            !single6.contains(ip("2001:db8::2")),
            "a bare address is a /128"
        );
        let mapped = TrustedProxies::parse(["::ffff:10.0.0.0/104"]).unwrap();
        assert!(mapped.contains(ip("10.9.9.9")), "mapped networks are IPv4");
        let err =
            TrustedProxies::parse(["10.0.0.0/33", "10.0.0.0/8", "proxy.internal", ""]).unwrap_err();
        assert_eq!(
            err,
            vec![
                InvalidProxy("10.0.0.0/33".into()),
                InvalidProxy("proxy.internal".into()),
                InvalidProxy(String::new()),
            ]
        );
    }

    #[test]
    fn the_header_is_ignored_when_trust_is_off() {
        let off = ClientIp {
            trust_forwarded_for: false,
            trusted_proxies: defaults(),
        };
        assert_eq!(
            of(&off, "127.0.0.1:5000", &["203.0.113.9"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_header_is_ignored_when_the_peer_is_not_a_trusted_proxy() {
        // A client reaching a replica directly picks nothing.
        assert_eq!(
            of(&on(), "198.51.100.4:5000", &["203.0.113.9"]),
            ip("198.51.100.4")
        );
        let only_10 = trusting(&["10.0.0.0/8"]);
        assert_eq!(
            of(&only_10, "127.0.0.1:5000", &["203.0.113.9"]),
            ip("127.0.0.1")
        );
        assert_eq!(
            of(&only_10, "10.0.0.2:5000", &["203.0.113.9"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn without_a_peer_the_header_is_not_read() {
        let req = TestRequest::default()
            .insert_header(("X-Forwarded-For", "203.0.113.9"))
            .to_http_request();
        assert_eq!(on().of(&req), ip("127.0.0.1"));
    }

    #[test]
    fn without_a_header_the_peer_is_the_client() {
        assert_eq!(of(&on(), "10.0.0.2:5000", &[]), ip("10.0.0.2"));
    }

    #[test]
    fn the_first_untrusted_address_from_the_right_is_the_client() {
        // The client prepended a spoof; our proxy appended the real address.
        assert_eq!(
            of(&on(), "10.0.0.2:5000", &["1.1.1.1, 203.0.113.9"]),
            ip("203.0.113.9")
        );
        // Trusted hops (a second proxy tier) are skipped.
        assert_eq!(
            of(
                &on(),
                "10.0.0.2:5000",
                &["1.1.1.1, 203.0.113.9, 10.0.0.7, 192.168.0.3"]
            ),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn an_entry_that_does_not_parse_ends_the_walk_at_the_last_trusted_hop() {
        // `<spoof>, unknown`: the peer is the last trusted hop.
        for junk in [
            "unknown",
            "garbage!",
            "",
            " ",
            "1.2.3",
            "999.1.1.1",
            "_hidden",
        ] {
            let line = format!("203.0.113.9, {junk}");
            assert_eq!(
                of(&on(), "127.0.0.1:5000", &[&line]),
                ip("127.0.0.1"),
                "{line:?}"
            );
        }
        // A trusted hop inside the list is the last trusted hop.
        assert_eq!(
            of(&on(), "10.0.0.2:5000", &["203.0.113.9, unknown, 10.0.0.7"]),
            ip("10.0.0.7")
        );
        // A trailing comma is an empty entry.
        assert_eq!(
            of(&on(), "10.0.0.2:5000", &["203.0.113.9,"]),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn when_every_entry_is_trusted_the_left_most_is_the_client() {
        assert_eq!(
            of(&on(), "10.0.0.2:5000", &["192.168.1.5, 10.0.0.7"]),
            ip("192.168.1.5")
        );
    }

    #[test]
    fn several_header_lines_are_one_list_in_order() {
        assert_eq!(
            of(
                &on(),
                "10.0.0.2:5000",
                &["1.1.1.1", "203.0.113.9, 10.0.0.7"]
            ),
            ip("203.0.113.9")
        );
        assert_eq!(
            of(
                &on(),
                "10.0.0.2:5000",
                &["203.0.113.9, 10.0.0.7", "unknown"]
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            of(&on(), "10.0.0.2:5000", &["1.1.1.1", "10.0.0.7"]),
            ip("1.1.1.1")
        );
    }

    #[test]
    fn ipv6_and_forms_with_a_port_are_accepted() {
        for (entry, client) in [
            ("2001:db8::1", "2001:db8::1"),
            ("[2001:db8::1]:443", "2001:db8::1"),
            ("[2001:db8::1]", "2001:db8::1"),
            ("203.0.113.9:5678", "203.0.113.9"),
            (" 203.0.113.9 ", "203.0.113.9"),
        ] {
            assert_eq!(
                of(&on(), "10.0.0.2:5000", &[&format!("1.1.1.1, {entry}")]),
                ip(client),
                "{entry}"
            );
        }
        // The walk skips a trusted IPv6 proxy with a port too.
        assert_eq!(
            of(&on(), "[::1]:5000", &["203.0.113.9, [fd00::7]:80"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv4_mapped_addresses_are_the_ipv4_address() {
        // A mapped trusted peer (dual-stack listener) is trusted.
        assert_eq!(
            of(&on(), "[::ffff:10.0.0.2]:5000", &["203.0.113.9"]),
            ip("203.0.113.9")
        );
        // A mapped untrusted peer is its IPv4 address, so it shares that address's limits.
        assert_eq!(
            of(&on(), "[::ffff:198.51.100.4]:5000", &["203.0.113.9"]),
            ip("198.51.100.4")
        );
        // Mapped entries: a trusted one is skipped, an untrusted one is the IPv4 client.
        assert_eq!(
            of(
                &on(),
                "10.0.0.2:5000",
                &["::ffff:203.0.113.9, ::ffff:10.0.0.7"]
            ),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_header_that_is_not_text_does_not_parse() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.2:5000".parse().unwrap())
            .append_header(("X-Forwarded-For", "203.0.113.9"))
            .append_header((
                "X-Forwarded-For",
                actix_web::http::header::HeaderValue::from_bytes(b"\xff1.1.1.1").unwrap(),
            ))
            .to_http_request();
        assert_eq!(on().of(&req), ip("10.0.0.2"));
    }
}
