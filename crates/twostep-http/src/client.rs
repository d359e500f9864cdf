//! Who is calling: the client address (socket address, or the last
//! untrusted hop of `X-Forwarded-For` when the request came through a
//! trusted proxy) and the user agent.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::http::HeaderMap;

/// One trusted proxy: an address or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for ProxyNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .parse()
            .map_err(|_| format!("{text:?} is not an IP address or CIDR block"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("bad prefix in {text:?}"))?,
            None => max,
        };
        Ok(Self { network, prefix })
    }
}

impl ProxyNet {
    /// Whether `ip` is inside this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// The trusted-proxy setting.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(pub Vec<ProxyNet>);

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request from `peer` with these headers.
    /// Walks `X-Forwarded-For` from the right while hops are trusted
    /// proxies; a malformed header is ignored as a whole (the peer stands).
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?.ip());
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut hops = Vec::new();
        for value in headers.get_all("x-forwarded-for") {
            let Ok(text) = value.to_str() else {
                return Some(peer);
            };
            for hop in text.split(',') {
                match hop.trim().parse::<IpAddr>() {
                    Ok(ip) => hops.push(canonical(ip)),
                    Err(_) => return Some(peer),
                }
            }
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// The `User-Agent`, if readable.
pub fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies(list.iter().filter_map(|p| p.parse().ok()).collect())
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert("x-forwarded-for", value);
        }
        headers
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        format!("{ip}:4000").parse().ok()
    }

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn untrusted_peers_are_the_client() {
        let none = proxies(&[]);
        assert_eq!(
            none.client_ip(peer("203.0.113.9"), &forwarded("198.51.100.1")),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxies_yield_the_last_untrusted_hop() {
        let trusted = proxies(&["10.0.0.0/8", "127.0.0.1"]);
        let headers = forwarded("198.51.100.7, 203.0.113.5, 10.1.2.3");
        assert_eq!(
            trusted.client_ip(peer("127.0.0.1"), &headers),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn malformed_forwarding_headers_change_nothing() {
        let trusted = proxies(&["127.0.0.1"]);
        assert_eq!(
            trusted.client_ip(peer("127.0.0.1"), &forwarded("not-an-ip, 198.51.100.7")),
            ip("127.0.0.1")
        );
        assert_eq!(
            trusted.client_ip(peer("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn parses_cidr_blocks() {
        let net: Result<ProxyNet, _> = "192.168.0.0/16".parse();
        assert!(
            net.as_ref()
                .is_ok_and(|n| n.contains("192.168.44.1".parse().unwrap_or(IpAddr::from([0; 4]))))
        );
        assert!("192.168.0.0/33".parse::<ProxyNet>().is_err());
        assert!(
            "::1"
                .parse::<ProxyNet>()
                .is_ok_and(|n| n.contains("::1".parse().unwrap_or(IpAddr::from([0; 4]))))
        );
        assert!(
            "10.0.0.0/8".parse::<ProxyNet>().is_ok_and(
                |n| n.contains("::ffff:10.9.9.9".parse().unwrap_or(IpAddr::from([0; 4])))
            )
        );
    }
}
