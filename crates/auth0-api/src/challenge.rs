//! `WWW-Authenticate` challenges (RFC 6750 section 3, RFC 9449 section 7.1).
//!
//! The strings are exactly those of auth0-api-python's `_build_www_authenticate`, so that an API
//! moved from it answers byte for byte the same. An error is "without details" when its code is
//! `invalid_request` with an empty description: such a challenge names no error at all.
//!
//! | DPoP mode | with details | without details |
//! |---|---|---|
//! | disabled | `Bearer error="C", error_description="D"` | `Bearer realm="api"` |
//! | required | `DPoP error="C", error_description="D", algs="ES256"` | `DPoP algs="ES256"` |
//! | allowed, scheme DPoP | `Bearer realm="api", DPoP error="C", error_description="D", algs="ES256"` | `Bearer realm="api", DPoP algs="ES256"` |
//! | allowed, scheme Bearer | `Bearer error="C", error_description="D", DPoP algs="ES256"` | same as above |
//!
//! Quoted values escape `"` and `\` (RFC 9110 section 5.6.4), which the reference does not.
//!
//! Challenges are values ([`Challenges`]), carried by an [`Error`](crate::Error) and turned into
//! header text only at the edge ([`Error::www_authenticate`](crate::Error::www_authenticate), or
//! `Display`). Every rule lives here: the mode table above, RFC 6750's `insufficient_scope`
//! (section 3.1), RFC 9470's `insufficient_user_authentication` (step-up, section 3), a
//! parameter added to every challenge (RFC 9728's `resource_metadata`).
//!
//! ```
//! use auth0_api::challenge::{AuthScheme, Challenges};
//! use auth0_api::DpopMode;
//! let mut c = Challenges::for_error(
//!     DpopMode::Allowed,
//!     Some(AuthScheme::Bearer),
//!     Some(("invalid_token", "Token is expired")),
//!     "ES256",
//! );
//! assert_eq!(c.to_string(), r#"Bearer error="invalid_token", error_description="Token is expired", DPoP algs="ES256""#);
//! c.add_to_each("resource_metadata", "https://api.example.com/.well-known/oauth-protected-resource");
//! assert_eq!(c.iter().count(), 2);
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::settings::DpopMode;

/// The authentication scheme a request used, as far as challenges care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Bearer ...` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP ...` (RFC 9449).
    Dpop,
}

impl AuthScheme {
    /// The scheme's name as written in `Authorization` and challenges: `Bearer` or `DPoP`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "Bearer",
            AuthScheme::Dpop => "DPoP",
        }
    }
}

/// One challenge: an authentication scheme and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: AuthScheme,
    params: Vec<(Cow<'static, str>, String)>,
}

impl Challenge {
    fn new(scheme: AuthScheme) -> Self {
        Self {
            scheme,
            params: Vec::new(),
        }
    }

    fn param(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.params.push((Cow::Borrowed(name), value.into()));
        self
    }

    /// `error="C"[, error_description="D"]` (the description only when not empty).
    fn error(self, code: &str, description: &str) -> Self {
        let with_code = self.param("error", code);
        if description.is_empty() {
            with_code
        } else {
            with_code.param("error_description", description)
        }
    }

    /// The scheme this challenge names.
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    /// The value of parameter `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The parameters, in the order they are sent.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_ref(), v.as_str()))
    }
}

impl fmt::Display for Challenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme.as_str())?;
        for (i, (name, value)) in self.params.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { ", " })?;
            f.write_str(name)?;
            f.write_str("=")?;
            write_quoted(f, value)?;
        }
        Ok(())
    }
}

/// Writes `"value"` with `"` and `\` escaped, and control characters (which cannot appear in a
/// header value) replaced by spaces.
fn write_quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in value.chars() {
        if c == '"' || c == '\\' {
            f.write_str("\\")?;
        }
        if c.is_control() {
            f.write_str(" ")?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    f.write_str("\"")
}

/// The challenges of one `WWW-Authenticate` header value, rendered joined by `", "`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenges {
    list: Vec<Challenge>,
}

impl Challenges {
    /// The challenges for an error under a DPoP `mode`, for a request that used `scheme`
    /// (`None` when no scheme was recognised). `details` is the error's code and description,
    /// `None` for an error "without details" (no usable credentials); `algs` is the
    /// space-separated list of accepted proof algorithms.
    pub fn for_error(
        mode: DpopMode,
        scheme: Option<AuthScheme>,
        details: Option<(&str, &str)>,
        algs: &str,
    ) -> Self {
        let realm = || Challenge::new(AuthScheme::Bearer).param("realm", "api");
        let dpop = |details: Option<(&str, &str)>| {
            let c = Challenge::new(AuthScheme::Dpop);
            match details {
                Some((code, description)) => c.error(code, description),
                None => c,
            }
            .param("algs", algs)
        };
        let list = match (mode, details) {
            (DpopMode::Disabled, None) => vec![realm()],
            (DpopMode::Disabled, Some((code, description))) => {
                vec![Challenge::new(AuthScheme::Bearer).error(code, description)]
            }
            (DpopMode::Required, details) => vec![dpop(details)],
            (DpopMode::Allowed, Some(details)) => match scheme {
                Some(AuthScheme::Dpop) => vec![realm(), dpop(Some(details))],
                Some(AuthScheme::Bearer) => vec![
                    Challenge::new(AuthScheme::Bearer).error(details.0, details.1),
                    dpop(None),
                ],
                None => vec![realm(), dpop(None)],
            },
            (DpopMode::Allowed, None) => vec![realm(), dpop(None)],
        };
        Self { list }
    }

    /// RFC 6750 section 3.1's 403 challenge for a token that lacks a scope or permission:
    /// `error="insufficient_scope"`, the required `scope` when given, and for DPoP the `algs`
    /// when given.
    pub fn insufficient_scope(scheme: AuthScheme, scope: Option<&str>, algs: Option<&str>) -> Self {
        let mut c = Challenge::new(scheme).param("error", "insufficient_scope");
        if let Some(scope) = scope {
            c = c.param("scope", scope);
        }
        if let (AuthScheme::Dpop, Some(algs)) = (scheme, algs) {
            c = c.param("algs", algs);
        }
        Self { list: vec![c] }
    }

    /// RFC 9470 section 3's 401 challenge for a token whose user authentication is not strong
    /// or recent enough: `error="insufficient_user_authentication"`, the description when not
    /// empty, `acr_values` (space-separated, in order of preference) and/or `max_age` (seconds)
    /// when given, and for DPoP the `algs` when given.
    ///
    /// ```
    /// use auth0_api::challenge::{AuthScheme, Challenges};
    /// let c = Challenges::insufficient_user_authentication(
    ///     AuthScheme::Bearer,
    ///     "A different authentication level is required",
    ///     Some("myACR"),
    ///     None,
    ///     None,
    /// );
    /// assert_eq!(
    ///     c.to_string(),
    ///     r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR""#
    /// );
    /// ```
    pub fn insufficient_user_authentication(
        scheme: AuthScheme,
        description: &str,
        acr_values: Option<&str>,
        max_age: Option<u64>,
        algs: Option<&str>,
    ) -> Self {
        let mut c = Challenge::new(scheme).error("insufficient_user_authentication", description);
        if let Some(acr_values) = acr_values {
            c = c.param("acr_values", acr_values);
        }
        if let Some(max_age) = max_age {
            c = c.param("max_age", max_age.to_string());
        }
        if let (AuthScheme::Dpop, Some(algs)) = (scheme, algs) {
            c = c.param("algs", algs);
        }
        Self { list: vec![c] }
    }

    /// The plain RFC 6750 challenge `Bearer realm="api"`.
    pub fn bearer_realm() -> Self {
        Self {
            list: vec![Challenge::new(AuthScheme::Bearer).param("realm", "api")],
        }
    }

    /// Adds `name="value"` to every challenge (for example RFC 9728's `resource_metadata`).
    pub fn add_to_each(&mut self, name: impl Into<Cow<'static, str>>, value: &str) {
        let name = name.into();
        for c in &mut self.list {
            c.params.push((name.clone(), value.to_owned()));
        }
    }

    /// The challenges, in the order they are sent.
    pub fn iter(&self) -> impl Iterator<Item = &Challenge> {
        self.list.iter()
    }
}

impl fmt::Display for Challenges {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            c.fmt(f)?;
        }
        Ok(())
    }
}

/// Whether an error code and description count as "without details" in the reference's
/// `_build_www_authenticate`: no code, `unauthorized`, or `invalid_request` with no description.
pub(crate) fn is_without_details(code: &str, description: &str) -> bool {
    code.is_empty()
        || code == "unauthorized"
        || (code == "invalid_request" && description.is_empty())
}

impl Challenges {
    /// [`Challenges::for_error`] for an error given as its code and description, with the
    /// reference's rule for "without details" applied to the texts.
    pub fn for_code(
        mode: DpopMode,
        scheme: Option<AuthScheme>,
        code: &str,
        description: &str,
        algs: &str,
    ) -> Self {
        let details = (!is_without_details(code, description)).then_some((code, description));
        Self::for_error(mode, scheme, details, algs)
    }
}

/// The `WWW-Authenticate` text of [`Challenges::for_code`].
pub fn www_authenticate(
    mode: DpopMode,
    scheme: Option<AuthScheme>,
    code: &str,
    description: &str,
    algs: &str,
) -> String {
    Challenges::for_code(mode, scheme, code, description, algs).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use AuthScheme::{Bearer, Dpop};
    use DpopMode::{Allowed, Disabled, Required};

    const A: &str = "ES256";

    #[test]
    fn every_mode_scheme_and_detail_combination() {
        let cases: &[(DpopMode, Option<AuthScheme>, &str, &str, &str)] = &[
            // DPoP disabled
            (
                Disabled,
                Some(Bearer),
                "invalid_token",
                "bad",
                r#"Bearer error="invalid_token", error_description="bad""#,
            ),
            (
                Disabled,
                Some(Bearer),
                "invalid_token",
                "",
                r#"Bearer error="invalid_token""#,
            ),
            (
                Disabled,
                None,
                "invalid_request",
                "",
                r#"Bearer realm="api""#,
            ),
            (
                Disabled,
                Some(Dpop),
                "invalid_request",
                "x",
                r#"Bearer error="invalid_request", error_description="x""#,
            ),
            (Disabled, None, "", "", r#"Bearer realm="api""#),
            // DPoP required
            (
                Required,
                Some(Dpop),
                "invalid_dpop_proof",
                "bad",
                r#"DPoP error="invalid_dpop_proof", error_description="bad", algs="ES256""#,
            ),
            (
                Required,
                Some(Bearer),
                "invalid_request",
                "",
                r#"DPoP algs="ES256""#,
            ),
            (
                Required,
                None,
                "invalid_request",
                "",
                r#"DPoP algs="ES256""#,
            ),
            (
                Required,
                Some(Dpop),
                "invalid_token",
                "",
                r#"DPoP error="invalid_token", algs="ES256""#,
            ),
            (Required, None, "unauthorized", "x", r#"DPoP algs="ES256""#),
            // DPoP allowed
            (
                Allowed,
                None,
                "invalid_request",
                "",
                r#"Bearer realm="api", DPoP algs="ES256""#,
            ),
            (
                Allowed,
                Some(Bearer),
                "invalid_request",
                "",
                r#"Bearer realm="api", DPoP algs="ES256""#,
            ),
            (
                Allowed,
                Some(Dpop),
                "invalid_request",
                "",
                r#"Bearer realm="api", DPoP algs="ES256""#,
            ),
            (
                Allowed,
                None,
                "invalid_token",
                "bad",
                r#"Bearer realm="api", DPoP algs="ES256""#,
            ),
            (
                Allowed,
                Some(Dpop),
                "invalid_dpop_proof",
                "bad",
                r#"Bearer realm="api", DPoP error="invalid_dpop_proof", error_description="bad", algs="ES256""#,
            ),
            (
                Allowed,
                Some(Dpop),
                "invalid_token",
                "",
                r#"Bearer realm="api", DPoP error="invalid_token", algs="ES256""#,
            ),
            (
                Allowed,
                Some(Bearer),
                "invalid_token",
                "bad",
                r#"Bearer error="invalid_token", error_description="bad", DPoP algs="ES256""#,
            ),
            (
                Allowed,
                Some(Bearer),
                "invalid_request",
                "DPoP proof requires DPoP authentication scheme, not Bearer",
                r#"Bearer error="invalid_request", error_description="DPoP proof requires DPoP authentication scheme, not Bearer", DPoP algs="ES256""#,
            ),
        ];
        for (mode, scheme, code, desc, want) in cases {
            assert_eq!(
                www_authenticate(*mode, *scheme, code, desc, A),
                *want,
                "{mode:?} {scheme:?} {code} {desc}"
            );
        }
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        let v = www_authenticate(Disabled, Some(Bearer), "invalid_token", r#"a "b" \c"#, A);
        assert_eq!(
            v,
            r#"Bearer error="invalid_token", error_description="a \"b\" \\c""#
        );
        let v = www_authenticate(Disabled, Some(Bearer), "invalid_token", "line\r\nbreak", A);
        assert!(!v.contains('\n'));
    }

    #[test]
    fn algs_list_is_configurable() {
        let v = www_authenticate(Required, None, "", "", "ES256 EdDSA");
        assert_eq!(v, r#"DPoP algs="ES256 EdDSA""#);
        let mut c = Challenges::for_error(Allowed, None, None, A);
        c.add_to_each(
            "resource_metadata",
            "https://api/.well-known/oauth-protected-resource",
        );
        assert_eq!(
            c.to_string(),
            r#"Bearer realm="api", resource_metadata="https://api/.well-known/oauth-protected-resource", DPoP algs="ES256", resource_metadata="https://api/.well-known/oauth-protected-resource""#
        );
    }

    #[test]
    fn insufficient_user_authentication_challenges() {
        // RFC 9470 section 3's two examples.
        assert_eq!(
            Challenges::insufficient_user_authentication(
                Bearer,
                "A different authentication level is required",
                Some("myACR"),
                None,
                Some(A)
            )
            .to_string(),
            r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="myACR""#
        );
        assert_eq!(
            Challenges::insufficient_user_authentication(
                Bearer,
                "More recent authentication is required",
                None,
                Some(5),
                None
            )
            .to_string(),
            r#"Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="5""#
        );
        let mut both =
            Challenges::insufficient_user_authentication(Dpop, "", Some("a b"), Some(300), Some(A));
        both.add_to_each("resource_metadata", "https://api/m");
        assert_eq!(
            both.to_string(),
            r#"DPoP error="insufficient_user_authentication", acr_values="a b", max_age="300", algs="ES256", resource_metadata="https://api/m""#
        );
    }

    #[test]
    fn insufficient_scope_challenges() {
        assert_eq!(
            Challenges::insufficient_scope(Bearer, Some("read:a write:b"), Some(A)).to_string(),
            r#"Bearer error="insufficient_scope", scope="read:a write:b""#
        );
        assert_eq!(
            Challenges::insufficient_scope(Dpop, None, Some(A)).to_string(),
            r#"DPoP error="insufficient_scope", algs="ES256""#
        );
        assert_eq!(
            Challenges::bearer_realm().to_string(),
            r#"Bearer realm="api""#
        );
    }
}
