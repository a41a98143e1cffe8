//! Reconstruction of the URL a client addressed (for DPoP's `htu` and domain resolvers); the
//! policy is [`UrlSource`].

use http::request::Parts;
use http::uri::{Authority, Scheme};
use http::{HeaderMap, HeaderName, Uri};

const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Where the URL a client addressed comes from, for DPoP's `htu` check (RFC 9449 section 4.3)
/// and for domain resolvers.
///
/// A server behind a proxy or a load balancer does not see the URL its clients used: TLS ends
/// earlier, the host and port change. Three sources:
///
/// - [`UrlSource::PublicUrl`]: a configured base (`https://api.example.com`, or with a path
///   prefix, `https://example.com/api`) followed by the request's path and query. Request headers
///   cannot change it: the right choice in production.
/// - [`UrlSource::TrustedProxy`]: the first element of `Forwarded` (RFC 7239: `proto=`, `host=`),
///   else the first values of `X-Forwarded-Proto` and `X-Forwarded-Host`, else as `Direct`. Only
///   for servers reachable solely through a proxy that sets or overwrites these headers:
///   otherwise any client could claim any URL.
/// - [`UrlSource::Direct`] (the default): the request URI's scheme and authority when it is in
///   absolute form (HTTP/2), else `http` and the `Host` header. `Forwarded` and `X-Forwarded-*`
///   are ignored.
///
/// A host must be a valid URI authority without user information; a forwarded scheme must be
/// `http` or `https`. When no URL can be built, none is passed on, and a DPoP request fails with
/// `400 invalid_request` ("DPoP authentication requires http_url").
///
/// The path is the one the layer sees: inside a nested axum router that is the path after the
/// nesting prefix, so install the layer on the outer router (or include the prefix in the public
/// URL).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UrlSource {
    /// The request URI's scheme and authority, else `http` and the `Host` header.
    #[default]
    Direct,
    /// `Forwarded`, else `X-Forwarded-Proto` / `X-Forwarded-Host`, else [`Direct`](Self::Direct).
    TrustedProxy,
    /// A fixed base URL (`scheme://authority[/prefix]`, no trailing slash) followed by the
    /// request's path and query. Build it with [`UrlSource::public_url`].
    PublicUrl(String),
}

impl UrlSource {
    /// A [`PublicUrl`](Self::PublicUrl) source from `base` (`http` or `https`, an authority
    /// without user information, an optional path prefix, no query or fragment).
    ///
    /// ```
    /// use auth0_api_axum::UrlSource;
    /// assert!(UrlSource::public_url("https://api.example.com/").is_ok());
    /// assert!(UrlSource::public_url("https://example.com/v1").is_ok());
    /// assert!(UrlSource::public_url("api.example.com").is_err());
    /// assert!(UrlSource::public_url("https://user@api.example.com").is_err());
    /// ```
    ///
    /// # Errors
    /// `invalid_configuration` when `base` is not such a URL.
    pub fn public_url(base: &str) -> Result<Self, auth0_api::Error> {
        let invalid = |why: &str| {
            auth0_api::Error::configuration(format!("Invalid public URL {base:?}: {why}"))
        };
        if base.contains('#') {
            return Err(invalid("a fragment is not allowed"));
        }
        let uri: Uri = base.parse().map_err(|_| invalid("not an absolute URL"))?;
        let scheme = uri.scheme_str().ok_or_else(|| invalid("no scheme"))?;
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(invalid("the scheme must be http or https"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') || authority.host().is_empty() {
            return Err(invalid("user information is not allowed"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query is not allowed"));
        }
        let path = uri.path().trim_end_matches('/');
        Ok(Self::PublicUrl(format!(
            "{}://{}{path}",
            scheme.to_ascii_lowercase(),
            authority.as_str()
        )))
    }

    /// The URL the client addressed, or `None` when it cannot be built.
    pub(crate) fn request_url(&self, parts: &Parts) -> Option<String> {
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .trim_start_matches('*');
        let path = if path.starts_with('/') { path } else { "/" };
        match self {
            Self::PublicUrl(base) => Some(format!("{base}{path}")),
            Self::Direct => direct_origin(parts).map(|(s, h)| format!("{s}://{h}{path}")),
            Self::TrustedProxy => forwarded_origin(&parts.headers)
                .or_else(|| direct_origin(parts))
                .map(|(s, h)| format!("{s}://{h}{path}")),
        }
    }
}

/// Scheme and host from the request URI, else `http` and `Host`.
fn direct_origin(parts: &Parts) -> Option<(String, String)> {
    if let Some(authority) = parts.uri.authority() {
        let scheme = parts.uri.scheme().unwrap_or(&Scheme::HTTP);
        return valid_host(authority.as_str()).map(|h| (scheme.as_str().to_owned(), h));
    }
    let host = parts.headers.get(http::header::HOST)?.to_str().ok()?;
    valid_host(host).map(|h| ("http".to_owned(), h))
}

/// Scheme and host from `Forwarded`, else from `X-Forwarded-Proto` and `X-Forwarded-Host`.
/// A missing scheme defaults to `http`; a missing host means no forwarded origin.
fn forwarded_origin(headers: &HeaderMap) -> Option<(String, String)> {
    let (proto, host) = match first_forwarded_element(headers) {
        Some(element) => element,
        None => (
            first_list_value(headers, &X_FORWARDED_PROTO),
            first_list_value(headers, &X_FORWARDED_HOST),
        ),
    };
    let host = valid_host(&host?)?;
    let scheme = match proto {
        None => "http".to_owned(),
        Some(p) if p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https") => {
            p.to_ascii_lowercase()
        }
        Some(_) => return None,
    };
    Some((scheme, host))
}

/// The first comma-separated value of the first line of a header, trimmed.
fn first_list_value(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then(|| first.to_owned())
}

/// `proto` and `host` of the first element of the first `Forwarded` line (RFC 7239 section 4),
/// `None` when there is no such header.
fn first_forwarded_element(headers: &HeaderMap) -> Option<(Option<String>, Option<String>)> {
    let value = headers.get(http::header::FORWARDED)?.to_str().ok()?;
    let mut proto = None;
    let mut host = None;
    let element = split_unquoted(value, ',').into_iter().next().unwrap_or("");
    for pair in split_unquoted(element, ';') {
        let Some((name, raw)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(raw.trim());
        match name.trim().to_ascii_lowercase().as_str() {
            "proto" if proto.is_none() => proto = Some(value),
            "host" if host.is_none() => host = Some(value),
            _ => {}
        }
    }
    Some((proto, host))
}

/// Splits on `sep` outside quoted strings.
fn split_unquoted(value: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in value.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == sep && !quoted => {
                parts.push(&value[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
}

/// A token or a quoted string (RFC 9110 section 5.6.4) as its text.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `host` when it is a URI authority without user information, lower-cased.
fn valid_host(host: &str) -> Option<String> {
    let authority: Authority = host.parse().ok()?;
    if authority.as_str().contains('@') || authority.host().is_empty() {
        return None;
    }
    Some(authority.as_str().to_ascii_lowercase())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn direct_uses_host_and_ignores_forwarded_headers() {
        let p = parts(
            "/a/b?q=1",
            &[
                ("host", "API.example.com:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.example"),
                ("forwarded", "proto=https;host=evil.example"),
            ],
        );
        assert_eq!(
            UrlSource::Direct.request_url(&p).as_deref(),
            Some("http://api.example.com:8080/a/b?q=1")
        );
        let absolute = parts("https://h2.example.com/x", &[("host", "ignored")]);
        assert_eq!(
            UrlSource::Direct.request_url(&absolute).as_deref(),
            Some("https://h2.example.com/x")
        );
        assert_eq!(UrlSource::Direct.request_url(&parts("/x", &[])), None);
        let bad = parts("/x", &[("host", "user@evil.example")]);
        assert_eq!(UrlSource::Direct.request_url(&bad), None);
    }

    #[test]
    fn trusted_proxy_prefers_forwarded_then_x_forwarded_then_host() {
        let forwarded = r#"for=1.2.3.4;proto=https;host="api.example.com", for=5.6.7.8;host=other"#;
        let cases: [(&[(&str, &str)], &str); 4] = [
            (
                &[
                    ("host", "internal:3000"),
                    ("forwarded", forwarded),
                    ("x-forwarded-host", "ignored.example"),
                ],
                "https://api.example.com/r",
            ),
            (
                &[
                    ("host", "internal:3000"),
                    ("x-forwarded-proto", "HTTPS, http"),
                    ("x-forwarded-host", "api.example.com, proxy.internal"),
                ],
                "https://api.example.com/r",
            ),
            (&[("host", "internal:3000")], "http://internal:3000/r"),
            (
                &[
                    ("host", "internal:3000"),
                    ("x-forwarded-proto", "gopher"),
                    ("x-forwarded-host", "api.example.com"),
                ],
                "http://internal:3000/r",
            ),
        ];
        for (headers, expected) in cases {
            let p = parts("/r", headers);
            assert_eq!(
                UrlSource::TrustedProxy.request_url(&p).as_deref(),
                Some(expected),
                "{headers:?}"
            );
        }
    }

    #[test]
    fn public_url_is_fixed_and_validated() {
        let src = UrlSource::public_url("HTTPS://api.example.com/base/").unwrap();
        assert_eq!(
            src,
            UrlSource::PublicUrl("https://api.example.com/base".into())
        );
        let p = parts(
            "/r?x",
            &[("host", "evil.example"), ("x-forwarded-host", "evil")],
        );
        assert_eq!(
            src.request_url(&p).as_deref(),
            Some("https://api.example.com/base/r?x")
        );
        for bad in [
            "",
            "/path",
            "ftp://x",
            "https://u:p@x",
            "https://x/?q",
            "https://x/#f",
        ] {
            assert!(UrlSource::public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quoted_strings() {
        assert_eq!(unquote(r#""a\"b""#), "a\"b");
        assert_eq!(unquote("plain"), "plain");
        assert_eq!(split_unquoted(r#"a="x,y",b"#, ','), vec![r#"a="x,y""#, "b"]);
    }
}
