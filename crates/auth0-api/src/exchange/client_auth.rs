//! How the API authenticates itself to the token endpoint: a client secret sent with HTTP Basic
//! (RFC 6749 section 2.3.1), or a signed JWT assertion (`private_key_jwt`, RFC 7523 section 2.2
//! and OpenID Connect Core section 9).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use url::form_urlencoded;

use crate::error::{Error, Result};
use crate::settings::Algorithm;

/// `client_assertion_type` of a JWT client assertion (RFC 7523 section 2.2).
pub const CLIENT_ASSERTION_TYPE_JWT_BEARER: &str =
    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Lifetime of a client assertion, in seconds.
const ASSERTION_LIFETIME_SECS: u64 = 60;

/// How the API authenticates to the token endpoint for token exchange.
///
/// Configure it with [`ApiClientOptionsBuilder::client_secret`] (HTTP Basic) or
/// [`ApiClientOptionsBuilder::client_assertion`] (a key for `private_key_jwt`), together with
/// [`ApiClientOptionsBuilder::client_id`]. `Debug` never prints the secret or the key.
///
/// ```
/// use auth0_api::exchange::ClientAuth;
/// let auth = ClientAuth::secret("s3cr3t");
/// assert_eq!(auth.method(), "client_secret_basic");
/// assert!(!format!("{auth:?}").contains("s3cr3t"));
/// ```
///
/// [`ApiClientOptionsBuilder::client_secret`]: crate::ApiClientOptionsBuilder::client_secret
/// [`ApiClientOptionsBuilder::client_assertion`]: crate::ApiClientOptionsBuilder::client_assertion
/// [`ApiClientOptionsBuilder::client_id`]: crate::ApiClientOptionsBuilder::client_id
#[derive(Clone)]
pub struct ClientAuth {
    method: Method,
}

#[derive(Clone)]
enum Method {
    Secret(String),
    PrivateKeyJwt {
        key: Arc<SigningKey>,
        kid: Option<String>,
    },
}

enum SigningKey {
    Rs256(RsaKeyPair),
    Es256(EcdsaKeyPair),
}

impl SigningKey {
    fn algorithm(&self) -> Algorithm {
        match self {
            Self::Rs256(_) => Algorithm::RS256,
            Self::Es256(_) => Algorithm::ES256,
        }
    }

    fn sign(&self, message: &[u8]) -> Option<Vec<u8>> {
        let rng = SystemRandom::new();
        match self {
            Self::Rs256(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .ok()?;
                Some(signature)
            }
            Self::Es256(key) => key.sign(&rng, message).ok().map(|s| s.as_ref().to_vec()),
        }
    }
}

impl ClientAuth {
    /// A client secret, sent with HTTP Basic authentication (`client_secret_basic`).
    pub fn secret(secret: impl Into<String>) -> Self {
        Self {
            method: Method::Secret(secret.into()),
        }
    }

    /// A private key for `private_key_jwt` (RFC 7523): each token request carries a fresh JWT
    /// assertion `{iss, sub: client_id, aud: token endpoint, iat, exp: iat + 60, jti}` signed with
    /// this key, and no secret travels.
    ///
    /// `key` is an unencrypted private key, DER or PEM: PKCS#8 (`PRIVATE KEY`) for either
    /// algorithm, PKCS#1 (`RSA PRIVATE KEY`) for `RS256`, SEC1 (`EC PRIVATE KEY`) for `ES256`.
    /// `alg` is [`Algorithm::RS256`] (RSA, 2048 to 8192 bits) or [`Algorithm::ES256`] (P-256).
    /// `kid` is put in the assertion's header when given (the id of the public key registered
    /// for the client).
    ///
    /// # Errors
    /// `invalid_configuration` for another algorithm or a key that does not parse as one of
    /// `alg`.
    pub fn private_key_jwt(key: &[u8], alg: Algorithm, kid: Option<String>) -> Result<Self> {
        let der = der_from_key_input(key)?;
        let key = match alg {
            Algorithm::RS256 => RsaKeyPair::from_pkcs8(&der)
                .or_else(|_| RsaKeyPair::from_der(&der))
                .map(SigningKey::Rs256)
                .map_err(|e| {
                    Error::configuration(format!(
                        "Invalid client assertion key: not an RSA private key usable with RS256 ({e})"
                    ))
                })?,
            Algorithm::ES256 => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map(SigningKey::Es256)
                    .map_err(|e| {
                        Error::configuration(format!(
                            "Invalid client assertion key: not a P-256 private key usable with ES256 ({e})"
                        ))
                    })?
            }
            other => {
                return Err(Error::configuration(format!(
                    "Unsupported client assertion algorithm {other}: use RS256 or ES256"
                )));
            }
        };
        Ok(Self {
            method: Method::PrivateKeyJwt {
                key: Arc::new(key),
                kid,
            },
        })
    }

    /// The token-endpoint authentication method's registered name (RFC 7591 section 2):
    /// `client_secret_basic` or `private_key_jwt`.
    pub fn method(&self) -> &'static str {
        match self.method {
            Method::Secret(_) => "client_secret_basic",
            Method::PrivateKeyJwt { .. } => "private_key_jwt",
        }
    }

    /// What to add to a token request: an `Authorization` header, or form fields.
    ///
    /// `client_id_in_form` says whether the request already carries `client_id` as a form field;
    /// with `private_key_jwt` it is added when absent. `audience` is the token endpoint URL and
    /// `now` the current time in seconds since the epoch.
    pub(crate) fn prepare(
        &self,
        client_id: &str,
        client_id_in_form: bool,
        audience: &str,
        now: u64,
    ) -> Result<PreparedAuth> {
        match &self.method {
            Method::Secret(secret) => Ok(PreparedAuth {
                authorization: Some(basic_authorization(client_id, secret)),
                fields: Vec::new(),
            }),
            Method::PrivateKeyJwt { key, kid } => {
                let assertion = client_assertion(key, kid.as_deref(), client_id, audience, now)?;
                let mut fields = Vec::with_capacity(3);
                if !client_id_in_form {
                    fields.push(("client_id", client_id.to_owned()));
                }
                fields.push((
                    "client_assertion_type",
                    CLIENT_ASSERTION_TYPE_JWT_BEARER.to_owned(),
                ));
                fields.push(("client_assertion", assertion));
                Ok(PreparedAuth {
                    authorization: None,
                    fields,
                })
            }
        }
    }
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.method {
            Method::Secret(_) => f
                .debug_tuple("ClientAuth::Secret")
                .field(&"[redacted]")
                .finish(),
            Method::PrivateKeyJwt { key, kid } => f
                .debug_struct("ClientAuth::PrivateKeyJwt")
                .field("alg", &key.algorithm())
                .field("kid", kid)
                .field("key", &"[redacted]")
                .finish(),
        }
    }
}

/// Client authentication ready to attach to one token request.
pub(crate) struct PreparedAuth {
    /// The `Authorization` header value (HTTP Basic), marked sensitive.
    pub(crate) authorization: Option<http::HeaderValue>,
    /// Form fields (`client_id`, `client_assertion_type`, `client_assertion`).
    pub(crate) fields: Vec<(&'static str, String)>,
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 section 2.3.1: both parts are
/// encoded with `application/x-www-form-urlencoded` before Basic encoding).
pub(crate) fn basic_authorization(client_id: &str, secret: &str) -> http::HeaderValue {
    let credentials = format!("{}:{}", form_encode(client_id), form_encode(secret));
    let value = format!("Basic {}", STANDARD.encode(credentials));
    // Base64 and "Basic " are visible ASCII: always a valid header value.
    let mut header = http::HeaderValue::from_str(&value)
        .unwrap_or_else(|_| http::HeaderValue::from_static("Basic"));
    header.set_sensitive(true);
    header
}

fn form_encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A signed client assertion (RFC 7523 section 3).
fn client_assertion(
    key: &SigningKey,
    kid: Option<&str>,
    client_id: &str,
    audience: &str,
    now: u64,
) -> Result<String> {
    let mut header = Map::new();
    header.insert("alg".into(), key.algorithm().name().into());
    header.insert("typ".into(), "JWT".into());
    if let Some(kid) = kid {
        header.insert("kid".into(), kid.into());
    }
    let mut jti = [0u8; 16];
    SystemRandom::new()
        .fill(&mut jti)
        .map_err(|_| Error::configuration("Could not generate the client assertion's jti"))?;
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now,
        "exp": now.saturating_add(ASSERTION_LIFETIME_SECS),
        "jti": URL_SAFE_NO_PAD.encode(jti),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(Value::Object(header).to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key
        .sign(signing_input.as_bytes())
        .ok_or_else(|| Error::configuration("Could not sign the client assertion"))?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// The DER bytes of a key given as DER or as one PEM block.
fn der_from_key_input(key: &[u8]) -> Result<Vec<u8>> {
    let text = match std::str::from_utf8(key) {
        Ok(text) if text.trim_start().starts_with("-----BEGIN ") => text.trim(),
        _ => return Ok(key.to_vec()),
    };
    let invalid = || Error::configuration("Invalid client assertion key: malformed PEM");
    let rest = text.strip_prefix("-----BEGIN ").ok_or_else(invalid)?;
    let (label, rest) = rest.split_once("-----").ok_or_else(invalid)?;
    if label.contains("ENCRYPTED") {
        return Err(Error::configuration(
            "Invalid client assertion key: encrypted private keys are not supported",
        ));
    }
    if !matches!(label, "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY") {
        return Err(Error::configuration(format!(
            "Invalid client assertion key: unexpected PEM label '{label}'"
        )));
    }
    let end = format!("-----END {label}-----");
    let (body, _) = rest.split_once(end.as_str()).ok_or_else(invalid)?;
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD.decode(b64).map_err(|_| invalid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, KeyPair, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
    };

    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let mut out = format!("-----BEGIN {label}-----\n");
        for line in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
        out
    }

    fn decode_segment(segment: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    }

    #[test]
    fn basic_header_form_encodes_both_parts() {
        let h = basic_authorization("cid", "csecret");
        assert_eq!(h.to_str().unwrap(), "Basic Y2lkOmNzZWNyZXQ=");
        assert!(h.is_sensitive());

        // "a:b c" -> "a%3Ab+c", "p@ss/w%rd" -> "p%40ss%2Fw%25rd"
        let h = basic_authorization("a:b c", "p@ss/w%rd");
        let encoded = h.to_str().unwrap().strip_prefix("Basic ").unwrap();
        let decoded = String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap();
        assert_eq!(decoded, "a%3Ab+c:p%40ss%2Fw%25rd");

        // Auth0-style ids and secrets are left as they are.
        let h = basic_authorization("Ab-9_x.y", "S3cr-et_.*");
        let encoded = h.to_str().unwrap().strip_prefix("Basic ").unwrap();
        assert_eq!(STANDARD.decode(encoded).unwrap(), b"Ab-9_x.y:S3cr-et_.*");
    }

    #[test]
    fn debug_never_prints_secrets() {
        let auth = ClientAuth::secret("super-secret-value");
        let shown = format!("{auth:?}");
        assert!(!shown.contains("super-secret-value"), "{shown}");
        assert!(shown.contains("[redacted]"));
    }

    #[test]
    fn secret_auth_is_a_basic_header_and_no_fields() {
        let auth = ClientAuth::secret("csecret");
        let p = auth
            .prepare("cid", false, "https://t/oauth/token", 1_000)
            .unwrap();
        assert_eq!(
            p.authorization.unwrap().to_str().unwrap(),
            "Basic Y2lkOmNzZWNyZXQ="
        );
        assert!(p.fields.is_empty());
    }

    #[test]
    fn es256_assertion_is_signed_and_carries_the_rfc7523_claims() {
        let (pkcs8, pair) = crate::jose::keys::test_keys::p256();
        let public = pair.public_key().as_ref().to_vec();

        let sec1 =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::EcPrivateKeyRfc5915Der>::as_der(
                &pair.private_key(),
            )
            .unwrap();
        for input in [
            pkcs8.as_ref().to_vec(),
            pem("PRIVATE KEY", pkcs8.as_ref()).into_bytes(),
            sec1.as_ref().to_vec(),
            pem("EC PRIVATE KEY", sec1.as_ref()).into_bytes(),
        ] {
            let auth =
                ClientAuth::private_key_jwt(&input, Algorithm::ES256, Some("k1".into())).unwrap();
            assert_eq!(auth.method(), "private_key_jwt");
            let shown = format!("{auth:?}");
            assert!(shown.contains("ES256") && shown.contains("k1"), "{shown}");

            let p = auth
                .prepare("cid", false, "https://t.example/oauth/token", 1_000)
                .unwrap();
            assert!(p.authorization.is_none());
            let names: Vec<&str> = p.fields.iter().map(|(k, _)| *k).collect();
            assert_eq!(
                names,
                ["client_id", "client_assertion_type", "client_assertion"]
            );
            assert_eq!(p.fields[0].1, "cid");
            assert_eq!(p.fields[1].1, CLIENT_ASSERTION_TYPE_JWT_BEARER);

            let jwt = &p.fields[2].1;
            let parts: Vec<&str> = jwt.split('.').collect();
            assert_eq!(parts.len(), 3);
            assert_eq!(
                decode_segment(parts[0]),
                json!({"alg": "ES256", "typ": "JWT", "kid": "k1"})
            );
            let claims = decode_segment(parts[1]);
            assert_eq!(claims["iss"], "cid");
            assert_eq!(claims["sub"], "cid");
            assert_eq!(claims["aud"], "https://t.example/oauth/token");
            assert_eq!(claims["iat"], 1_000);
            assert_eq!(claims["exp"], 1_060);
            assert_eq!(
                URL_SAFE_NO_PAD
                    .decode(claims["jti"].as_str().unwrap())
                    .unwrap()
                    .len(),
                16
            );

            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            let signing_input = format!("{}.{}", parts[0], parts[1]);
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &public)
                .verify(signing_input.as_bytes(), &signature)
                .expect("a valid ES256 signature");

            // client_id already in the form: not repeated; every assertion gets a fresh jti.
            let q = auth
                .prepare("cid", true, "https://t.example/oauth/token", 1_000)
                .unwrap();
            assert_eq!(q.fields.len(), 2);
            assert_ne!(&q.fields[1].1, jwt);
        }
    }

    #[test]
    fn rs256_assertion_verifies_and_pkcs1_is_accepted() {
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).unwrap();
        let public = pair.public_key().as_ref().to_vec();
        let auth = ClientAuth::private_key_jwt(pkcs8.as_ref(), Algorithm::RS256, None).unwrap();
        let p = auth
            .prepare("cid", true, "https://t/oauth/token", 5)
            .unwrap();
        assert_eq!(p.fields.len(), 2);
        let jwt = &p.fields[1].1;
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(
            decode_segment(parts[0]),
            json!({"alg": "RS256", "typ": "JWT"})
        );
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
            .expect("a valid RS256 signature");

        // PKCS#1: the RSAPrivateKey inside the PKCS#8 document (after the rsaEncryption
        // AlgorithmIdentifier comes OCTET STRING, long form with two length bytes).
        let der = pkcs8.as_ref();
        let alg_id = [
            0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05,
            0x00,
        ];
        let at = der.windows(alg_id.len()).position(|w| w == alg_id).unwrap() + alg_id.len();
        assert_eq!(&der[at..at + 2], [0x04, 0x82]);
        let len = usize::from(der[at + 2]) << 8 | usize::from(der[at + 3]);
        let pkcs1 = &der[at + 4..at + 4 + len];
        for input in [
            pkcs1.to_vec(),
            pem("RSA PRIVATE KEY", pkcs1).into_bytes(),
            pem("PRIVATE KEY", der).into_bytes(),
        ] {
            let auth =
                ClientAuth::private_key_jwt(&input, Algorithm::RS256, Some("r1".into())).unwrap();
            let p = auth
                .prepare("cid", false, "https://t/oauth/token", 5)
                .unwrap();
            let jwt = &p.fields[2].1;
            let parts: Vec<&str> = jwt.split('.').collect();
            let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
                .expect("a valid RS256 signature");
        }

        // An EC key is not an RSA key, and the other way round.
        let ec =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let e = ClientAuth::private_key_jwt(ec.as_ref(), Algorithm::RS256, None).unwrap_err();
        assert_eq!(e.error_code(), "invalid_configuration");
        let e = ClientAuth::private_key_jwt(pkcs8.as_ref(), Algorithm::ES256, None).unwrap_err();
        assert_eq!(e.error_code(), "invalid_configuration");
    }

    #[test]
    fn refuses_other_algorithms_and_bad_pem() {
        let e = ClientAuth::private_key_jwt(b"whatever", Algorithm::PS256, None).unwrap_err();
        assert!(e.description().contains("RS256 or ES256"), "{e}");
        for bad in [
            "-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        ] {
            let e =
                ClientAuth::private_key_jwt(bad.as_bytes(), Algorithm::ES256, None).unwrap_err();
            assert_eq!(e.error_code(), "invalid_configuration", "{bad}");
            assert!(!e.description().contains("AAAA"), "{e}");
        }
        assert!(
            ClientAuth::private_key_jwt(b"\x30\x03\x02\x01\x00", Algorithm::ES256, None).is_err()
        );
        assert!(ClientAuth::private_key_jwt(b"", Algorithm::RS256, None).is_err());
    }
}
