//! Auth0 Organizations: requiring that a token was issued for one organization.
//!
//! An access token issued for an organization carries `org_id` (always) and `org_name` (when
//! the tenant adds it). A multi-tenant API must check that the token belongs to the organization
//! the request is for, or a member of one customer could call the API of another. Auth0
//! documents the check ("Work with Tokens and Organizations"): an expected value starting with
//! `org_` is an organization ID, compared exactly with `org_id`; any other value is an
//! organization name, lower-cased (Auth0 stores names in lower case) and compared with
//! `org_name`.
//!
//! Configure a fixed organization (or several, any of which is accepted) with
//! [`ApiClientOptionsBuilder::organization`](crate::ApiClientOptionsBuilder::organization), or
//! decide per request with an [`OrganizationResolver`] fed the request context (for example the
//! organization named by the request's host). A token whose claim is missing, not a string, or
//! not an accepted value is refused with `401 invalid_token`
//! ([`TokenError::OrganizationMissing`] / [`TokenError::OrganizationMismatch`]); the description
//! never echoes the expected or presented value.
//!
//! ```
//! use auth0_api::ApiClientOptions;
//! use auth0_api::organization::OrganizationResolver;
//!
//! // One organization, by ID:
//! let fixed = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .organization("org_9ybsU1dN2dKfDkBi")
//!     .build()?;
//!
//! // Per request: the organization is the first label of the host (`acme.api.example.com`).
//! let per_host = ApiClientOptions::builder()
//!     .domain("your-tenant.auth0.com")
//!     .audience("https://api.example.com")
//!     .organization_resolver(OrganizationResolver::from_fn(|ctx| {
//!         let host = ctx.header("host").unwrap_or_default();
//!         let name = host.split('.').next().unwrap_or_default();
//!         Ok::<_, std::convert::Infallible>(vec![name.to_owned()])
//!     }))
//!     .build()?;
//! # let _ = (fixed, per_host);
//! # Ok::<(), auth0_api::Error>(())
//! ```

use std::fmt;

use crate::claims::Claims;
use crate::domains::{ContextFn, ResolverContext};
use crate::error::{BoxError, Error, ErrorKind, OrganizationClaim, Result, TokenError};

/// Most organizations a resolver may accept for one request.
pub const MAX_ORGANIZATIONS: usize = 64;

/// One accepted organization: an ID (`org_...`, compared exactly) or a name (lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Organization {
    /// An organization ID, compared exactly with `org_id`.
    Id(String),
    /// An organization name, lower case, compared with `org_name`.
    Name(String),
}

impl Organization {
    /// Reads a configured value as Auth0 documents: `org_...` is an ID, anything else a name
    /// (lower-cased). Surrounding white space is ignored; `None` for a blank value.
    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim();
        if value.is_empty() {
            None
        } else if value.starts_with("org_") {
            Some(Self::Id(value.to_owned()))
        } else {
            Some(Self::Name(value.to_lowercase()))
        }
    }

    fn claim(&self) -> OrganizationClaim {
        match self {
            Self::Id(_) => OrganizationClaim::Id,
            Self::Name(_) => OrganizationClaim::Name,
        }
    }

    fn accepts(&self, claims: &Claims) -> bool {
        match self {
            Self::Id(id) => claims.org_id() == Some(id.as_str()),
            Self::Name(name) => claims.org_name() == Some(name.as_str()),
        }
    }
}

/// Names the organizations accepted for a request (IDs or names, as
/// [`Organization::parse`] reads them). An empty answer accepts none.
#[derive(Clone)]
pub struct OrganizationResolver(ContextFn);

impl fmt::Debug for OrganizationResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OrganizationResolver(..)")
    }
}

impl OrganizationResolver {
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

    async fn resolve(&self, ctx: ResolverContext) -> Result<Vec<Organization>> {
        let names = self.0.call(ctx).await.map_err(|e| {
            Error::new(
                ErrorKind::OrganizationResolver,
                format!("Organization resolver function failed: {e}"),
            )
        })?;
        if names.len() > MAX_ORGANIZATIONS {
            return Err(Error::new(
                ErrorKind::OrganizationResolver,
                format!(
                    "Organization resolver returned more than {MAX_ORGANIZATIONS} organizations"
                ),
            ));
        }
        Ok(names
            .iter()
            .filter_map(|n| Organization::parse(n))
            .collect())
    }
}

/// Which organizations a client accepts.
#[derive(Debug, Clone)]
pub(crate) enum OrganizationPolicy {
    /// Any of these.
    Fixed(Vec<Organization>),
    /// Decided per request.
    Resolver(OrganizationResolver),
}

impl OrganizationPolicy {
    /// Checks verified `claims` against the policy for the request in `ctx`.
    pub(crate) async fn check(
        &self,
        claims: &Claims,
        ctx: impl FnOnce() -> ResolverContext,
    ) -> Result<()> {
        match self {
            Self::Fixed(accepted) => check_claims(accepted, claims),
            Self::Resolver(resolver) => check_claims(&resolver.resolve(ctx()).await?, claims),
        }
    }
}

/// Passes when the token belongs to one of `accepted`; otherwise the failure names the claim
/// the accepted values read (`org_id`, `org_name`, or either when they mix).
fn check_claims(accepted: &[Organization], claims: &Claims) -> Result<()> {
    if accepted.iter().any(|o| o.accepts(claims)) {
        return Ok(());
    }
    let claim = match accepted.split_first() {
        Some((first, rest)) if rest.iter().all(|o| o.claim() == first.claim()) => first.claim(),
        _ => OrganizationClaim::Either,
    };
    let present = match claim {
        OrganizationClaim::Id => claims.org_id().is_some(),
        OrganizationClaim::Name => claims.org_name().is_some(),
        _ => claims.org_id().is_some() || claims.org_name().is_some(),
    };
    Err(if present {
        TokenError::OrganizationMismatch(claim)
    } else {
        TokenError::OrganizationMissing(claim)
    }
    .into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn claims(json: &str) -> Claims {
        Claims::from_text(json.to_owned())
    }

    fn refused(accepted: &[&str], json: &str) -> Option<TokenError> {
        let accepted: Vec<Organization> = accepted
            .iter()
            .filter_map(|a| Organization::parse(a))
            .collect();
        check_claims(&accepted, &claims(json))
            .err()
            .and_then(|e| e.token_error().cloned())
    }

    #[test]
    fn values_read_as_auth0_documents() {
        assert_eq!(
            Organization::parse(" org_abc "),
            Some(Organization::Id("org_abc".into()))
        );
        assert_eq!(
            Organization::parse("Acme"),
            Some(Organization::Name("acme".into()))
        );
        assert_eq!(Organization::parse("  "), None);
    }

    #[test]
    fn organization_ids_names_and_their_failures() {
        use OrganizationClaim::{Either, Id, Name};
        use TokenError::{OrganizationMismatch as Mismatch, OrganizationMissing as Missing};
        assert_eq!(refused(&["org_a"], r#"{"org_id":"org_a"}"#), None);
        assert_eq!(
            refused(&["org_a"], r#"{"org_id":"org_A"}"#),
            Some(Mismatch(Id))
        );
        assert_eq!(
            refused(&["org_a"], r#"{"org_name":"org_a"}"#),
            Some(Missing(Id))
        );
        // A claim of the wrong type is as good as absent.
        assert_eq!(refused(&["org_a"], r#"{"org_id":7}"#), Some(Missing(Id)));
        assert_eq!(
            refused(&["org_a"], r#"{"org_id":["org_a"]}"#),
            Some(Missing(Id))
        );
        assert_eq!(refused(&["ACME"], r#"{"org_name":"acme"}"#), None);
        assert_eq!(
            refused(&["acme"], r#"{"org_name":"Acme"}"#),
            Some(Mismatch(Name))
        );
        assert_eq!(
            refused(&["acme"], r#"{"org_id":"org_a"}"#),
            Some(Missing(Name))
        );
        assert_eq!(refused(&["org_a", "acme"], r#"{"org_name":"acme"}"#), None);
        assert_eq!(
            refused(&["org_a", "acme"], r#"{"org_id":"org_b"}"#),
            Some(Mismatch(Either))
        );
        assert_eq!(
            refused(&["org_a", "acme"], r#"{"sub":"x"}"#),
            Some(Missing(Either))
        );
        // A resolver that accepts none.
        assert_eq!(
            refused(&[], r#"{"org_id":"org_a"}"#),
            Some(Mismatch(Either))
        );
    }
}
