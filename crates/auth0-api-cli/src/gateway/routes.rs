//! Routes: path prefix -> required scopes or permissions, and public paths. The longest
//! matching prefix wins; a prefix matches whole segments (`/admin` matches `/admin` and
//! `/admin/x`, not `/administrator`).

use auth0_api::VerifiedRequest;
use auth0_api_axum::{ClaimsPolicy, Forbidden, RequirePermissions, RequireScopes};
use serde::Deserialize;

use super::config::ConfigError;

/// One route of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Route {
    /// Path prefix (starts with `/`).
    pub(crate) prefix: String,
    /// Scopes the token's `scope` must hold.
    #[serde(default)]
    pub(crate) scopes: Vec<String>,
    /// Permissions (Auth0 RBAC `permissions`) the token must hold.
    #[serde(default)]
    pub(crate) permissions: Vec<String>,
    /// `all` (default): every listed value; `any`: one of them.
    #[serde(default)]
    pub(crate) require: Require,
    /// Served without authentication.
    #[serde(default)]
    pub(crate) public: bool,
}

/// Whether every listed scope/permission is needed or one suffices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Require {
    #[default]
    All,
    Any,
}

/// What a matched route asks of a request.
pub(crate) enum Access {
    /// No authentication.
    Public,
    /// Authentication, then these policies.
    Protected(Vec<Box<dyn ClaimsPolicy>>),
}

/// The routes, longest prefix first.
pub(crate) struct RouteTable {
    routes: Vec<(String, Access)>,
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.routes.iter().map(|(p, _)| p))
            .finish()
    }
}

fn check_prefix(key: &str, prefix: &str) -> Result<String, ConfigError> {
    if !prefix.starts_with('/') || prefix.contains(['?', '#']) {
        return Err(ConfigError::new(
            key,
            format!("{prefix:?} must be a path starting with /"),
        ));
    }
    let trimmed = prefix.trim_end_matches('/');
    Ok(if trimmed.is_empty() {
        "/".into()
    } else {
        trimmed.into()
    })
}

impl RouteTable {
    /// Checks the routes and public paths.
    pub(crate) fn new(routes: Vec<Route>, public: Vec<String>) -> Result<Self, ConfigError> {
        let mut out: Vec<(String, Access)> = Vec::new();
        let mut push = |key: String, prefix: String, access| {
            if out.iter().any(|(p, _)| *p == prefix) {
                return Err(ConfigError::new(key, format!("{prefix:?} is listed twice")));
            }
            out.push((prefix, access));
            Ok(())
        };
        for (i, r) in routes.into_iter().enumerate() {
            let prefix = check_prefix(&format!("routes[{i}].prefix"), &r.prefix)?;
            let access = if r.public {
                if !r.scopes.is_empty() || !r.permissions.is_empty() {
                    return Err(ConfigError::new(
                        format!("routes[{i}].public"),
                        "a public route cannot require scopes or permissions",
                    ));
                }
                Access::Public
            } else {
                let mut policies: Vec<Box<dyn ClaimsPolicy>> = Vec::new();
                if !r.scopes.is_empty() {
                    policies.push(Box::new(match r.require {
                        Require::All => RequireScopes::all(r.scopes),
                        Require::Any => RequireScopes::any(r.scopes),
                    }));
                }
                if !r.permissions.is_empty() {
                    policies.push(Box::new(match r.require {
                        Require::All => RequirePermissions::all(r.permissions),
                        Require::Any => RequirePermissions::any(r.permissions),
                    }));
                }
                Access::Protected(policies)
            };
            push(format!("routes[{i}].prefix"), prefix, access)?;
        }
        for (i, p) in public.into_iter().enumerate() {
            let key = format!("public_paths[{i}]");
            let prefix = check_prefix(&key, &p)?;
            push(key, prefix, Access::Public)?;
        }
        out.sort_by_key(|r| std::cmp::Reverse(r.0.len()));
        Ok(Self { routes: out })
    }

    /// What `path` needs: the longest matching route, else authentication alone.
    pub(crate) fn access(&self, path: &str) -> Option<&Access> {
        self.routes
            .iter()
            .find(|(prefix, _)| matches(prefix, path))
            .map(|(_, a)| a)
    }
}

/// Whether `prefix` covers `path` on segment boundaries.
pub(crate) fn matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The first refusal among `policies`.
pub(crate) fn authorize(
    policies: &[Box<dyn ClaimsPolicy>],
    verified: &VerifiedRequest,
) -> Result<(), Forbidden> {
    policies.iter().try_for_each(|p| p.check(verified))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn route(prefix: &str, scopes: &[&str]) -> Route {
        Route {
            prefix: prefix.into(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            permissions: Vec::new(),
            require: Require::All,
            public: false,
        }
    }

    #[test]
    fn longest_prefix_on_segment_boundaries() {
        let t = RouteTable::new(
            vec![route("/admin", &["admin"]), route("/admin/public/", &[])],
            vec!["/health".into()],
        )
        .unwrap();
        assert!(matches!(t.access("/admin/x"), Some(Access::Protected(p)) if p.len() == 1));
        assert!(matches!(t.access("/admin/public/x"), Some(Access::Protected(p)) if p.is_empty()));
        assert!(t.access("/administrator").is_none());
        assert!(matches!(t.access("/health"), Some(Access::Public)));
        assert!(t.access("/healthz").is_none());
    }

    #[test]
    fn bad_routes_name_their_key() {
        let e = RouteTable::new(vec![route("/a", &[]), route("/a/", &[])], vec![]).unwrap_err();
        assert_eq!(e.key, "routes[1].prefix");
        let e = RouteTable::new(vec![], vec!["x".into()]).unwrap_err();
        assert_eq!(e.key, "public_paths[0]");
    }
}
