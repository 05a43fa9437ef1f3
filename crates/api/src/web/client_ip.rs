//! The client's address, for the per-IP limits.

use std::net::IpAddr;

use actix_web::HttpRequest;

/// How to find the client's address: the socket peer, or with `server.trust_forwarded_for`
/// the right-most address of `X-Forwarded-For` (the one the proxy in front of us appended;
/// left-most entries are whatever the client chose to send).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp {
    pub trust_forwarded_for: bool,
}

impl ClientIp {
    pub fn of(&self, req: &HttpRequest) -> IpAddr {
        if self.trust_forwarded_for {
            let forwarded = req
                .headers()
                .get_all("x-forwarded-for")
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|s| s.trim().parse::<IpAddr>().ok())
                .next_back();
            if let Some(ip) = forwarded {
                return ip;
            }
        }
        req.peer_addr()
            .map(|a| a.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn forwarded_for_is_used_only_when_trusted_and_right_most_wins() {
        let req = TestRequest::default()
            .peer_addr("10.0.0.1:5000".parse().unwrap())
            .insert_header(("X-Forwarded-For", "1.1.1.1, 2.2.2.2"))
            .to_http_request();
        let untrusted = ClientIp {
            trust_forwarded_for: false,
        };
        let trusted = ClientIp {
            trust_forwarded_for: true,
        };
        assert_eq!(untrusted.of(&req), "10.0.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(trusted.of(&req), "2.2.2.2".parse::<IpAddr>().unwrap());
    }
}
