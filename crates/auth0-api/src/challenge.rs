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
//! ```
//! use auth0_api::challenge::{www_authenticate, AuthScheme};
//! use auth0_api::DpopMode;
//! let v = www_authenticate(DpopMode::Allowed, Some(AuthScheme::Bearer), "invalid_token", "Token is expired", "ES256");
//! assert_eq!(v, r#"Bearer error="invalid_token", error_description="Token is expired", DPoP algs="ES256""#);
//! ```

use std::fmt::Write as _;

use crate::options::DpopMode;

/// The authentication scheme a request used, as far as challenges care.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthScheme {
    /// `Authorization: Bearer ...` (RFC 6750).
    Bearer,
    /// `Authorization: DPoP ...` (RFC 9449).
    Dpop,
}

/// Appends `"value"` with `"` and `\` escaped.
fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        // Control characters cannot appear in a header value; replace them.
        if c.is_control() {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.push('"');
}

/// `error="C"[, error_description="D"]`
fn push_error_params(out: &mut String, code: &str, description: &str) {
    out.push_str("error=");
    push_quoted(out, code);
    if !description.is_empty() {
        out.push_str(", error_description=");
        push_quoted(out, description);
    }
}

fn push_dpop(out: &mut String, details: Option<(&str, &str)>, algs: &str) {
    out.push_str("DPoP ");
    if let Some((code, description)) = details {
        push_error_params(out, code, description);
        out.push_str(", ");
    }
    out.push_str("algs=");
    push_quoted(out, algs);
}

/// Builds the `WWW-Authenticate` value for an error `code`/`description` under a DPoP `mode`,
/// for a request that used `scheme` (`None` when no scheme was recognised). `algs` is the
/// space-separated list of accepted proof algorithms.
pub fn www_authenticate(
    mode: DpopMode,
    scheme: Option<AuthScheme>,
    code: &str,
    description: &str,
    algs: &str,
) -> String {
    let without_details = code.is_empty()
        || code == "unauthorized"
        || (code == "invalid_request" && description.is_empty());
    let mut out = String::with_capacity(64 + description.len());
    match mode {
        DpopMode::Disabled => {
            if without_details {
                out.push_str("Bearer realm=\"api\"");
            } else {
                out.push_str("Bearer ");
                push_error_params(&mut out, code, description);
            }
        }
        DpopMode::Required => {
            push_dpop(
                &mut out,
                (!without_details).then_some((code, description)),
                algs,
            );
        }
        DpopMode::Allowed => {
            if without_details || scheme.is_none() {
                out.push_str("Bearer realm=\"api\", ");
                push_dpop(&mut out, None, algs);
            } else if scheme == Some(AuthScheme::Dpop) {
                out.push_str("Bearer realm=\"api\", ");
                push_dpop(&mut out, Some((code, description)), algs);
            } else {
                out.push_str("Bearer ");
                push_error_params(&mut out, code, description);
                out.push_str(", ");
                push_dpop(&mut out, None, algs);
            }
        }
    }
    out
}

/// Appends `, name="value"` to a challenge (for example RFC 9728's `resource_metadata`).
pub fn append_param(challenge: &mut String, name: &str, value: &str) {
    let _ = write!(challenge, ", {name}=");
    push_quoted(challenge, value);
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
        let mut v = www_authenticate(Allowed, None, "", "", A);
        append_param(
            &mut v,
            "resource_metadata",
            "https://api/.well-known/oauth-protected-resource",
        );
        assert!(v.ends_with(
            r#", resource_metadata="https://api/.well-known/oauth-protected-resource""#
        ));
    }
}
