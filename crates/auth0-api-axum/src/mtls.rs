//! Where the layer finds a request's mutual-TLS client certificate, for certificate-bound
//! tokens (RFC 8705 section 3; see [`auth0_api::mtls`]).
//!
//! Two sources, in this order:
//!
//! 1. **The TLS connection**, when the application terminates TLS itself: put the client's
//!    certificate (DER) into the request's extensions as [`ClientCertificate`]. Only server
//!    code can set an extension; a client cannot. With rustls (tokio-rustls, or
//!    `axum-server`'s rustls acceptor), once per connection after the handshake:
//!    `stream.get_ref().1.peer_certificates()` is the chain the client sent, its first entry
//!    the client's own certificate; serve the connection with a service that inserts
//!    `ClientCertificate(first.to_vec())` into every request before calling the router (with
//!    hyper: `hyper::service::service_fn` around `router.clone().oneshot(request)`). The test
//!    `mtls::mtls_certificate_from_a_real_rustls_connection` in this crate's `tests/axum.rs`
//!    is a complete accept loop. Configure rustls to ask for client certificates
//!    (`WebPkiClientVerifier`, with `allow_unauthenticated()` if some routes take unbound
//!    tokens).
//! 2. **A header set by a TLS-terminating proxy** (nginx `proxy_set_header X-Client-Cert
//!    $ssl_client_escaped_cert;`, AWS ALB `X-Amzn-Mtls-Clientcert`, ...), read only when the
//!    connection's peer address (axum's [`ConnectInfo<SocketAddr>`]: serve with
//!    `into_make_service_with_connect_info::<SocketAddr>()`) is one of the configured trusted
//!    proxies. From any other peer the header is ignored, so a client cannot claim a
//!    certificate by sending the header itself; without `ConnectInfo` it is always ignored.
//!    An ignored header is also removed from the request before it reaches the handler (in
//!    optional mode too), so that nothing downstream mistakes client-written data for the
//!    proxy's.
//!    A trusted proxy's value that cannot be read (not PEM or URL-encoded PEM, over
//!    [`MAX_CERTIFICATE_HEADER_BYTES`](auth0_api::mtls::MAX_CERTIFICATE_HEADER_BYTES), or
//!    several header lines) is refused with `400 invalid_request`.
//!
//! ```
//! use auth0_api::mtls::CertificateBinding;
//! use auth0_api::{ApiClient, ApiClientOptions};
//! use auth0_api_axum::Auth0Layer;
//!
//! # fn main() -> Result<(), auth0_api::Error> {
//! let client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://api.example.com")
//!         .certificate_binding(CertificateBinding::Enforced) // the default, spelled out
//!         .build()?,
//! )?;
//! let layer = Auth0Layer::builder(client)
//!     .public_url("https://api.example.com")
//!     .client_certificate_header("x-client-cert")
//!     .trusted_proxies(["10.0.0.0/8", "::1"])
//!     .build()?;
//! # let _ = layer;
//! # Ok(()) }
//! ```
//!
//! [`ConnectInfo<SocketAddr>`]: axum::extract::ConnectInfo

use std::net::{IpAddr, SocketAddr};

use auth0_api::Error;
use auth0_api::error::{CertificateProblem, RequestError};
use axum::extract::ConnectInfo;
use http::HeaderName;
use http::request::Parts;

/// The client certificate (DER) of the request's TLS connection, inserted by the application
/// when it terminates mutual TLS itself; see [the module](self).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientCertificate(pub Vec<u8>);

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientCertificate")
            .field(&format_args!("{} bytes", self.0.len()))
            .finish()
    }
}

/// An IP network: an address and a prefix length (a trusted proxy: one address, or a CIDR).
/// IPv4-mapped IPv6 addresses count as their IPv4 address on both sides.
///
/// ```
/// use auth0_api_axum::mtls::IpNet;
/// let net = IpNet::parse("10.0.0.0/8")?;
/// assert!(net.contains("10.1.2.3".parse().unwrap()));
/// assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// # Ok::<(), auth0_api::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    /// `addr` or `addr/prefix` (IPv4 or IPv6).
    ///
    /// # Errors
    /// `invalid_configuration` for anything else, or a prefix longer than the address.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let invalid = || {
            Error::configuration(format!(
                "Invalid trusted proxy {text:?}: expected an IP address or network (a.b.c.d/n)"
            ))
        };
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| invalid())?;
        let addr = addr.to_canonical();
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(invalid)?,
        };
        Ok(Self { addr, prefix })
    }

    /// Whether `ip` is in this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |ip: IpAddr| -> (u128, u32) {
            match ip {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ip = ip.to_canonical();
        let ((net, width), (addr, other)) = (bits(self.addr), bits(ip));
        if width != other {
            return false;
        }
        let shift = width - u32::from(self.prefix);
        // A /0 matches every address of its family.
        shift >= width || (net >> shift) == (addr >> shift)
    }
}

/// The layer's certificate settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct CertificateSource {
    pub(crate) header: Option<HeaderName>,
    pub(crate) trusted: Vec<IpNet>,
}

/// Whether the certificate header of a request may be believed (its peer is a trusted proxy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeaderTrust(bool);

impl CertificateSource {
    /// Removes the certificate header from a request whose peer is not a trusted proxy (the
    /// client wrote it, so the handler must not see it either). Costs nothing without a
    /// configured header.
    pub(crate) fn strip_untrusted(&self, parts: &mut Parts) -> HeaderTrust {
        let Some(name) = &self.header else {
            return HeaderTrust(false);
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let trusted = peer.is_some_and(|ip| self.trusted.iter().any(|net| net.contains(ip)));
        if !trusted {
            parts.headers.remove(name);
        }
        HeaderTrust(trusted)
    }

    /// The client certificate of this request, if any: the [`ClientCertificate`] extension,
    /// else the header when the peer is a trusted proxy (`trust`, from
    /// [`strip_untrusted`](Self::strip_untrusted)).
    pub(crate) fn certificate(
        &self,
        parts: &Parts,
        trust: HeaderTrust,
    ) -> Result<Option<Vec<u8>>, Error> {
        if let Some(ClientCertificate(der)) = parts.extensions.get::<ClientCertificate>() {
            return Ok(Some(der.clone()));
        }
        let (Some(name), HeaderTrust(true)) = (&self.header, trust) else {
            return Ok(None);
        };
        let mut values = parts.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(value), None) => auth0_api::mtls::certificate_from_header(value.as_bytes()),
            (Some(_), Some(_)) => {
                Err(RequestError::InvalidClientCertificate(CertificateProblem::Multiple).into())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mtls_trusted_proxy_networks() {
        let net = |s: &str| IpNet::parse(s).unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(net("::1").contains(ip("::1")));
        assert!(!net("::1").contains(ip("127.0.0.1")));
        assert!(net("fd00::/8").contains(ip("fd12::1")));
        assert!(net("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!net("0.0.0.0/0").contains(ip("::2")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "host",
            "10.0.0.0/x",
            "1.2.3.4/-1",
        ] {
            let e = IpNet::parse(bad).unwrap_err();
            assert_eq!(e.error_code(), "invalid_configuration", "{bad}");
        }
    }
}
