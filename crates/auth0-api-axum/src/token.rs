//! [`AccessToken`]: the caller's raw access token, kept out of logs.

use std::fmt;

use axum_core::extract::FromRequestParts;
use http::HeaderMap;
use http::request::Parts;

use crate::context::{cloned_extension, unauthenticated};
use crate::response::AuthRejection;

/// The raw access token of an authenticated request, as the client sent it: from the
/// `Authorization` header (without the scheme), or from the configured
/// [`TokenLocations`](auth0_api::TokenLocations) place it was verified from.
///
/// The layer stores it in the request extensions next to the
/// [`VerifiedRequest`](auth0_api::VerifiedRequest), for what needs the token itself: exchanging
/// it on behalf of the user ([`ApiClient::get_token_on_behalf_of`]) or federated connection
/// tokens. `Debug` prints `[redacted]`; read it with [`expose`](Self::expose). As an extractor it
/// rejects unauthenticated requests like [`Authenticated`](crate::Authenticated).
///
/// ```
/// use auth0_api_axum::{AccessToken, AuthContext, AuthRejection};
///
/// async fn call_downstream(context: AuthContext, token: AccessToken) -> Result<String, AuthRejection> {
///     let exchanged = context
///         .client()
///         .get_token_on_behalf_of(token.expose(), "https://calendar.example.com", Some("calendar:read"))
///         .await
///         .map_err(AuthRejection::from)?;
///     Ok(format!("{:?}", exchanged.access_token)) // "[redacted]"
/// }
/// ```
///
/// [`ApiClient::get_token_on_behalf_of`]: auth0_api::ApiClient::get_token_on_behalf_of
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// The token itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A token found by the layer (outside `Authorization`).
    pub(crate) fn new(token: String) -> Self {
        Self(token)
    }

    /// The token from an `Authorization` header of the form `<scheme> <token>` (split at the
    /// first run of whitespace, as `verify_request` does).
    pub(crate) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
        let value = value.trim_start();
        let end = value.find(char::is_whitespace)?;
        let token = value[end..].trim_start();
        (!token.is_empty()).then(|| Self(token.to_owned()))
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken([redacted])")
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        cloned_extension(parts, unauthenticated)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_verify_request_and_redacts() {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", "  DPoP \t abc.def.ghi".parse().unwrap());
        let token = AccessToken::from_headers(&headers).unwrap();
        assert_eq!(token.expose(), "abc.def.ghi");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        headers.insert("authorization", "Bearer".parse().unwrap());
        assert!(AccessToken::from_headers(&headers).is_none());
    }
}
