//! Client certificates for mutual-TLS tests (RFC 8705), and their `x5t#S256` thumbprints,
//! with this crate's own code (rcgen, aws-lc-rs).
//!
//! ```
//! use auth0_api_dev_tenant::mtls::ClientCertificate;
//! let cert = ClientCertificate::generate("client-1").expect("rcgen");
//! assert!(cert.pem().starts_with("-----BEGIN CERTIFICATE-----"));
//! assert_eq!(cert.thumbprint().len(), 43);
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose};

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
