//! Certificate-bound access tokens (RFC 8705 section 3): a token whose `cnf` claim holds
//! `x5t#S256`, the base64url SHA-256 thumbprint of a client certificate's DER encoding, is
//! accepted only on a request made over mutual TLS with that certificate.
//!
//! `verify_request` checks the binding by default
//! ([`CertificateBinding::Enforced`]); give each request its client certificate with
//! [`VerifyRequest::client_certificate`](crate::VerifyRequest::client_certificate): the DER
//! bytes your TLS stack verified (rustls: `ServerConnection::peer_certificates()`, the first
//! entry), or, behind a TLS-terminating proxy, the header it sets, read with
//! [`certificate_from_header`] (PEM or URL-encoded PEM, as nginx's `$ssl_client_escaped_cert`).
//! Only read such a header from a proxy you trust to set or overwrite it: a client that could
//! set it itself could claim any certificate. `auth0-api-axum` does this with a list of
//! trusted proxy addresses.
//!
//! The rules, when enforced (`verify_request`):
//! - A token without `cnf.x5t#S256` is unaffected (whatever the request's certificate).
//! - A token with `cnf.x5t#S256` and no client certificate: `401 invalid_token`,
//!   [`TokenError::CertificateRequired`].
//! - A token with `cnf.x5t#S256` and another certificate (or a thumbprint that is not a
//!   string): `401 invalid_token`, [`TokenError::CertificateMismatch`]. The thumbprints are
//!   compared in constant time.
//! - With DPoP (RFC 9449 section 6 and RFC 8705 section 3 both add a member to the same `cnf`
//!   object): every confirmation a token carries must be satisfied. A token with both `jkt` and
//!   `x5t#S256` needs the `DPoP` scheme, a proof of its key, *and* its certificate; the DPoP
//!   checks come first (their answers are unchanged), then the certificate.
//! - `verify_access_token` has no request and no certificate, so it cannot check either
//!   binding: it accepts a bound token on its signature and claims alone. Use
//!   [`ApiClient::verify_request`](crate::ApiClient::verify_request) (or the axum layer, which
//!   calls it) for requests that may carry certificate-bound tokens.
//!
//! Enforcement is the default (RFC 8705 section 3: the resource server MUST check the binding;
//! as with DPoP, whose `cnf.jkt` tokens are refused as Bearer by default). Only tokens carrying
//! `cnf.x5t#S256` are affected, so every other token gets the same answer as in
//! auth0-api-python, which ignores the member. The explicit opt-out,
//! [`CertificateBinding::Ignored`], restores the reference's behaviour for bound tokens too
//! (for an API that knows its bound tokens arrive through a path that checked them already).
//! A token without the member costs nothing more: verification notes its presence while it
//! reads the payload, and the binding check returns at once when it was absent.
//!
//! The library does not validate the certificate's chain: the TLS layer (or proxy) that
//! terminated mutual TLS did, or accepted a self-signed certificate on purpose (RFC 8705
//! section 2.2). What the binding proves is that the client holds the certificate's key.
//!
//! ```
//! use auth0_api::mtls::{CertificateBinding, certificate_from_header, certificate_thumbprint};
//! use auth0_api::{ApiClientOptions, VerifyRequest};
//!
//! # fn main() -> Result<(), auth0_api::Error> {
//! let options = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .certificate_binding(CertificateBinding::Enforced) // the default, spelled out
//!     .build()?;
//! # let _ = options;
//! // Behind nginx: `proxy_set_header X-Client-Cert $ssl_client_escaped_cert;`
//! let header = "-----BEGIN%20CERTIFICATE-----%0AMAMCAQA%3D%0A-----END%20CERTIFICATE-----%0A";
//! let der = certificate_from_header(header.as_bytes())?.expect("a certificate");
//! assert_eq!(der, [0x30, 0x03, 0x02, 0x01, 0x00]);
//! assert_eq!(certificate_thumbprint(&der).len(), 43);
//! let request = VerifyRequest::from_pairs([("authorization", "Bearer eyJ...")])
//!     .client_certificate(der);
//! # let _ = request;
//! # Ok(()) }
//! ```

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::claims::Claims;
use crate::error::{CertificateProblem, Error, RequestError, TokenError};

/// The largest client certificate accepted, DER-encoded (a certificate with a 4096-bit RSA key
/// and the usual extensions is about 1.5 KiB).
pub const MAX_CERTIFICATE_BYTES: usize = 8 * 1024;

/// The largest certificate header value read by [`certificate_from_header`] (room for a
/// [`MAX_CERTIFICATE_BYTES`] certificate as URL-encoded PEM).
pub const MAX_CERTIFICATE_HEADER_BYTES: usize = 32 * 1024;

/// The `cnf` member of a certificate-bound token (RFC 8705 section 3.1).
pub const X5T_S256: &str = "x5t#S256";

/// Whether `verify_request` checks certificate-bound tokens (see [the module](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CertificateBinding {
    /// `cnf.x5t#S256` is not read (auth0-api-python's behaviour): a bound token is accepted
    /// without its certificate. An explicit opt-out.
    Ignored,
    /// A token with `cnf.x5t#S256` needs the request's client certificate to match it (the
    /// default, RFC 8705 section 3). Tokens without the member are unaffected.
    #[default]
    Enforced,
}

/// The RFC 8705 thumbprint of a certificate: base64url (no padding) of the SHA-256 of its DER
/// encoding.
///
/// ```
/// assert_eq!(
///     auth0_api::mtls::certificate_thumbprint(b""),
///     "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU"
/// );
/// ```
pub fn certificate_thumbprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// The client certificate (DER) from a header set by a TLS-terminating proxy: PEM, or
/// URL-encoded PEM (nginx `$ssl_client_escaped_cert`, AWS ALB `X-Amzn-Mtls-Clientcert`, an
/// Envoy `Cert=` value once unquoted). An empty value (nginx's when the client sent no
/// certificate) is `Ok(None)`. With several certificates (a chain) the first, the client's, is
/// taken.
///
/// # Errors
/// `400 invalid_request` ([`RequestError::InvalidClientCertificate`]) for a value over
/// [`MAX_CERTIFICATE_HEADER_BYTES`], a bad escape, no PEM `CERTIFICATE` block, bad base64, or
/// DER that is not one well-formed sequence of at most [`MAX_CERTIFICATE_BYTES`].
pub fn certificate_from_header(value: &[u8]) -> Result<Option<Vec<u8>>, Error> {
    parse_header(value)
        .map_err(|problem| Error::from(RequestError::InvalidClientCertificate(problem)))
}

fn parse_header(value: &[u8]) -> Result<Option<Vec<u8>>, CertificateProblem> {
    if value.len() > MAX_CERTIFICATE_HEADER_BYTES {
        return Err(CertificateProblem::TooLarge);
    }
    let value = value.trim_ascii();
    if value.is_empty() {
        return Ok(None);
    }
    let text = if value.contains(&b'%') {
        Cow::Owned(percent_decode(value)?)
    } else {
        Cow::Borrowed(value)
    };
    let der = pem_certificate(&text)?;
    check_der(&der)?;
    Ok(Some(der))
}

/// `%XX` escapes decoded (either case); every other byte kept as it is.
fn percent_decode(value: &[u8]) -> Result<Vec<u8>, CertificateProblem> {
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.iter();
    while let Some(&b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16));
        match (hex(bytes.next()), hex(bytes.next())) {
            (Some(hi), Some(lo)) => out.push((hi * 16 + lo) as u8),
            _ => return Err(CertificateProblem::BadEscape),
        }
    }
    Ok(out)
}

const PEM_BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const PEM_END: &[u8] = b"-----END CERTIFICATE-----";

/// The DER of the first `CERTIFICATE` block (RFC 7468: base64 lines, whitespace ignored).
fn pem_certificate(text: &[u8]) -> Result<Vec<u8>, CertificateProblem> {
    let start = memchr::memmem::find(text, PEM_BEGIN).ok_or(CertificateProblem::NotPem)?;
    let body = &text[start + PEM_BEGIN.len()..];
    let end = memchr::memmem::find(body, PEM_END).ok_or(CertificateProblem::NotPem)?;
    let base64: Vec<u8> = body[..end]
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if base64.len() > MAX_CERTIFICATE_BYTES.div_ceil(3) * 4 {
        return Err(CertificateProblem::TooLarge);
    }
    STANDARD
        .decode(&base64)
        .map_err(|_| CertificateProblem::BadBase64)
}

/// One DER `SEQUENCE` (tag 0x30) whose definite length covers the input exactly.
fn check_der(der: &[u8]) -> Result<(), CertificateProblem> {
    if der.len() > MAX_CERTIFICATE_BYTES {
        return Err(CertificateProblem::TooLarge);
    }
    let bad = CertificateProblem::NotCertificate;
    let (&tag, rest) = der.split_first().ok_or(bad)?;
    let (&first, rest) = rest.split_first().ok_or(bad)?;
    if tag != 0x30 {
        return Err(bad);
    }
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 | 0x82 => {
            let n = usize::from(first & 0x7f);
            let (bytes, rest) = (rest.get(..n).ok_or(bad)?, &rest[n.min(rest.len())..]);
            let len = bytes.iter().fold(0usize, |l, b| (l << 8) | usize::from(*b));
            // DER: the shortest length form.
            if len < 0x80 || (n == 2 && len < 0x100) {
                return Err(bad);
            }
            (len, rest)
        }
        _ => return Err(bad),
    };
    if len != rest.len() {
        return Err(bad);
    }
    Ok(())
}

/// What a token's `cnf` says about certificate binding.
enum Bound<'a> {
    /// No `cnf.x5t#S256`.
    No,
    /// A `cnf.x5t#S256` string.
    To(&'a str),
    /// A `cnf.x5t#S256` that is not a string: matches no certificate.
    ToNothing,
}

fn bound(claims: &Claims) -> Bound<'_> {
    if !claims.may_have_x5t() {
        return Bound::No;
    }
    match claims.cnf().and_then(|cnf| cnf.get(X5T_S256)) {
        None => Bound::No,
        Some(serde_json::Value::String(s)) => Bound::To(s),
        Some(_) => Bound::ToNothing,
    }
}

/// RFC 8705 section 3: a token bound to a certificate needs that certificate (`der`).
pub(crate) fn check_binding(claims: &Claims, der: Option<&[u8]>) -> Result<(), TokenError> {
    let expected = match bound(claims) {
        Bound::No => return Ok(()),
        Bound::To(expected) => Some(expected),
        Bound::ToNothing => None,
    };
    let Some(der) = der else {
        return Err(TokenError::CertificateRequired);
    };
    let actual = certificate_thumbprint(der);
    match expected {
        Some(expected)
            if aws_lc_rs::constant_time::verify_slices_are_equal(
                expected.as_bytes(),
                actual.as_bytes(),
            )
            .is_ok() =>
        {
            Ok(())
        }
        _ => Err(TokenError::CertificateMismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pem(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            lines.join("\n")
        )
    }

    fn escaped(text: &str) -> String {
        text.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    }

    /// A DER sequence of `n` content bytes.
    fn sequence(n: usize) -> Vec<u8> {
        let mut der = vec![0x30];
        match n {
            0..=0x7f => der.push(n as u8),
            0x80..=0xff => der.extend([0x81, n as u8]),
            _ => der.extend([0x82, (n >> 8) as u8, n as u8]),
        }
        der.extend(std::iter::repeat_n(0x05, n));
        der
    }

    #[test]
    fn mtls_header_values_pem_and_url_encoded() {
        for n in [3, 200, 2000] {
            let der = sequence(n);
            let pem = pem(&der);
            assert_eq!(parse_header(pem.as_bytes()), Ok(Some(der.clone())));
            assert_eq!(
                parse_header(escaped(&pem).as_bytes()),
                Ok(Some(der.clone()))
            );
            // Lower-case escapes, surrounding whitespace, a chain (the first is taken).
            let mut lower = escaped(&pem);
            for (upper, lower_case) in [
                ("%0A", "%0a"),
                ("%2B", "%2b"),
                ("%2F", "%2f"),
                ("%3D", "%3d"),
            ] {
                lower = lower.replace(upper, lower_case);
            }
            assert_eq!(parse_header(lower.as_bytes()), Ok(Some(der.clone())));
            let chain = format!("  {pem}{}  ", pem_of_other());
            assert_eq!(parse_header(chain.as_bytes()), Ok(Some(der)));
        }
        assert_eq!(parse_header(b""), Ok(None));
        assert_eq!(parse_header(b"  \t "), Ok(None));
    }

    fn pem_of_other() -> String {
        pem(&sequence(9))
    }

    #[test]
    fn mtls_bad_header_values_are_typed() {
        use CertificateProblem::*;
        let cases: Vec<(Vec<u8>, CertificateProblem)> = vec![
            (vec![b'a'; MAX_CERTIFICATE_HEADER_BYTES + 1], TooLarge),
            (b"garbage".to_vec(), NotPem),
            (b"%zz".to_vec(), BadEscape),
            (b"abc%4".to_vec(), BadEscape),
            (b"-----BEGIN CERTIFICATE-----\nMAMC".to_vec(), NotPem),
            (
                b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----".to_vec(),
                BadBase64,
            ),
            (pem(b"\x31\x00").into_bytes(), NotCertificate),
            (pem(b"\x30\x05\x00").into_bytes(), NotCertificate),
            (pem(b"\x30").into_bytes(), NotCertificate),
            (
                pem(b"\x30\x81\x05\x00\x00\x00\x00\x00").into_bytes(),
                NotCertificate,
            ),
            (
                pem(b"\x30\x83\x00\x00\x01\x00").into_bytes(),
                NotCertificate,
            ),
            (pem(b"").into_bytes(), NotCertificate),
            (pem(&sequence(MAX_CERTIFICATE_BYTES)).into_bytes(), TooLarge),
        ];
        for (value, problem) in cases {
            assert_eq!(parse_header(&value), Err(problem), "{value:?}");
        }
        let e = certificate_from_header(b"garbage").err();
        let e = e.as_ref();
        assert_eq!(e.map(Error::status_code), Some(400));
        assert_eq!(e.map(Error::error_code), Some("invalid_request"));
        assert_eq!(
            e.map(Error::description),
            Some("Invalid client certificate: not a PEM certificate")
        );
    }

    #[test]
    fn mtls_thumbprint_is_rfc8705_s256() {
        // SHA-256 of "abc" (FIPS 180-2), base64url without padding.
        assert_eq!(
            certificate_thumbprint(b"abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }

    #[test]
    fn mtls_binding_rules() {
        let der = sequence(10);
        let thumb = certificate_thumbprint(&der);
        let claims = |cnf: serde_json::Value| {
            let serde_json::Value::Object(map) = json!({ "cnf": cnf }) else {
                unreachable!()
            };
            Claims::from_object(map)
        };
        let bound = claims(json!({ "x5t#S256": thumb }));
        assert_eq!(check_binding(&bound, Some(&der)), Ok(()));
        assert_eq!(
            check_binding(&bound, Some(&sequence(11))),
            Err(TokenError::CertificateMismatch)
        );
        assert_eq!(
            check_binding(&bound, None),
            Err(TokenError::CertificateRequired)
        );
        for odd in [json!(42), json!(null), json!([thumb]), json!("")] {
            let c = claims(json!({ "x5t#S256": odd }));
            assert_eq!(
                check_binding(&c, Some(&der)),
                Err(TokenError::CertificateMismatch)
            );
        }
        for unbound in [json!({}), json!({"jkt": "x"}), json!("x"), json!(null)] {
            assert_eq!(check_binding(&claims(unbound.clone()), None), Ok(()));
            assert_eq!(check_binding(&claims(unbound), Some(&der)), Ok(()));
        }
    }
}
