//! Where else a request may carry its access token (off by default): the form body and the
//! query (RFC 6750 sections 2.2 and 2.3), a cookie or a custom header (browsers, `EventSource`
//! clients that cannot set `Authorization`).
//!
//! A token found in one of these places is verified as a `Bearer` token (a DPoP-bound token is
//! refused there, as with `Authorization: Bearer`). RFC 6750 section 2 allows one method per
//! request: a request that carries a token in more than one place (the `Authorization` header
//! included), or the same parameter, cookie or header twice, is `400 invalid_request`.
//!
//! - **Form body** (section 2.2): only for a `Content-Type: application/x-www-form-urlencoded`
//!   body of a method other than `GET` or `HEAD`, passed with
//!   [`VerifyRequest::form_body`](crate::VerifyRequest::form_body) (the library never reads a
//!   body itself, nor does the axum layer, which streams bodies untouched: call
//!   `verify_request` from the handler for form tokens); at most [`MAX_FORM_BODY_BYTES`].
//! - **Query** (section 2.3): the `access_token` parameter of the request URL. RFC 6750
//!   section 5.3 warns that URLs end up in logs and histories: prefer anything else. A server
//!   that accepts it should send `Cache-Control: private` (section 2.3).
//! - **Cookie**: the named cookie. A cookie is sent by the browser on cross-site requests too:
//!   pair it with `SameSite=Strict` (or `Lax` for safe methods only) and CSRF protection.
//! - **Header**: the named header, whose whole value is the token.
//!
//! [`VerifiedRequest::token_source`](crate::VerifiedRequest::token_source) tells where the
//! verified token was found ([`TokenSource`]), and
//! [`ApiClient::token_in_locations`](crate::ApiClient::token_in_locations) finds a token the
//! way `verify_request` does, without verifying it (for middleware: is the request anonymous,
//! which token was verified). The axum layer uses both: optional routes treat a token in any
//! configured location as credentials, `AccessToken` is the verified token, and a query
//! token's success gets `Cache-Control: private`.
//!
//! ```
//! use auth0_api::{ApiClientOptions, TokenLocations};
//! let options = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .token_locations(TokenLocations::new().query().cookie("access_token"))
//!     .build()?;
//! # let _ = options;
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::borrow::Cow;

use http::HeaderName;

use crate::error::{Error, RequestError, Result};
use crate::request::VerifyRequest;

/// Most bytes of a form body searched for `access_token`.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;

/// The form and query parameter of RFC 6750.
const PARAMETER: &str = "access_token";

/// The places besides `Authorization` a request may carry its token in (none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct TokenLocations {
    form_body: bool,
    query: bool,
    cookie: Option<String>,
    header: Option<String>,
}

impl TokenLocations {
    /// None (the `Authorization` header only).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `access_token` parameter of a form body (RFC 6750 section 2.2).
    pub fn form_body(mut self) -> Self {
        self.form_body = true;
        self
    }

    /// The `access_token` query parameter (RFC 6750 section 2.3).
    pub fn query(mut self) -> Self {
        self.query = true;
        self
    }

    /// The cookie `name`.
    pub fn cookie(mut self, name: impl Into<String>) -> Self {
        self.cookie = Some(name.into());
        self
    }

    /// The header `name`, whose whole value is the token.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        self.header = Some(name.into());
        self
    }

    /// Checks the names (called by the options builder).
    pub(crate) fn validate(self) -> Result<CheckedLocations> {
        let cookie = match self.cookie {
            Some(name)
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?={}".contains(&b)) =>
            {
                return Err(Error::configuration(format!(
                    "token cookie name {name:?} is not a cookie name"
                )));
            }
            other => other,
        };
        let header = match self.header {
            Some(name) => {
                let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    Error::configuration(format!("token header name {name:?} is not a header name"))
                })?;
                if parsed == http::header::AUTHORIZATION || parsed.as_str() == "dpop" {
                    return Err(Error::configuration(format!(
                        "token header name {name:?} is already read as a credential"
                    )));
                }
                Some(parsed)
            }
            None => None,
        };
        Ok(CheckedLocations {
            form_body: self.form_body,
            query: self.query,
            cookie,
            header,
        })
    }
}

/// Where a request's access token was found: the `Authorization` header, or one of the
/// [`TokenLocations`]. [`VerifiedRequest::token_source`](crate::VerifiedRequest::token_source)
/// tells it for a verified request (a server answering a query token should add
/// `Cache-Control: private`, RFC 6750 section 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// The `Authorization` header (`Bearer` or `DPoP`).
    Authorization,
    /// The `access_token` parameter of a form body (RFC 6750 section 2.2).
    FormBody,
    /// The `access_token` query parameter (RFC 6750 section 2.3).
    Query,
    /// The configured cookie.
    Cookie,
    /// The configured header.
    Header,
}

/// [`TokenLocations`] with checked names.
#[derive(Debug, Clone)]
pub(crate) struct CheckedLocations {
    form_body: bool,
    query: bool,
    cookie: Option<String>,
    header: Option<HeaderName>,
}

impl CheckedLocations {
    /// The token the request carries outside `Authorization`, if any, and where: at most one
    /// place, once.
    pub(crate) fn find<'r>(
        &self,
        request: &'r VerifyRequest<'_>,
    ) -> Result<Option<(TokenSource, Cow<'r, str>)>, RequestError> {
        let mut found: Option<(TokenSource, Cow<'r, str>)> = None;
        let mut take =
            |source: TokenSource, token: Option<Cow<'r, str>>| -> Result<(), RequestError> {
                match (token, &found) {
                    (Some(_), Some(_)) => Err(RequestError::SeveralTokenMethods),
                    (Some(token), None) => {
                        found = Some((source, token));
                        Ok(())
                    }
                    (None, _) => Ok(()),
                }
            };
        if self.form_body {
            take(TokenSource::FormBody, form_token(request)?)?;
        }
        if self.query
            && let Some(url) = request.url.as_deref()
            && let Some((_, query)) = url.split_once('?')
        {
            let query = query.split_once('#').map_or(query, |(q, _)| q);
            take(
                TokenSource::Query,
                parameter(query.as_bytes())?.map(|t| Cow::Owned(t.into_owned())),
            )?;
        }
        if let Some(name) = &self.cookie {
            take(
                TokenSource::Cookie,
                cookie(request, name)?.map(Cow::Borrowed),
            )?;
        }
        if let Some(name) = &self.header {
            let mut values = request.headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (_, Some(_)) => return Err(RequestError::RepeatedToken),
                (Some(v), None) => take(
                    TokenSource::Header,
                    v.to_str().ok().map(str::trim).map(Cow::Borrowed),
                )?,
                (None, None) => {}
            }
        }
        Ok(found.filter(|(_, t)| !t.is_empty()))
    }
}

/// The form body's `access_token`, when the request is one RFC 6750 section 2.2 allows.
fn form_token<'r>(request: &'r VerifyRequest<'_>) -> Result<Option<Cow<'r, str>>, RequestError> {
    let Some(body) = request.form_body.as_deref() else {
        return Ok(None);
    };
    let method = request.method.as_deref().unwrap_or_default();
    if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        return Ok(None);
    }
    let form = request
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Ok(None);
    }
    if body.len() > MAX_FORM_BODY_BYTES {
        return Err(RequestError::FormBodyTooLarge);
    }
    Ok(parameter(body)?.map(|t| Cow::Owned(t.into_owned())))
}

/// The one `access_token` of an `application/x-www-form-urlencoded` text.
fn parameter(text: &[u8]) -> Result<Option<Cow<'_, str>>, RequestError> {
    let mut found = None;
    for (name, value) in url::form_urlencoded::parse(text) {
        if name == PARAMETER {
            if found.is_some() {
                return Err(RequestError::RepeatedToken);
            }
            found = Some(value);
        }
    }
    Ok(found)
}

/// The value of cookie `name` across the request's `Cookie` headers (RFC 6265 section 5.4).
fn cookie<'r>(request: &'r VerifyRequest<'_>, name: &str) -> Result<Option<&'r str>, RequestError> {
    let mut found = None;
    let pairs = request
        .headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'));
    for pair in pairs {
        if let Some((n, v)) = pair.split_once('=')
            && n.trim() == name
        {
            if found.is_some() {
                return Err(RequestError::RepeatedToken);
            }
            let v = v.trim();
            found = Some(
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v),
            );
        }
    }
    Ok(found)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn locations(l: TokenLocations) -> CheckedLocations {
        l.validate().unwrap()
    }

    fn find(l: &CheckedLocations, r: &VerifyRequest<'_>) -> Result<Option<String>, RequestError> {
        l.find(r).map(|t| t.map(|(_, t)| t.into_owned()))
    }

    fn source(l: &CheckedLocations, r: &VerifyRequest<'_>) -> Option<TokenSource> {
        l.find(r).ok().flatten().map(|(source, _)| source)
    }

    /// Every location on: form body, query, cookie `at`, header `x-token`.
    fn every_location() -> CheckedLocations {
        locations(
            TokenLocations::new()
                .form_body()
                .query()
                .cookie("at")
                .header("x-token"),
        )
    }

    /// A `GET` of `url` with the header `pairs`.
    fn get(url: &str, pairs: &[(&str, &str)]) -> VerifyRequest<'static> {
        VerifyRequest::from_pairs(pairs.iter().copied())
            .method("GET")
            .url(url.to_owned())
    }

    #[test]
    fn token_location_sources_are_told() {
        let all = every_location();
        assert_eq!(
            source(&all, &get("https://a/?access_token=q", &[])),
            Some(TokenSource::Query)
        );
        assert_eq!(
            source(&all, &get("https://a/", &[("cookie", "at=c")])),
            Some(TokenSource::Cookie)
        );
        assert_eq!(
            source(&all, &get("https://a/", &[("x-token", "h")])),
            Some(TokenSource::Header)
        );
        let post =
            VerifyRequest::from_pairs([("content-type", "application/x-www-form-urlencoded")])
                .method("POST")
                .form_body(&b"access_token=f"[..]);
        assert_eq!(source(&all, &post), Some(TokenSource::FormBody));
        assert_eq!(source(&all, &get("https://a/?access_token=", &[])), None);
        assert_eq!(source(&all, &get("https://a/", &[])), None);
    }

    #[test]
    fn token_location_each_place_once() {
        let all = every_location();
        assert_eq!(
            find(&all, &get("https://a/x?access_token=t%2B1", &[])),
            Ok(Some("t+1".into()))
        );
        assert_eq!(
            find(&all, &get("https://a/x?a=1#access_token=t", &[])),
            Ok(None)
        );
        assert_eq!(
            find(&all, &get("https://a/x?access_token=1&access_token=2", &[])),
            Err(RequestError::RepeatedToken)
        );
        assert_eq!(
            find(&all, &get("https://a/", &[("cookie", "a=b; at=tok")])),
            Ok(Some("tok".into()))
        );
        assert_eq!(
            find(&all, &get("https://a/", &[("cookie", "at=\"tok\"")])),
            Ok(Some("tok".into()))
        );
        assert_eq!(
            find(
                &all,
                &get("https://a/", &[("cookie", "at=1"), ("cookie", "at=2")])
            ),
            Err(RequestError::RepeatedToken)
        );
        assert_eq!(
            find(&all, &get("https://a/", &[("x-token", "tok")])),
            Ok(Some("tok".into()))
        );
        assert_eq!(
            find(
                &all,
                &get("https://a/?access_token=q", &[("x-token", "tok")])
            ),
            Err(RequestError::SeveralTokenMethods)
        );

        let post = |ct: &str, body: &'static [u8]| {
            VerifyRequest::from_pairs([("content-type", ct)])
                .method("POST")
                .url("https://a/")
                .form_body(body)
        };
        assert_eq!(
            find(
                &all,
                &post(
                    "application/x-www-form-urlencoded; charset=utf-8",
                    b"a=1&access_token=f"
                )
            ),
            Ok(Some("f".into()))
        );
        assert_eq!(
            find(&all, &post("application/json", b"access_token=f")),
            Ok(None)
        );
        let big: &'static [u8] = Box::leak(vec![b'a'; MAX_FORM_BODY_BYTES + 1].into_boxed_slice());
        assert_eq!(
            find(&all, &post("application/x-www-form-urlencoded", big)),
            Err(RequestError::FormBodyTooLarge)
        );
        // A GET's body is never read (section 2.2).
        let get_form =
            VerifyRequest::from_pairs([("content-type", "application/x-www-form-urlencoded")])
                .method("GET")
                .form_body(&b"access_token=f"[..]);
        assert_eq!(find(&all, &get_form), Ok(None));

        // Off by default: nothing is looked at.
        let none = locations(TokenLocations::new());
        assert_eq!(
            find(
                &none,
                &get("https://a/?access_token=q", &[("cookie", "at=1")])
            ),
            Ok(None)
        );
    }

    #[test]
    fn token_location_names_are_checked() {
        assert!(TokenLocations::new().cookie("a b").validate().is_err());
        assert!(TokenLocations::new().cookie("").validate().is_err());
        assert!(
            TokenLocations::new()
                .header("bad header")
                .validate()
                .is_err()
        );
        assert!(
            TokenLocations::new()
                .header("Authorization")
                .validate()
                .is_err()
        );
        assert!(TokenLocations::new().header("DPoP").validate().is_err());
        assert!(
            TokenLocations::new()
                .header("X-Access-Token")
                .validate()
                .is_ok()
        );
    }
}
