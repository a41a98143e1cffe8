//! Normalisation of the `htu` claim and of the request URL (RFC 9449 section 4.3, check 9).
//!
//! RFC 9449 compares `htu` with the request URI "without query and fragment parts", after the
//! syntax-based normalisation of RFC 3986 section 6.2.2. Like the reference, the comparison form
//! here is built from the WHATWG URL parser's view of the URL:
//!
//! - the origin `scheme://host[:port]`: scheme and host lower-cased, an internationalised host
//!   converted to its punycode (IDNA) form, the scheme's default port dropped, and any userinfo
//!   dropped (an origin has none);
//! - the path, with dot segments resolved by the parser;
//! - no query and no fragment;
//! - then every percent-escape upper-cased (`%2f` becomes `%2F`).
//!
//! A URL without a tuple origin (for example `data:` or `mailto:`) has nothing to compare with an
//! HTTP request and is refused, and so is a `blob:` URL, whose origin is that of the URL inside
//! it (it has no host of its own, and its path is the inner URL's whole text). The reference would normalise it to `null` followed by its path;
//! refusing it is stricter.
//!
//! ```
//! use auth0_api::dpop::htu::normalize_htu;
//!
//! assert_eq!(
//!     normalize_htu("HTTPS://API.Example.com:443/a/../b%2fc?x=1#top")?,
//!     "https://api.example.com/b%2Fc"
//! );
//! # Ok::<(), auth0_api::dpop::htu::HtuError>(())
//! ```

use std::fmt;

use url::Url;

/// Why a URL has no `htu` comparison form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HtuError {
    /// Not a valid absolute URL by the WHATWG URL Standard.
    Invalid(url::ParseError),
    /// The URL's origin is opaque (a scheme such as `data:` or `file:`): nothing to compare.
    OpaqueOrigin,
}

impl fmt::Display for HtuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(e) => write!(f, "invalid URL: {e}"),
            Self::OpaqueOrigin => f.write_str("URL has an opaque origin"),
        }
    }
}

impl std::error::Error for HtuError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Invalid(e) => Some(e),
            Self::OpaqueOrigin => None,
        }
    }
}

/// The form of `url` that `htu` comparisons use: origin and path, with upper-cased
/// percent-escapes; query, fragment and userinfo dropped.
///
/// # Errors
/// [`HtuError`] when `url` is not an absolute URL with a tuple origin.
pub fn normalize_htu(url: &str) -> Result<String, HtuError> {
    let parsed = Url::parse(url).map_err(HtuError::Invalid)?;
    let origin = parsed.origin();
    // `blob:` URLs borrow their inner URL's origin but have no host: refused with the opaque
    // ones (joining that origin and the blob's path made no URL, and was not idempotent).
    if !origin.is_tuple() || !parsed.has_host() {
        return Err(HtuError::OpaqueOrigin);
    }
    let mut joined = origin.ascii_serialization();
    joined.push_str(parsed.path());
    Ok(upper_case_escapes(&joined))
}

/// Upper-cases the two hex digits of every `%XX` escape, scanning left to right without overlap.
fn upper_case_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c != '%' {
            continue;
        }
        let mut ahead = chars.clone();
        match (ahead.next(), ahead.next()) {
            (Some(hi), Some(lo)) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                out.push(hi.to_ascii_uppercase());
                out.push(lo.to_ascii_uppercase());
                chars = ahead;
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn n(url: &str) -> String {
        normalize_htu(url).unwrap()
    }

    #[test]
    fn default_ports_are_dropped_and_others_kept() {
        assert_eq!(
            n("https://api.example.com:443/r"),
            "https://api.example.com/r"
        );
        assert_eq!(n("http://api.example.com:80/r"), "http://api.example.com/r");
        assert_eq!(
            n("https://api.example.com:8443/r"),
            "https://api.example.com:8443/r"
        );
        assert_eq!(
            n("http://api.example.com:443/r"),
            "http://api.example.com:443/r"
        );
        assert_eq!(
            n("https://api.example.com:80/r"),
            "https://api.example.com:80/r"
        );
    }

    #[test]
    fn scheme_and_host_are_lower_cased_path_is_not() {
        assert_eq!(
            n("HTTPS://API.EXAMPLE.COM/Resource"),
            "https://api.example.com/Resource"
        );
    }

    #[test]
    fn idna_hosts_become_punycode() {
        assert_eq!(
            n("https://BÜCHER.example/"),
            "https://xn--bcher-kva.example/"
        );
        assert_eq!(
            n("https://bücher.example/x"),
            "https://xn--bcher-kva.example/x"
        );
    }

    #[test]
    fn dot_segments_are_resolved() {
        assert_eq!(n("https://a.example/x/./y/../z"), "https://a.example/x/z");
        assert_eq!(n("https://a.example/../../r"), "https://a.example/r");
        assert_eq!(n("https://a.example/x/%2e%2E/r"), "https://a.example/r");
    }

    #[test]
    fn percent_escapes_are_upper_cased() {
        assert_eq!(
            n("https://a.example/b%2fc%3a"),
            "https://a.example/b%2Fc%3A"
        );
        assert_eq!(n("https://a.example/b%2Fc"), n("https://a.example/b%2fc"));
        // Non-ASCII and spaces are escaped by the parser (upper-case already).
        assert_eq!(n("https://a.example/ä b"), "https://a.example/%C3%A4%20b");
        // A lone or broken escape stays as it is.
        assert_eq!(
            n("https://a.example/%%41%g1%"),
            "https://a.example/%%41%g1%"
        );
        assert_eq!(upper_case_escapes("%%2f%zz%ab%"), "%%2F%zz%AB%");
    }

    #[test]
    fn userinfo_query_and_fragment_are_dropped() {
        assert_eq!(n("https://user:pw@a.example/r"), "https://a.example/r");
        assert_eq!(n("https://a.example/r?x=1&y=2"), "https://a.example/r");
        assert_eq!(n("https://a.example/r#frag"), "https://a.example/r");
        assert_eq!(
            n("https://a.example/r/?abc=def#frag"),
            "https://a.example/r/"
        );
    }

    #[test]
    fn trailing_slash_is_kept_and_empty_path_is_root() {
        assert_eq!(n("https://a.example/r/"), "https://a.example/r/");
        assert_ne!(n("https://a.example/r/"), n("https://a.example/r"));
        assert_eq!(n("https://a.example"), "https://a.example/");
    }

    #[test]
    fn ip_hosts() {
        assert_eq!(n("http://127.0.0.1:8080/r"), "http://127.0.0.1:8080/r");
        assert_eq!(n("https://[::1]/r"), "https://[::1]/r");
    }

    #[test]
    fn invalid_urls_are_refused() {
        for bad in [
            "",
            "not a url",
            "/relative/path",
            "https://",
            "https://exa mple.com/",
            "http://[::1/",
        ] {
            assert!(
                matches!(normalize_htu(bad), Err(HtuError::Invalid(_))),
                "{bad:?}"
            );
        }
        for opaque in [
            "data:text/plain,hi",
            "mailto:a@b.example",
            "file:///etc/passwd",
            "urn:x:y",
        ] {
            assert_eq!(
                normalize_htu(opaque),
                Err(HtuError::OpaqueOrigin),
                "{opaque:?}"
            );
        }
        assert!(!HtuError::OpaqueOrigin.to_string().is_empty());
    }

    /// Found by the `htu` fuzz target: a `blob:` URL was normalised to its inner origin followed
    /// by its whole inner text, which normalised again to something else.
    #[test]
    fn blob_urls_are_refused() {
        for blob in [
            "blob:http:/\u{5d6}/p2lll,obc",
            "blob:https://api.example.com/resource",
            "blob:https://api.example.com/",
        ] {
            assert_eq!(normalize_htu(blob), Err(HtuError::OpaqueOrigin), "{blob:?}");
        }
    }
}
