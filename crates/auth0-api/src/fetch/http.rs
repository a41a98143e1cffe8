//! The one HTTP client: explicit timeouts, extra root CAs, no redirects, capped bodies.
//!
//! Discovery, JWKS and the token endpoint all go through [`HttpClient`]. Bodies are read in
//! chunks and refused past a cap (1 MiB by default), so a hostile or broken server cannot make
//! the API buffer without bound.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, Result};

/// Largest discovery, JWKS or token-endpoint body accepted (bytes).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Why a fetch failed, with texts fit for an error description.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer within the timeout.
    Timeout,
    /// Connection, TLS or protocol failure (the reason, without the URL).
    Network(String),
    /// An answer whose status is not 2xx.
    Status(u16),
    /// A body over the cap.
    TooLarge(usize),
    /// The answer came from another URL: a caller-supplied client followed a redirect (ours
    /// never does), and a redirected answer is never used.
    Redirected,
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("request timed out"),
            Self::Network(e) => write!(f, "network error: {e}"),
            Self::Status(s) => write!(f, "unexpected HTTP status {s}"),
            Self::TooLarge(max) => write!(f, "response body exceeds {max} bytes"),
            Self::Redirected => f.write_str("redirects are not followed"),
        }
    }
}

impl std::error::Error for FetchError {}

/// reqwest's message without the URL (which could carry a query string).
fn without_url(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut s = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}

/// A response read in full (status, headers, body within the cap).
#[derive(Debug)]
pub struct FetchedBody {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Vec<u8>,
}

/// The HTTP client shared by discovery, JWKS and token exchange.
#[derive(Clone, Debug)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// Builds the client from the options (or takes the caller's).
    pub(crate) fn new(
        custom: Option<&reqwest::Client>,
        timeout: Duration,
        root_certificates: &[reqwest::Certificate],
        only_given_roots: bool,
    ) -> Result<Self> {
        let client = match custom {
            Some(c) => c.clone(),
            None => {
                let mut b = reqwest::Client::builder()
                    .connect_timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .user_agent(concat!("auth0-api-rust/", env!("CARGO_PKG_VERSION")));
                if only_given_roots {
                    b = b.tls_certs_only(root_certificates.iter().cloned());
                } else if !root_certificates.is_empty() {
                    b = b.tls_certs_merge(root_certificates.iter().cloned());
                }
                b.build().map_err(|e| {
                    Error::configuration(format!("Could not build the HTTP client: {e}"))
                })?
            }
        };
        Ok(Self { client, timeout })
    }

    /// The underlying reqwest client.
    pub fn inner(&self) -> &reqwest::Client {
        &self.client
    }

    /// GETs `url` and reads a 2xx body within the cap.
    pub async fn get(&self, url: &str) -> Result<FetchedBody, FetchError> {
        let req = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .timeout(self.timeout);
        let body = send(req, MAX_BODY_BYTES).await?;
        if !(200..300).contains(&body.status) {
            return Err(FetchError::Status(body.status));
        }
        Ok(body)
    }
}

/// Sends a request and reads its body within `cap` bytes, whatever the status.
pub async fn send(req: reqwest::RequestBuilder, cap: usize) -> Result<FetchedBody, FetchError> {
    let (client, request) = req.build_split();
    let request = request.map_err(classify)?;
    let url = request.url().clone();
    let mut resp = client.execute(request).await.map_err(classify)?;
    // Our client follows no redirect; a caller's may have. Its answer is not used.
    if *resp.url() != url {
        return Err(FetchError::Redirected);
    }
    let status = resp.status().as_u16();
    if resp.content_length().is_some_and(|len| len > cap as u64) {
        return Err(FetchError::TooLarge(cap));
    }
    let headers = std::mem::take(resp.headers_mut());
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(classify)? {
        if body.len() + chunk.len() > cap {
            return Err(FetchError::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchedBody {
        status,
        headers,
        body,
    })
}

fn classify(e: reqwest::Error) -> FetchError {
    if e.is_timeout() {
        FetchError::Timeout
    } else {
        FetchError::Network(without_url(e))
    }
}

/// `Cache-Control: max-age` in seconds, if present and valid (non-negative integer).
pub fn max_age(headers: &http::HeaderMap) -> Option<u64> {
    for value in headers.get_all(http::header::CACHE_CONTROL) {
        let Ok(text) = value.to_str() else { continue };
        for directive in text.split(',') {
            let directive = directive.trim();
            let Some((name, v)) = directive.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("max-age") {
                return v.trim().trim_matches('"').parse::<u64>().ok();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> http::HeaderMap {
        let mut m = http::HeaderMap::new();
        if let Ok(v) = http::HeaderValue::from_str(v) {
            m.insert(http::header::CACHE_CONTROL, v);
        }
        m
    }

    #[test]
    fn parses_max_age() {
        assert_eq!(max_age(&h("public, max-age=300")), Some(300));
        assert_eq!(max_age(&h("MAX-AGE=5")), Some(5));
        assert_eq!(max_age(&h("max-age=-1")), None);
        assert_eq!(max_age(&h("max-age=abc")), None);
        assert_eq!(max_age(&h("no-cache")), None);
        assert_eq!(max_age(&http::HeaderMap::new()), None);
    }
}
