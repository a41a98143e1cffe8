//! Compact JWS helpers and the [`TokenBuilder`] that mints test tokens.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::{KeyEntry, KeyStore};
use crate::tenant::{State, read};
use crate::{Error, TOKEN_LIFETIME_SECS};

/// base64url without padding.
pub(crate) fn b64e(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url (no padding, no trailing bits) decoding.
pub(crate) fn b64d(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// A compact JWS split into its decoded parts. The signature is not checked.
pub(crate) struct ParsedJws {
    pub(crate) header: Map<String, Value>,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signing_input: String,
    pub(crate) signature: Vec<u8>,
}

/// Splits and decodes a compact JWS whose header and payload are JSON objects.
pub(crate) fn parse_jws(token: &str) -> Option<ParsedJws> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = match serde_json::from_slice(&b64d(h)?).ok()? {
        Value::Object(map) => map,
        _ => return None,
    };
    let claims = match serde_json::from_slice(&b64d(p)?).ok()? {
        Value::Object(map) => map,
        _ => return None,
    };
    Some(ParsedJws {
        header,
        claims,
        signing_input: format!("{h}.{p}"),
        signature: b64d(s)?,
    })
}

/// `b64(header).b64(payload).b64(RS256 signature)` over raw bytes.
pub(crate) fn sign_raw_rs256(
    key: &KeyEntry,
    header: &[u8],
    payload: &[u8],
) -> Result<String, Error> {
    let input = format!("{}.{}", b64e(header), b64e(payload));
    let sig = key.sign(input.as_bytes())?;
    Ok(format!("{input}.{}", b64e(&sig)))
}

/// Serializes header and claims and signs them RS256 with `key`.
pub(crate) fn sign_rs256(
    key: &KeyEntry,
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> Result<String, Error> {
    let header = serde_json::to_vec(header).map_err(|e| Error::Crypto(e.to_string()))?;
    let claims = serde_json::to_vec(claims).map_err(|e| Error::Crypto(e.to_string()))?;
    sign_raw_rs256(key, &header, &claims)
}

/// Checks a token the tenant itself issued: RS256 under a published key,
/// `iss` equal to `issuer`, `exp` in the future. Returns its claims.
pub(crate) fn validate_own_token(
    keys: &KeyStore,
    issuer: &str,
    token: &str,
    now: i64,
) -> Option<Map<String, Value>> {
    let jws = parse_jws(token)?;
    if jws.header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return None;
    }
    let kid = jws.header.get("kid").and_then(Value::as_str);
    let verified = keys
        .published()
        .filter(|k| kid.is_none_or(|kid| kid == k.kid))
        .any(|k| k.verify(jws.signing_input.as_bytes(), &jws.signature));
    if !verified {
        return None;
    }
    if jws.claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return None;
    }
    let exp = jws.claims.get("exp").and_then(Value::as_f64)?;
    if exp <= now as f64 {
        return None;
    }
    Some(jws.claims)
}

/// Mints a token signed by one of the tenant's keys, with any header and
/// claims: see [`crate::DevTenant::mint`].
///
/// Defaults: header `{"alg": "RS256", "typ": "JWT", "kid": <active kid>}`;
/// claims `iss` = the issuer, `sub` = `"user_123"`, `aud` = the first
/// registered audience (or `"https://api.example.com"`), `iat` = now,
/// `exp` = now + 3600.
#[must_use = "a TokenBuilder does nothing until signed"]
#[derive(Clone)]
pub struct TokenBuilder {
    state: Arc<State>,
    header: Map<String, Value>,
    claims: Map<String, Value>,
    /// The key that signs: the active key when the builder was made, or the
    /// one chosen with [`signing_kid`](Self::signing_kid).
    signing_kid: String,
}

impl std::fmt::Debug for TokenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("header", &self.header)
            .field("claims", &self.claims)
            .field("signing_kid", &self.signing_kid)
            .finish()
    }
}

impl TokenBuilder {
    pub(crate) fn new(state: Arc<State>) -> Self {
        let now = crate::now();
        let kid = read(&state.keys).active_kid().to_owned();
        let mut header = Map::new();
        header.insert("alg".into(), json!("RS256"));
        header.insert("typ".into(), json!("JWT"));
        header.insert("kid".into(), json!(kid.clone()));
        let mut claims = Map::new();
        claims.insert("iss".into(), json!(state.issuer));
        claims.insert("sub".into(), json!("user_123"));
        claims.insert("aud".into(), json!(state.default_audience()));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + TOKEN_LIFETIME_SECS));
        TokenBuilder {
            state,
            header,
            claims,
            signing_kid: kid,
        }
    }

    /// Sets `sub`.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, sub: impl Into<String>) -> Self {
        self.claim("sub", Value::String(sub.into()))
    }

    /// Sets `aud` (a string or an array).
    pub fn aud(self, aud: Value) -> Self {
        self.claim("aud", aud)
    }

    /// Sets `iss` (defaults to the tenant's issuer).
    pub fn issuer(self, iss: impl Into<String>) -> Self {
        self.claim("iss", Value::String(iss.into()))
    }

    /// Sets `scope` (space-separated).
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.claim("scope", Value::String(scope.into()))
    }

    /// Sets `iat`.
    pub fn iat(self, iat: i64) -> Self {
        self.claim("iat", json!(iat))
    }

    /// Sets `exp` to now + `secs` (negative for a past expiry).
    pub fn expires_in(self, secs: i64) -> Self {
        self.claim("exp", json!(crate::now().saturating_add(secs)))
    }

    /// Makes the token expired: `iat` = now - 3660, `exp` = now - 60.
    pub fn expired(self) -> Self {
        let now = crate::now();
        self.claim("iat", json!(now - TOKEN_LIFETIME_SECS - 60))
            .claim("exp", json!(now - 60))
    }

    /// Sets `cnf` to `{"jkt": thumbprint}` (a DPoP-bound token).
    pub fn cnf_jkt(self, jkt: impl Into<String>) -> Self {
        self.claim("cnf", json!({ "jkt": jkt.into() }))
    }

    /// Sets `act` (the RFC 8693 actor claim).
    pub fn act(self, act: Value) -> Self {
        self.claim("act", act)
    }

    /// Sets `acr`, the authentication context class the user logged in with (RFC 9470
    /// section 4), for step-up tests.
    pub fn acr(self, acr: impl Into<String>) -> Self {
        self.claim("acr", Value::String(acr.into()))
    }

    /// Sets `auth_time` to now - `secs_ago`: when the user logged in (RFC 9470 section 4).
    pub fn authenticated_secs_ago(self, secs_ago: i64) -> Self {
        self.claim("auth_time", json!(crate::now().saturating_sub(secs_ago)))
    }

    jws_member_setters! {
        /// Sets any claim, replacing an existing value.
        claim,
        /// Removes a claim (e.g. `"exp"`).
        remove_claim => claims;
        /// Sets any header member, replacing an existing value. Note that
        /// [`sign`](Self::sign) always signs RS256 whatever `alg` says.
        header,
        /// Removes a header member (e.g. `"kid"`).
        remove_header => header;
    }

    /// Sets the header `kid` only; the signing key does not change.
    pub fn kid(self, kid: impl Into<String>) -> Self {
        self.header("kid", Value::String(kid.into()))
    }

    /// Signs with the key `kid` (published, retired or not yet active) and
    /// sets the header `kid` to it.
    pub fn signing_kid(mut self, kid: impl Into<String>) -> Self {
        let kid = kid.into();
        self.header.insert("kid".into(), Value::String(kid.clone()));
        self.signing_kid = kid;
        self
    }

    /// The header as it will be serialized.
    pub fn header_json(&self) -> &Map<String, Value> {
        &self.header
    }

    /// The claims as they will be serialized.
    pub fn claims_json(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn with_key<T>(&self, f: impl FnOnce(&KeyEntry) -> Result<T, Error>) -> Result<T, Error> {
        let keys = read(&self.state.keys);
        let key = keys
            .get(&self.signing_kid)
            .ok_or_else(|| Error::UnknownKid(self.signing_kid.clone()))?;
        f(key)
    }

    /// Signs RS256 with the key that was active when [`crate::DevTenant::mint`]
    /// was called (or the [`signing_kid`](Self::signing_kid) key).
    ///
    /// # Errors
    /// [`Error::UnknownKid`] if the signing key does not exist; [`Error::Crypto`]
    /// if signing fails.
    pub fn try_sign(&self) -> Result<String, Error> {
        self.with_key(|key| sign_rs256(key, &self.header, &self.claims))
    }

    /// Like [`try_sign`](Self::try_sign), for tests.
    ///
    /// # Panics
    /// If [`try_sign`](Self::try_sign) fails (an unknown
    /// [`signing_kid`](Self::signing_kid), or a crypto failure).
    pub fn sign(&self) -> String {
        infallible(self.try_sign())
    }

    /// Signs with HMAC-SHA256 under `secret`, header `alg` set to `HS256`
    /// (for algorithm-confusion tests).
    ///
    /// # Panics
    /// If the header or claims cannot be serialized (they always can).
    pub fn sign_with_hs256(&self, secret: &[u8]) -> String {
        let mut header = self.header.clone();
        header.insert("alg".into(), json!("HS256"));
        let input = format!(
            "{}.{}",
            b64e(&infallible(serde_json::to_vec(&header))),
            b64e(&infallible(serde_json::to_vec(&self.claims)))
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", b64e(tag.as_ref()))
    }

    /// An unsecured JWS: header `alg` set to `none`, empty signature.
    ///
    /// # Panics
    /// If the header or claims cannot be serialized (they always can).
    pub fn unsigned_none(&self) -> String {
        let mut header = self.header.clone();
        header.insert("alg".into(), json!("none"));
        format!(
            "{}.{}.",
            b64e(&infallible(serde_json::to_vec(&header))),
            b64e(&infallible(serde_json::to_vec(&self.claims)))
        )
    }

    /// Signs arbitrary header and payload bytes RS256 with the active key
    /// (or the [`signing_kid`](Self::signing_kid) key); the builder's own
    /// header and claims are ignored. For duplicate-member and non-object
    /// tests.
    ///
    /// # Panics
    /// If the signing key does not exist or signing fails.
    pub fn raw(&self, header_json: &[u8], payload_json: &[u8]) -> String {
        infallible(self.with_key(|key| sign_raw_rs256(key, header_json, payload_json)))
    }
}

/// Unwraps results of test helpers whose failure is a programming error.
#[allow(clippy::panic)]
pub(crate) fn infallible<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(value) => value,
        Err(err) => panic!("auth0-api-dev-tenant: {err}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn parse_rejects_malformed() {
        assert!(parse_jws("a.b").is_none());
        assert!(parse_jws("a.b.c.d").is_none());
        let h = b64e(br#"{"alg":"RS256"}"#);
        let arr = b64e(b"[]");
        assert!(parse_jws(&format!("{h}.{arr}.")).is_none());
        assert!(parse_jws(&format!("{h}.{h}.===")).is_none());
        let ok = parse_jws(&format!("{h}.{h}.")).unwrap();
        assert!(ok.signature.is_empty());
        assert_eq!(ok.signing_input, format!("{h}.{h}"));
    }
}
