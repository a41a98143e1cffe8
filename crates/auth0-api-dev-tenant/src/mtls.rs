//! Client certificates for mutual-TLS tests (RFC 8705), and their `x5t#S256` thumbprints,
//! with this crate's own code (rcgen, aws-lc-rs); [`MutualTls`], a CA and a rustls server
//! configuration that asks clients for its certificates.
//!
//! ```
//! use auth0_api_dev_tenant::mtls::ClientCertificate;
//! let cert = ClientCertificate::generate("client-1").expect("rcgen");
//! assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! assert_eq!(cert.thumbprint().len(), 43);
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::Error;

/// A self-signed client certificate (ECDSA P-256) and its key, as a TLS client presents it.
#[derive(Clone)]
pub struct ClientCertificate {
    der: Vec<u8>,
    pem: String,
    key_pem: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("thumbprint", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// A new self-signed client certificate with this common name (RFC 8705 section 2.2 allows
    /// self-signed certificates; the binding is what proves possession).
    ///
    /// # Errors
    /// [`Error::Certificate`] if rcgen fails.
    pub fn generate(common_name: &str) -> Result<Self, Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.self_signed(&key)?;
        Ok(Self {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// The certificate, DER-encoded (what rustls' `peer_certificates()` gives).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The certificate as URL-encoded PEM, as nginx's `$ssl_client_escaped_cert` writes it.
    pub fn escaped_pem(&self) -> String {
        url_escape(&self.pem)
    }

    /// The private key (PKCS#8 PEM), for a TLS client.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The RFC 8705 `x5t#S256` of the certificate.
    pub fn thumbprint(&self) -> String {
        x5t_s256(&self.der)
    }
}

/// A throwaway CA that issues client certificates, and a rustls server configuration for
/// `127.0.0.1` and `localhost` (its certificate from the same CA) that asks every client for a
/// certificate of that CA (mutual TLS; a client without one still connects, so that the
/// application can answer it). For tests of applications that terminate TLS themselves and
/// hand the client's certificate (rustls `peer_certificates()`) to the library.
pub struct MutualTls {
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    server_config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for MutualTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MutualTls").finish_non_exhaustive()
    }
}

impl MutualTls {
    /// A new CA (ECDSA P-256), server certificate and server configuration.
    ///
    /// # Errors
    /// [`Error::Certificate`], [`Error::Tls`] or [`Error::Config`] if rcgen or rustls fail.
    pub fn generate() -> Result<Self, Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.distinguished_name = rcgen::DistinguishedName::new();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "auth0-api-dev-tenant mutual-TLS CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let server_key = KeyPair::generate()?;
        let mut server_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server_params.is_ca = IsCa::ExplicitNoCa;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        server_params.use_authority_key_identifier_extension = true;
        let server_cert = server_params.signed_by(&server_key, &issuer)?;

        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca_cert.der().clone())?;
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .map_err(|e| Error::Config(format!("client verifier: {e}")))?;
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![server_cert.der().clone()], key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            issuer,
            ca_pem: ca_cert.pem(),
            server_config: Arc::new(config),
        })
    }

    /// The CA (PEM): clients trust it for the server; the server trusts it for clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The server configuration (for `tokio_rustls::TlsAcceptor::from`).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        Arc::clone(&self.server_config)
    }

    /// A client certificate issued by the CA.
    ///
    /// # Errors
    /// [`Error::Certificate`] if rcgen fails.
    pub fn issue(&self, common_name: &str) -> Result<ClientCertificate, Error> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(ClientCertificate {
            der: cert.der().to_vec(),
            pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

/// RFC 8705 section 3.1: base64url (no padding) of the SHA-256 of a certificate's DER.
pub fn x5t_s256(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der).as_ref())
}

/// Percent-encodes every byte but the unreserved characters of RFC 3986 (as nginx's
/// `ngx_escape_uri` does for a component).
fn url_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn mtls_escaped_pem_has_no_reserved_bytes() {
        let cert = ClientCertificate::generate("c").unwrap();
        let escaped = cert.escaped_pem();
        assert!(escaped.starts_with("-----BEGIN%20CERTIFICATE-----%0A"));
        assert!(!escaped.contains(['\n', ' ', '+', '/', '=']));
        assert_ne!(
            cert.thumbprint(),
            ClientCertificate::generate("c").unwrap().thumbprint()
        );
    }
}
