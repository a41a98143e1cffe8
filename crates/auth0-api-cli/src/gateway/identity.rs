//! The verified identity as request headers (`X-Auth0-*`), and the stripping of every incoming
//! `X-Auth0-*` header so that a caller can never pose as verified.

use auth0_api::{AuthScheme, VerifiedRequest};
use http::{HeaderMap, HeaderName, HeaderValue};

/// The prefix of every identity header (lower case, as `http` stores names).
pub(crate) const PREFIX: &str = "x-auth0-";

/// Whether `name` (lower case, as `http` stores names) is an identity header's, reading `_` as
/// `-`: CGI, WSGI and Rack upstreams see `X_Auth0_Sub` as `HTTP_X_AUTH0_SUB`, as `X-Auth0-Sub`.
fn is_identity_name(name: &str) -> bool {
    name.len() >= PREFIX.len()
        && name
            .bytes()
            .zip(PREFIX.bytes())
            .all(|(n, p)| n == p || (n == b'_' && p == b'-'))
}

/// Removes every header whose name starts with `X-Auth0-` (any case, `_` read as `-`).
pub(crate) fn strip(headers: &mut HeaderMap) {
    super::remove_headers_where(headers, is_identity_name);
}

/// The identity headers of a verified request, in a fixed order:
///
/// | header | from |
/// |---|---|
/// | `X-Auth0-Sub` | `sub` |
/// | `X-Auth0-Scope` | `scope` (space-separated, as in the token) |
/// | `X-Auth0-Permissions` | `permissions` (space-separated) |
/// | `X-Auth0-Client-Id` | `azp`, else `client_id` |
/// | `X-Auth0-Actor` | the current actor (`act.sub`, RFC 8693) |
/// | `X-Auth0-Issuer` | `iss` |
/// | `X-Auth0-Org-Id` | `org_id` |
/// | `X-Auth0-Scheme` | `bearer` or `dpop` |
/// | `X-Auth0-Jkt` | `cnf.jkt` (the DPoP key thumbprint) |
///
/// A claim that is absent, or whose text cannot be a header value (control characters), gives
/// no header. `actor` is the already-checked current actor.
pub(crate) fn headers(
    verified: &VerifiedRequest,
    actor: Option<&str>,
) -> Vec<(HeaderName, HeaderValue)> {
    let claims = &verified.claims;
    let permissions: Vec<&str> = claims.permissions().collect();
    let permissions = (!permissions.is_empty()).then(|| permissions.join(" "));
    let client_id = claims
        .azp()
        .or_else(|| claims.get("client_id").and_then(|v| v.as_str()));
    let scheme = match verified.scheme {
        AuthScheme::Dpop => "dpop",
        _ => "bearer",
    };
    let values: [(&'static str, Option<&str>); 9] = [
        ("x-auth0-sub", claims.sub()),
        ("x-auth0-scope", claims.scope()),
        ("x-auth0-permissions", permissions.as_deref()),
        ("x-auth0-client-id", client_id),
        ("x-auth0-actor", actor),
        ("x-auth0-issuer", claims.iss()),
        ("x-auth0-org-id", claims.org_id()),
        ("x-auth0-scheme", Some(scheme)),
        ("x-auth0-jkt", claims.cnf_jkt()),
    ];
    values
        .into_iter()
        .filter_map(|(name, value)| {
            let value = HeaderValue::from_bytes(value?.as_bytes()).ok()?;
            Some((HeaderName::from_static(name), value))
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn strip_removes_every_case_of_the_prefix() {
        let mut h = HeaderMap::new();
        h.insert("X-Auth0-Sub", HeaderValue::from_static("forged"));
        h.append("x-AUTH0-scope", HeaderValue::from_static("admin"));
        h.insert("X_Auth0_Sub", HeaderValue::from_static("forged"));
        h.insert("x-auth0_actor", HeaderValue::from_static("forged"));
        h.insert("x_auth0-scope", HeaderValue::from_static("forged"));
        h.insert("x-auth0x", HeaderValue::from_static("kept"));
        h.insert("x_auth0x", HeaderValue::from_static("kept"));
        h.insert("x-auth0", HeaderValue::from_static("kept"));
        h.insert("accept", HeaderValue::from_static("kept"));
        strip(&mut h);
        assert_eq!(h.len(), 4, "{h:?}");
        assert!(h.contains_key("x-auth0x") && h.contains_key("x_auth0x"));
    }
}
