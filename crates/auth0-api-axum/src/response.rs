//! From an [`auth0_api::Error`] to the HTTP answer: [`AuthRejection`].

use std::fmt;

use auth0_api::Error;
use auth0_api::challenge::append_param;
use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};

/// The `DPoP-Nonce` response header (RFC 9449 section 8).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// A request refused by the layer, an extractor or a guard; also usable as a handler's error.
///
/// Its response carries the error's status, its `WWW-Authenticate` value when it has one, a
/// `DPoP-Nonce` header when the error carries a nonce, and the JSON body
/// `{"error": <code>, "error_description": <description>}`.
///
/// ```
/// use auth0_api::Error;
/// use auth0_api_axum::AuthRejection;
/// use axum_core::response::IntoResponse;
///
/// let rejection = AuthRejection::from(
///     Error::invalid_token("Token is expired").with_www_authenticate(r#"Bearer error="invalid_token""#),
/// );
/// let response = rejection.into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(response.headers()["www-authenticate"], r#"Bearer error="invalid_token""#);
/// assert_eq!(response.headers()["content-type"], "application/json");
/// ```
pub struct AuthRejection {
    error: Error,
}

impl AuthRejection {
    /// The error behind the rejection.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Consumes the rejection into its error.
    pub fn into_error(self) -> Error {
        self.error
    }
}

impl From<Error> for AuthRejection {
    fn from(error: Error) -> Self {
        Self { error }
    }
}

impl fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AuthRejection").field(&self.error).finish()
    }
}

impl fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for AuthRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        error_response(&self.error)
    }
}

/// The response for `error`; see [`AuthRejection`].
pub fn error_response(error: &Error) -> Response {
    let body = serde_json::json!({
        "error": error.error_code(),
        "error_description": error.description(),
    })
    .to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() =
        StatusCode::from_u16(error.status_code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Some(challenge) = error.www_authenticate() {
        headers.insert(WWW_AUTHENTICATE, header_value(challenge));
    }
    if let Some(nonce) = error.dpop_nonce() {
        if let Ok(value) = HeaderValue::from_str(nonce) {
            headers.insert(DPOP_NONCE, value);
        }
    }
    response
}

/// `text` as a header value; bytes a header cannot carry (controls) become spaces.
fn header_value(text: &str) -> HeaderValue {
    HeaderValue::from_bytes(text.as_bytes()).unwrap_or_else(|_| {
        let cleaned: String = text
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        HeaderValue::from_bytes(cleaned.as_bytes()).unwrap_or(HeaderValue::from_static(""))
    })
}

/// Adds `name="value"` to every challenge of a `WWW-Authenticate` value (RFC 9110 section
/// 11.6.1): a new challenge starts after a top-level comma followed by a token that is not
/// followed by `=`. Challenges in token68 form are left alone.
pub(crate) fn add_param_to_each_challenge(header: &str, name: &str, value: &str) -> String {
    let mut out = String::with_capacity(header.len() + 2 * (name.len() + value.len() + 6));
    for (i, challenge) in split_challenges(header).into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let mut challenge = challenge.trim().to_owned();
        match challenge.split_once(' ') {
            // A scheme with parameters.
            Some((_, rest)) if rest.contains('=') && !is_token68(rest) => {
                append_param(&mut challenge, name, value);
            }
            // A scheme alone: the parameter becomes its first one.
            None if !challenge.is_empty() => {
                let mut param = String::new();
                append_param(&mut param, name, value);
                challenge.push(' ');
                challenge.push_str(param.trim_start_matches(", "));
            }
            _ => {}
        }
        out.push_str(&challenge);
    }
    out
}

/// Whether the text after a scheme is a token68 (`abc==`) rather than parameters.
fn is_token68(rest: &str) -> bool {
    let rest = rest.trim();
    let body = rest.trim_end_matches('=');
    !body.is_empty()
        && body
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._~+/".contains(c))
}

/// Splits a `WWW-Authenticate` value into its challenges.
fn split_challenges(header: &str) -> Vec<&str> {
    let bytes = header.as_bytes();
    let mut challenges = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b',' if !quoted && starts_challenge(&header[i + 1..]) => {
                challenges.push(&header[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    challenges.push(&header[start..]);
    challenges
}

/// Whether `rest` (the text after a comma) opens a new challenge: a token, then whitespace and
/// something other than `=`, or the end.
fn starts_challenge(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t']);
    let token_end = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
    if token_end == 0 {
        return false;
    }
    let after = rest[token_end..].trim_start_matches([' ', '\t']);
    !after.starts_with('=')
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RM: &str = "https://api.example.com/.well-known/oauth-protected-resource";

    #[test]
    fn resource_metadata_goes_into_every_challenge() {
        let cases = [
            (
                r#"Bearer realm="api""#,
                r#"Bearer realm="api", resource_metadata="R""#,
            ),
            (
                r#"Bearer realm="api", DPoP algs="ES256""#,
                r#"Bearer realm="api", resource_metadata="R", DPoP algs="ES256", resource_metadata="R""#,
            ),
            (
                r#"Bearer error="invalid_token", error_description="a, DPoP b=\"c\"", DPoP algs="ES256 EdDSA""#,
                r#"Bearer error="invalid_token", error_description="a, DPoP b=\"c\"", resource_metadata="R", DPoP algs="ES256 EdDSA", resource_metadata="R""#,
            ),
            (
                r#"DPoP error="invalid_dpop_proof", error_description="x", algs="ES256""#,
                r#"DPoP error="invalid_dpop_proof", error_description="x", algs="ES256", resource_metadata="R""#,
            ),
            ("Negotiate", r#"Negotiate resource_metadata="R""#),
            ("Basic abc==", "Basic abc=="),
        ];
        for (input, want) in cases {
            assert_eq!(
                add_param_to_each_challenge(input, "resource_metadata", "R"),
                want
            );
        }
        let v = add_param_to_each_challenge(r#"Bearer realm="api""#, "resource_metadata", RM);
        assert!(v.ends_with(&format!(r#"resource_metadata="{RM}""#)));
    }

    #[test]
    fn responses_carry_status_headers_and_json() {
        let err = Error::new(auth0_api::ErrorKind::UseDpopNonce, "Nonce required")
            .with_www_authenticate(r#"DPoP error="use_dpop_nonce""#)
            .with_dpop_nonce("n1");
        let response = error_response(&err);
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["dpop-nonce"], "n1");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"DPoP error="use_dpop_nonce""#
        );
        let bare = error_response(&Error::configuration("bad"));
        assert_eq!(bare.status(), 500);
        assert!(bare.headers().get("www-authenticate").is_none());
    }

    #[test]
    fn non_ascii_challenges_are_sent() {
        let v = header_value("Bearer error_description=\"caf\u{e9}\"");
        assert!(v.as_bytes().len() > 20);
    }
}
