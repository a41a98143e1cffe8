//! Trusted proxies (IPs and CIDRs), and the request URL rebuilt from what a trusted peer says.

use std::net::IpAddr;

use auth0_api_axum::mtls::IpNet;
use http::HeaderMap;

/// Peers whose forwarding headers are believed: the axum crate's networks (one CIDR rule for
/// the layer's certificate header and the gateway).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses `10.0.0.0/8`, `127.0.0.1`, `::1`, `fd00::/8`.
    pub(crate) fn parse(list: &[String]) -> Result<Self, String> {
        list.iter()
            .map(|item| IpNet::parse(item).map_err(|e| e.description().to_owned()))
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether none is configured.
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `peer` is one of them (an IPv4-mapped IPv6 peer counts as its IPv4 address).
    pub(crate) fn contains(&self, peer: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(peer))
    }
}

/// The first comma-separated value of a header, trimmed, when it is text.
pub(crate) fn first_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let v = headers.get(name)?.to_str().ok()?;
    let first = v.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

/// A forwarded scheme and host, checked (`http`/`https`, an authority without user info).
pub(crate) fn origin(proto: &str, host: &str) -> Option<String> {
    let proto = proto.to_ascii_lowercase();
    if proto != "http" && proto != "https" {
        return None;
    }
    let authority: http::uri::Authority = host.parse().ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(format!(
        "{proto}://{}",
        authority.as_str().to_ascii_lowercase()
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cidrs_and_addresses() {
        let t =
            TrustedProxies::parse(&["10.0.0.0/8".into(), "127.0.0.1".into(), "fd00::/8".into()])
                .unwrap();
        for ok in ["10.1.2.3", "127.0.0.1", "::ffff:127.0.0.1", "fd12::1"] {
            assert!(t.contains(ok.parse().unwrap()), "{ok}");
        }
        for no in ["11.0.0.1", "127.0.0.2", "::1"] {
            assert!(!t.contains(no.parse().unwrap()), "{no}");
        }
        assert!(
            TrustedProxies::parse(&["0.0.0.0/0".into()])
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(TrustedProxies::parse(&["1.2.3.4/33".into()]).is_err());
        assert!(TrustedProxies::parse(&["example".into()]).is_err());
    }

    #[test]
    fn origins_are_checked() {
        assert_eq!(
            origin("HTTPS", "API.example.com:8443").as_deref(),
            Some("https://api.example.com:8443")
        );
        assert_eq!(origin("gopher", "x"), None);
        assert_eq!(origin("http", "u@x"), None);
    }
}
