//! From an [`auth0_api::Error`] to the HTTP answer: [`AuthRejection`].

use std::fmt;

use auth0_api::Error;
use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderName, HeaderValue, StatusCode};

/// The inner service's response body, as the layer's services box it into an axum [`Body`]
/// (`Body::new`'s bounds).
pub(crate) trait BoxableBody:
    http_body::Body<Data = bytes::Bytes, Error: Into<axum_core::BoxError>> + Send + 'static
{
}

impl<B> BoxableBody for B where
    B: http_body::Body<Data = bytes::Bytes, Error: Into<axum_core::BoxError>> + Send + 'static
{
}

/// The `DPoP-Nonce` response header (RFC 9449 section 8).
pub const DPOP_NONCE: HeaderName = HeaderName::from_static("dpop-nonce");

/// A request refused by the layer, an extractor or a guard; also usable as a handler's error.
///
/// Its response carries the error's status, its `WWW-Authenticate` value when it has one, a
/// `DPoP-Nonce` header when the error carries a nonce, and the JSON body
/// `{"error": <code>, "error_description": <description>}`.
///
/// ```
/// use auth0_api::challenge::Challenges;
/// use auth0_api::error::TokenError;
/// use auth0_api::{DpopMode, Error};
/// use auth0_api_axum::AuthRejection;
/// use axum_core::response::IntoResponse;
///
/// let error = Error::from(TokenError::Expired);
/// let challenges = Challenges::for_error(DpopMode::Disabled, None, error.challenge_details(), "ES256");
/// let response = AuthRejection::from(error.with_challenges(challenges)).into_response();
/// assert_eq!(response.status(), 401);
/// assert_eq!(
///     response.headers()["www-authenticate"],
///     r#"Bearer error="invalid_token", error_description="Token is expired""#
/// );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_carry_status_headers_and_json() {
        let err =
            Error::new(auth0_api::ErrorKind::UseDpopNonce, "Nonce required").with_dpop_nonce("n1");
        let challenges = auth0_api::challenge::Challenges::for_error(
            auth0_api::DpopMode::Required,
            Some(auth0_api::AuthScheme::Dpop),
            err.challenge_details(),
            "ES256",
        );
        let err = err.with_challenges(challenges);
        let response = error_response(&err);
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["dpop-nonce"], "n1");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"DPoP error="use_dpop_nonce", error_description="Nonce required", algs="ES256""#
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
