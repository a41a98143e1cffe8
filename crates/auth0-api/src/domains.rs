//! Which tenants' tokens an API accepts: one domain, a static list, or a resolver.
//!
//! In single-domain mode the configured domain's discovery document is used for every token. In
//! multiple-custom-domains mode the token's (unverified) `iss` is normalised and must be in the
//! allowed list before anything is fetched from it, so a token can never make the API call a
//! host of its choosing.
//!
//! ```
//! use auth0_api::{ApiClientOptions, DomainsResolver};
//! let resolver = DomainsResolver::from_fn(|ctx| {
//!     let brand = ctx.header("host") == Some("api.brand.com");
//!     Ok::<_, std::convert::Infallible>(if brand { vec!["login.brand.com".into()] } else { vec!["tenant.auth0.com".into()] })
//! });
//! let options = ApiClientOptions::builder()
//!     .domains_resolver(resolver)
//!     .audience("https://api.example.com")
//!     .build()?;
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;

use crate::error::{BoxError, Error, Result};

/// Why a domain or issuer is not of the form `https://host[:port]/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainError(&'static str);

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for DomainError {}

/// Normalises a domain or issuer to `https://host[:port]/` (host lower-cased).
///
/// Accepts `tenant.auth0.com`, `https://TENANT.auth0.com/` and the like; refuses `http://`,
/// credentials, paths, queries and fragments, as auth0-api-python does, and also an empty or
/// malformed host.
///
/// ```
/// use auth0_api::domains::normalize_domain;
/// assert_eq!(normalize_domain("TENANT.auth0.com").unwrap(), "https://tenant.auth0.com/");
/// assert!(normalize_domain("http://tenant.auth0.com").is_err());
/// ```
pub fn normalize_domain(domain: &str) -> Result<String, DomainError> {
    normalize_domain_cow(domain).map(Cow::into_owned)
}

/// [`normalize_domain`], borrowing `domain` when it already is `https://host/`.
pub(crate) fn normalize_domain_cow(domain: &str) -> Result<Cow<'_, str>, DomainError> {
    // Fast path: already `https://host/` with a lower-case host (every issuer Auth0 issues).
    if let Some(host) = domain
        .strip_prefix("https://")
        .and_then(|r| r.strip_suffix('/'))
        && valid_host(host)
        && !host
            .bytes()
            .any(|b| b.is_ascii_uppercase() || !b.is_ascii())
    {
        return Ok(Cow::Borrowed(domain));
    }
    let trimmed = domain.trim();
    if trimmed.is_empty() {
        return Err(DomainError("domain must be a non-empty string"));
    }
    let lower = trimmed.to_lowercase();
    if lower.starts_with("http://") {
        return Err(DomainError("invalid domain URL (https required)"));
    }
    let rest = lower.replace("https://", "");
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.contains('@') {
        return Err(DomainError(
            "invalid domain URL (credentials are not allowed)",
        ));
    }
    if rest.trim_end_matches('/') != host {
        return Err(DomainError(
            "invalid domain URL (path/query/fragment are not allowed)",
        ));
    }
    if !valid_host(host) {
        return Err(DomainError("invalid domain URL (invalid host)"));
    }
    Ok(Cow::Owned(format!("https://{host}/")))
}

/// A non-empty host (name, IPv4 or `[IPv6]`, optional port) without stray characters.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && !host.starts_with(':')
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '[' | ']'))
}

/// What a [`DomainsResolver`] learns about the request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ResolverContext {
    /// The URL the request was made to, when known.
    pub request_url: Option<String>,
    /// The request headers, when known.
    pub request_headers: Option<http::HeaderMap>,
    /// The token's `iss`, normalised but not yet verified.
    pub unverified_iss: String,
}

impl ResolverContext {
    /// One request header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.request_headers.as_ref()?.get(name)?.to_str().ok()
    }
}

type ResolveFn =
    dyn Fn(ResolverContext) -> BoxFuture<'static, Result<Vec<String>, BoxError>> + Send + Sync;

/// A caller's function of the request context that names strings (domains, organizations):
/// what [`DomainsResolver`] and
/// [`OrganizationResolver`](crate::organization::OrganizationResolver) hold.
#[derive(Clone)]
pub(crate) struct ContextFn(Arc<ResolveFn>);

impl ContextFn {
    pub(crate) fn from_async<F, Fut, E>(f: F) -> Self
    where
        F: Fn(ResolverContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self(Arc::new(move |ctx| {
            f(ctx).map(|r| r.map_err(Into::into)).boxed()
        }))
    }

    pub(crate) fn from_fn<F, E>(f: F) -> Self
    where
        F: Fn(&ResolverContext) -> Result<Vec<String>, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Self(Arc::new(move |ctx| {
            std::future::ready(f(&ctx).map_err(Into::into)).boxed()
        }))
    }

    /// Runs the function for `ctx`.
    pub(crate) fn call(
        &self,
        ctx: ResolverContext,
    ) -> BoxFuture<'static, Result<Vec<String>, BoxError>> {
        (self.0)(ctx)
    }
}

/// Names the domains accepted for a request (multiple custom domains).
#[derive(Clone)]
pub struct DomainsResolver(ContextFn);

impl fmt::Debug for DomainsResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DomainsResolver(..)")
    }
}

impl DomainsResolver {
    /// A resolver from an async function.
    pub fn from_async<F, Fut, E>(f: F) -> Self
    where
        F: Fn(ResolverContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<String>, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Self(ContextFn::from_async(f))
    }

    /// A resolver from a plain function.
    pub fn from_fn<F, E>(f: F) -> Self
    where
        F: Fn(&ResolverContext) -> Result<Vec<String>, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Self(ContextFn::from_fn(f))
    }

    /// Runs the resolver and validates its answer (reference messages).
    pub(crate) async fn resolve(&self, ctx: ResolverContext) -> Result<Vec<String>> {
        let list = self.0.call(ctx).await.map_err(|e| {
            Error::domains_resolver(format!("Domains resolver function failed: {e}"))
        })?;
        if list.is_empty() {
            return Err(Error::domains_resolver(
                "Domains resolver returned an empty list",
            ));
        }
        if list.iter().any(|d| d.trim().is_empty()) {
            return Err(Error::domains_resolver(
                "Domains resolver must return a list of non-empty strings",
            ));
        }
        list.iter()
            .map(|d| normalize_domain(d))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::domains_resolver(format!("Domains resolver returned invalid domain: {e}"))
            })
    }
}

/// How domains are configured.
#[derive(Debug, Clone)]
pub(crate) enum DomainsMode {
    /// One configured domain.
    Single,
    /// A fixed, normalised list.
    List(Vec<String>),
    /// Decided per request.
    Resolver(DomainsResolver),
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_the_reference() {
        let ok = [
            ("tenant.auth0.com", "https://tenant.auth0.com/"),
            ("https://tenant.auth0.com", "https://tenant.auth0.com/"),
            ("https://tenant.auth0.com/", "https://tenant.auth0.com/"),
            (
                "  HTTPS://TENANT.Auth0.com//  ",
                "https://tenant.auth0.com/",
            ),
            ("127.0.0.1:8443", "https://127.0.0.1:8443/"),
        ];
        for (input, want) in ok {
            assert_eq!(normalize_domain(input).unwrap(), want, "{input}");
        }
        let bad = [
            ("", "domain must be a non-empty string"),
            ("   ", "domain must be a non-empty string"),
            (
                "http://tenant.auth0.com",
                "invalid domain URL (https required)",
            ),
            (
                "https://user:pw@tenant.auth0.com",
                "invalid domain URL (credentials are not allowed)",
            ),
            (
                "https://tenant.auth0.com/path",
                "invalid domain URL (path/query/fragment are not allowed)",
            ),
            (
                "https://tenant.auth0.com?x=1",
                "invalid domain URL (path/query/fragment are not allowed)",
            ),
            (
                "https://tenant.auth0.com#f",
                "invalid domain URL (path/query/fragment are not allowed)",
            ),
            ("https:///", "invalid domain URL (invalid host)"),
            ("ten ant.com", "invalid domain URL (invalid host)"),
        ];
        for (input, want) in bad {
            assert_eq!(
                normalize_domain(input).unwrap_err().to_string(),
                want,
                "{input}"
            );
        }
    }

    fn ctx() -> ResolverContext {
        ResolverContext {
            request_url: None,
            request_headers: None,
            unverified_iss: "https://a.com/".into(),
        }
    }

    #[tokio::test]
    async fn resolver_answers_are_validated() {
        let refusal = |r: DomainsResolver| async move {
            r.resolve(ctx()).await.unwrap_err().description().to_owned()
        };
        let empty = DomainsResolver::from_fn(|_| Ok::<_, BoxError>(vec![]));
        assert_eq!(
            refusal(empty).await,
            "Domains resolver returned an empty list"
        );
        let blank = DomainsResolver::from_fn(|_| Ok::<_, BoxError>(vec![" ".into()]));
        assert!(refusal(blank).await.contains("non-empty strings"));
        let r = DomainsResolver::from_async(|_| async {
            Err::<Vec<String>, _>("database connection lost")
        });
        let e = r.resolve(ctx()).await.unwrap_err();
        assert_eq!(e.error_code(), "domains_resolver_error");
        assert_eq!(
            e.description(),
            "Domains resolver function failed: database connection lost"
        );
        let http = DomainsResolver::from_fn(|_| Ok::<_, BoxError>(vec!["http://a.com".into()]));
        assert!(
            refusal(http)
                .await
                .starts_with("Domains resolver returned invalid domain")
        );
        let r = DomainsResolver::from_async(|c: ResolverContext| async move {
            Ok::<_, BoxError>(vec![c.unverified_iss])
        });
        assert_eq!(r.resolve(ctx()).await.unwrap(), ["https://a.com/"]);
    }
}
