//! Client authentication at the token endpoint: `client_secret_basic`,
//! `client_secret_post` and `private_key_jwt` (RFC 7523).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderValue, header};
use serde_json::Value;

use crate::CLIENT_ASSERTION_JWT_BEARER;
use crate::jwt::parse_jws;
use crate::proofs::{verify_es256, verify_rs256};
use crate::tenant::{ClientConfig, State};
use crate::token_endpoint::{Form, OAuthError};

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX`
/// a byte; malformed escapes are kept literally).
fn form_decode(s: &str) -> String {
    let hex = |b: u8| char::from(b).to_digit(16);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'+' => out.push(b' '),
            b'%' => match (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            ) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn invalid_client(description: &str, basic: bool) -> OAuthError {
    let err = OAuthError::invalid_client(description);
    if basic {
        err.with_basic_challenge()
    } else {
        err
    }
}

fn invalid_request(description: &str) -> OAuthError {
    OAuthError::invalid_request(description)
}

fn secret_matches(client: &ClientConfig, secret: &str) -> bool {
    client.secret.as_deref().is_some_and(|expected| {
        aws_lc_rs::constant_time::verify_slices_are_equal(expected.as_bytes(), secret.as_bytes())
            .is_ok()
    })
}

/// Authenticates the client of a token request; errors are ready responses
/// (400 `invalid_request`, 401 `invalid_client`).
pub(crate) fn authenticate<'s>(
    state: &'s State,
    headers: &HeaderMap,
    form: &Form,
) -> Result<&'s ClientConfig, OAuthError> {
    let authorizations: Vec<&HeaderValue> = headers.get_all(header::AUTHORIZATION).iter().collect();
    let has_assertion =
        form.get("client_assertion").is_some() || form.get("client_assertion_type").is_some();
    match authorizations.as_slice() {
        [] => {}
        [value] => {
            if form.get("client_secret").is_some() || has_assertion {
                return Err(invalid_request(
                    "more than one client authentication method used",
                ));
            }
            return basic(state, value, form);
        }
        _ => return Err(invalid_request("more than one Authorization header")),
    }
    if has_assertion {
        if form.get("client_secret").is_some() {
            return Err(invalid_request(
                "more than one client authentication method used",
            ));
        }
        return assertion(state, form);
    }
    let Some(client_id) = form.get("client_id") else {
        return Err(invalid_client("client authentication required", true));
    };
    let Some(secret) = form.get("client_secret") else {
        return Err(invalid_client("client authentication required", false));
    };
    match state.client(client_id) {
        Some(client) if secret_matches(client, secret) => Ok(client),
        _ => Err(invalid_client("invalid client credentials", false)),
    }
}

fn basic<'s>(
    state: &'s State,
    value: &HeaderValue,
    form: &Form,
) -> Result<&'s ClientConfig, OAuthError> {
    let bad = || invalid_client("malformed Basic credentials", true);
    let text = value.to_str().map_err(|_| bad())?;
    let (scheme, encoded) = text.split_once(' ').ok_or_else(bad)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(invalid_client("unsupported Authorization scheme", true));
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let (id, secret) = (form_decode(id), form_decode(secret));
    if form.get("client_id").is_some_and(|form_id| form_id != id) {
        return Err(invalid_request(
            "client_id does not match the Authorization header",
        ));
    }
    match state.client(&id) {
        Some(client) if secret_matches(client, &secret) => Ok(client),
        _ => Err(invalid_client("invalid client credentials", true)),
    }
}

fn assertion<'s>(state: &'s State, form: &Form) -> Result<&'s ClientConfig, OAuthError> {
    if form.get("client_assertion_type") != Some(CLIENT_ASSERTION_JWT_BEARER) {
        return Err(invalid_request(
            "unsupported or missing client_assertion_type",
        ));
    }
    let Some(token) = form.get("client_assertion") else {
        return Err(invalid_request("missing client_assertion"));
    };
    let bad = |why: &str| invalid_client(&format!("invalid client assertion: {why}"), false);
    let jws = parse_jws(token).ok_or_else(|| bad("not a JWS"))?;
    let claim = |name: &str| jws.claims.get(name).and_then(Value::as_str);
    let iss = claim("iss").ok_or_else(|| bad("missing iss"))?;
    if claim("sub") != Some(iss) {
        return Err(bad("sub must equal iss"));
    }
    if form.get("client_id").is_some_and(|id| id != iss) {
        return Err(bad("iss does not match client_id"));
    }
    let client = state.client(iss).ok_or_else(|| bad("unknown client"))?;
    let jwk = client
        .jwk
        .as_ref()
        .ok_or_else(|| bad("client has no registered key"))?;
    let msg = jws.signing_input.as_bytes();
    let verified = match jws.header.get("alg").and_then(Value::as_str) {
        Some("RS256") => verify_rs256(jwk, msg, &jws.signature),
        Some("ES256") => verify_es256(jwk, msg, &jws.signature),
        _ => false,
    };
    if !verified {
        return Err(bad("signature verification failed"));
    }
    let issuer_no_slash = state.issuer.trim_end_matches('/');
    let accepted = [
        state.issuer.as_str(),
        issuer_no_slash,
        state.token_endpoint.as_str(),
    ];
    let aud_ok = match jws.claims.get("aud") {
        Some(Value::String(aud)) => accepted.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds
            .iter()
            .filter_map(Value::as_str)
            .any(|aud| accepted.contains(&aud)),
        _ => false,
    };
    if !aud_ok {
        return Err(bad("aud must be the issuer or the token endpoint"));
    }
    let now = crate::now();
    match jws.claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp > now as f64 => {}
        _ => return Err(bad("missing or past exp")),
    }
    if jws
        .claims
        .get("nbf")
        .and_then(Value::as_f64)
        .is_some_and(|nbf| nbf > (now + 60) as f64)
    {
        return Err(bad("not yet valid"));
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::form_decode;

    #[test]
    fn form_decoding() {
        assert_eq!(form_decode("a+b%2Bc%3A%"), "a b+c:%");
        assert_eq!(form_decode("%zz%4"), "%zz%4");
        assert_eq!(form_decode("%+1"), "% 1");
        assert_eq!(form_decode("%C3%A9"), "é");
    }
}
