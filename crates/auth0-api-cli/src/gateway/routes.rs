//! Routes: path prefix -> required scopes or permissions, and public paths. The longest
//! matching prefix wins; a prefix matches whole segments (`/admin` matches `/admin` and
//! `/admin/x`, not `/administrator`), case-sensitively (`/Admin` is not under `/admin`).
//!
//! Paths are judged only in **normal form** ([`route_path`]); any other path is refused (400
//! `invalid_request`), never rewritten, so that the path the upstream receives is byte for byte
//! the one that was checked, and so that nginx (which matches its locations on the decoded,
//! normalised URI but hands forward-auth the raw `$request_uri`), the gateway and the upstream
//! cannot disagree about which route a request is under. A path in normal form:
//! - starts with `/` and is at most [`MAX_PATH`] bytes;
//! - has no empty segment (`//`) except a trailing `/`, and no `.` or `..` segment;
//! - holds only RFC 3986 path characters, without `;` (matrix parameters, which some servers
//!   cut off: `/admin;x/y` is `/admin/y` to them) and without `\`;
//! - percent-encodes nothing that needs no encoding: no `%XX` that decodes to a letter, digit,
//!   `-`, `.`, `_`, `~`, `/`, `\`, `;`, `%` or a control character (`/%61dmin`,
//!   `/public/%2e%2e/admin`, `/a%2Fb` and `/%2561` are refused), and decodes to UTF-8.
//!
//! Routes are matched against the decoded path (`/files/r%C3%A9sum%C3%A9` is under
//! `/files/résumé`), which in normal form has the same segments as the raw one. Case is kept:
//! behind an upstream that matches paths case-insensitively, list a route for each spelling or
//! protect the whole API.

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

/// The longest path judged, in bytes (nginx's default `large_client_header_buffers` size).
pub(crate) const MAX_PATH: usize = 8192;

/// Why a path is not in normal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// Longer than [`MAX_PATH`].
    TooLong,
    /// Does not start with `/`.
    NotAbsolute,
    /// `//` (an empty segment before the last).
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// A character outside the path characters, `;` or `\`.
    Character,
    /// A malformed `%XX`, or one that encodes what needs no encoding.
    Escape,
    /// Decodes to bytes that are not UTF-8.
    NotUtf8,
}

impl PathProblem {
    /// A sentence for the JSON answer.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::TooLong => "The path is too long",
            Self::NotAbsolute => "The path must start with /",
            Self::EmptySegment => "The path has an empty segment (//)",
            Self::DotSegment => "The path has a . or .. segment",
            Self::Character => "The path has a character that is not allowed",
            Self::Escape => "The path has a percent-encoding that is malformed or not needed",
            Self::NotUtf8 => "The path does not decode to UTF-8",
        }
    }
}

/// Whether `b` may stand unencoded in a path: RFC 3986 `pchar` and `/`, less `;`.
fn raw_allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,=:@/".contains(&b)
}

/// Whether `%XX` may encode `b`: anything but what needs no encoding, the separators that
/// servers treat specially (`/`, `\`, `;`), `%` (double decoding) and control characters.
fn escape_allowed(b: u8) -> bool {
    !(b.is_ascii_alphanumeric() || b"-._~/\\;%".contains(&b) || b < 0x20 || b == 0x7f)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The path routes are matched against: `raw` (a request's path, without query) percent-decoded,
/// when `raw` is in normal form (see the module doc); else why not.
pub(crate) fn route_path(raw: &str) -> Result<String, PathProblem> {
    if raw.len() > MAX_PATH {
        return Err(PathProblem::TooLong);
    }
    let Some(rest) = raw.strip_prefix('/') else {
        return Err(PathProblem::NotAbsolute);
    };
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        if segment.is_empty() && segments.peek().is_some() {
            return Err(PathProblem::EmptySegment);
        }
        if segment == "." || segment == ".." {
            return Err(PathProblem::DotSegment);
        }
    }
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let value = match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(&h), Some(&l)) => hex(h).zip(hex(l)).map(|(h, l)| h * 16 + l),
                _ => None,
            };
            match value {
                Some(v) if escape_allowed(v) => decoded.push(v),
                _ => return Err(PathProblem::Escape),
            }
            i += 3;
        } else if raw_allowed(b) {
            decoded.push(b);
            i += 1;
        } else {
            return Err(PathProblem::Character);
        }
    }
    String::from_utf8(decoded).map_err(|_| PathProblem::NotUtf8)
}

fn check_prefix(key: &str, prefix: &str) -> Result<String, ConfigError> {
    let decoded = route_path(prefix).map_err(|problem| {
        ConfigError::new(
            key,
            format!(
                "{prefix:?} must be a path in normal form: {}",
                problem.description()
            ),
        )
    })?;
    let trimmed = decoded.trim_end_matches('/');
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

    /// What `path` (a [`route_path`]) needs: the longest matching route, else authentication
    /// alone.
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
    fn only_paths_in_normal_form_are_judged() {
        for ok in [
            "/",
            "/admin",
            "/admin/",
            "/admin/x.json",
            "/a/..b/c.",
            "/files/my%20doc",
            "/a%2Cb",
            "/r%C3%A9sum%c3%a9",
            "/x:y@z!$&'()*+,=",
        ] {
            assert!(route_path(ok).is_ok(), "{ok}");
        }
        assert_eq!(route_path("/files/my%20doc").unwrap(), "/files/my doc");
        assert_eq!(route_path("/r%C3%A9sum%c3%a9").unwrap(), "/résumé");
        for (bad, problem) in [
            ("", PathProblem::NotAbsolute),
            ("admin", PathProblem::NotAbsolute),
            ("*", PathProblem::NotAbsolute),
            ("//admin/x", PathProblem::EmptySegment),
            ("/public//admin", PathProblem::EmptySegment),
            ("/public/../admin", PathProblem::DotSegment),
            ("/public/./x", PathProblem::DotSegment),
            ("/admin/..", PathProblem::DotSegment),
            ("/admin;x/y", PathProblem::Character),
            ("/admin\\x", PathProblem::Character),
            ("/admin x", PathProblem::Character),
            ("/admin?x", PathProblem::Character),
            ("/public/%2e%2e/admin", PathProblem::Escape),
            ("/public/%2E%2E/admin", PathProblem::Escape),
            ("/%61dmin/x", PathProblem::Escape),
            ("/public%2F..%2Fadmin", PathProblem::Escape),
            ("/public%5C..%5Cadmin", PathProblem::Escape),
            ("/admin%3Bx", PathProblem::Escape),
            ("/%2561dmin", PathProblem::Escape),
            ("/a%00", PathProblem::Escape),
            ("/a%4", PathProblem::Escape),
            ("/a%zz", PathProblem::Escape),
            ("/a%FF", PathProblem::NotUtf8),
        ] {
            assert_eq!(route_path(bad), Err(problem), "{bad}");
        }
        assert_eq!(
            route_path(&format!("/{}", "a".repeat(MAX_PATH))),
            Err(PathProblem::TooLong)
        );
    }

    #[test]
    fn prefixes_are_decoded_and_must_be_in_normal_form() {
        let t = RouteTable::new(vec![route("/files/my%20doc/", &["f"])], vec![]).unwrap();
        assert!(matches!(t.access("/files/my doc/x"), Some(Access::Protected(p)) if p.len() == 1));
        for bad in ["/a/../b", "/%61", "/a;b", "/a b"] {
            assert!(RouteTable::new(vec![], vec![bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn bad_routes_name_their_key() {
        let e = RouteTable::new(vec![route("/a", &[]), route("/a/", &[])], vec![]).unwrap_err();
        assert_eq!(e.key, "routes[1].prefix");
        let e = RouteTable::new(vec![], vec!["x".into()]).unwrap_err();
        assert_eq!(e.key, "public_paths[0]");
    }
}
