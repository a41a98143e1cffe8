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

use std::fmt::{self, Write as _};

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
    let parsed = parse(url)?;
    let Some(host) = parsed.host_str() else {
        // Not reached: `parse` only keeps URLs with a host.
        return Err(HtuError::OpaqueOrigin);
    };
    let scheme = parsed.scheme();
    let path = parsed.path();
    // The origin's ASCII serialisation, `scheme://host[:port]`, written directly: the parser
    // already dropped a default port (`port()` is `None` for it), which is exactly when the
    // serialisation leaves the port out. The host is already in its ASCII (punycode) form.
    let mut out = String::with_capacity(scheme.len() + 3 + host.len() + 6 + path.len());
    out.push_str(scheme);
    out.push_str("://");
    out.push_str(host);
    if let Some(port) = parsed.port() {
        out.push(':');
        // Writing into a String cannot fail.
        let _ = write!(out, "{port}");
    }
    out.push_str(path);
    upper_case_escapes_in_place(&mut out);
    Ok(out)
}

/// Whether `claimed` (a proof's `htu`) and `requested` (the request URL) have the same
/// [comparison form](normalize_htu); a URL without one matches nothing.
///
/// Byte-identical URLs (the usual case) are parsed once: they match exactly when they have a
/// comparison form.
pub(crate) fn htu_matches(claimed: &str, requested: &str) -> bool {
    if claimed == requested {
        return plainly_has_comparison_form(requested) || parse(requested).is_ok();
    }
    match (normalize_htu(claimed), normalize_htu(requested)) {
        (Ok(claimed), Ok(requested)) => claimed == requested,
        _ => false,
    }
}

/// Whether `url` has a comparison form, decided without the parser for the plain URLs requests
/// carry: `http(s)://`, a host of lower-case letters, digits, dots and hyphens whose last label
/// does not start with a digit (never an IPv4 address) and with no `xn--` label (never
/// punycode to check), an optional port of at most 65535, then anything in printable ASCII.
/// The WHATWG parser cannot fail on such a URL (once the host and port are valid, the path,
/// query and fragment only get escaped), and its origin is a tuple. `false` means "ask the
/// parser", not "no form": a unit test and a proptest pin that every `true` is the parser's.
fn plainly_has_comparison_form(url: &str) -> bool {
    let bytes = url.as_bytes();
    let rest = match bytes {
        [b'h', b't', b't', b'p', b's', b':', b'/', b'/', rest @ ..]
        | [b'h', b't', b't', b'p', b':', b'/', b'/', rest @ ..] => rest,
        _ => return false,
    };
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'\\' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let (authority, tail) = rest.split_at_checked(end).unwrap_or_default();
    if !tail.iter().all(u8::is_ascii_graphic) {
        return false;
    }
    let (host, port) = match authority.iter().position(|&b| b == b':') {
        Some(colon) => (
            authority.get(..colon).unwrap_or_default(),
            authority.get(colon + 1..),
        ),
        None => (authority, None),
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.iter().all(u8::is_ascii_digit)
            && p.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0')) <= 65_535
    });
    let mut last_label_start = None;
    for label in host.split(|&b| b == b'.') {
        let plain = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-';
        if label.is_empty() || label.starts_with(b"xn--") || !label.iter().all(plain) {
            return false;
        }
        last_label_start = label.first().copied();
    }
    port_ok && last_label_start.is_some_and(|b| !b.is_ascii_digit())
}

/// `false` only if [`plainly_has_comparison_form`] accepts a URL the parser refuses (fuzzing).
pub(crate) fn shortcut_agrees(url: &str) -> bool {
    !plainly_has_comparison_form(url) || parse(url).is_ok()
}

/// Parses `url`, keeping it only when it has a tuple origin and a host of its own.
///
/// The `url` crate gives a tuple origin to the special schemes `http`, `https`, `ws`, `wss` and
/// `ftp` (which always have a host), and to a `blob:` URL whose inner URL has one; a `blob:` URL
/// has no host of its own (with an authority its path starts with `/`, and no inner URL parses
/// from that). So the check is on the scheme, without building the origin.
fn parse(url: &str) -> Result<Url, HtuError> {
    let parsed = Url::parse(url).map_err(HtuError::Invalid)?;
    let tuple = matches!(parsed.scheme(), "http" | "https" | "ws" | "wss" | "ftp");
    if tuple && parsed.has_host() {
        Ok(parsed)
    } else {
        Err(HtuError::OpaqueOrigin)
    }
}

/// Upper-cases the two hex digits of every `%XX` escape, scanning left to right without overlap.
///
/// Works on bytes: hex digits and `%` are ASCII, and no byte of a multi-byte character is
/// ASCII, so this is the same scan as one over characters.
fn upper_case_escapes_in_place(s: &mut str) {
    let mut from = 0;
    while let Some(found) = s.get(from..).and_then(|rest| rest.find('%')) {
        let at = from + found;
        let escape = s
            .as_bytes()
            .get(at + 1..at + 3)
            .is_some_and(|digits| digits.iter().all(u8::is_ascii_hexdigit));
        if escape {
            if let Some(digits) = s.get_mut(at + 1..at + 3) {
                digits.make_ascii_uppercase();
            }
            from = at + 3;
        } else {
            from = at + 1;
        }
    }
}

/// [`upper_case_escapes_in_place`] on a copy.
#[cfg(test)]
fn upper_case_escapes(s: &str) -> String {
    let mut out = s.to_owned();
    upper_case_escapes_in_place(&mut out);
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

    /// The implementation before the direct serialisation (origin, then a second pass for the
    /// escapes), kept to check that the output did not change.
    fn reference(url: &str) -> Result<String, HtuError> {
        let parsed = Url::parse(url).map_err(HtuError::Invalid)?;
        let origin = parsed.origin();
        if !origin.is_tuple() || !parsed.has_host() {
            return Err(HtuError::OpaqueOrigin);
        }
        let mut joined = origin.ascii_serialization();
        joined.push_str(parsed.path());
        let mut out = String::new();
        let mut chars = joined.chars();
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
        Ok(out)
    }

    const TRICKY: &[&str] = &[
        "https://api.example.com/r",
        "HTTPS://API.Example.com:443/a/../b%2fc?x=1#top",
        "http://a.example:80/",
        "http://a.example:0080/x",
        "https://a.example:80/x",
        "ws://a.example:80/s",
        "wss://a.example:443/s",
        "ws://a.example:443/s",
        "ftp://a.example:21/f",
        "ftp://user:pw@a.example:2121/f%aa",
        "https://[::1]:8443/r",
        "https://[0:0::1]/r",
        "http://127.1/",
        "http://0x7f.1:80/",
        "https://bücher.example/ä b/%e2%82%ac",
        "https://xn--bcher-kva.example/",
        "https://a.example/%%41%g1%",
        "https://a.example/%",
        "https://a.example/x%4",
        "https://a.example/%aB%Ab%ab",
        "https://a.example\\b\\c",
        "https://a.example/\t\nr ",
        "  https://a.example/r  ",
        "https:a.example/r",
        "https:/a.example/r",
        "https://a.example:/r",
        "https://a.example:65535/r",
        "https://a.example:65536/r",
        "blob:https://a.example/r",
        "blob://a.example/https://b.example/",
        "blob:blob:https://a.example/",
        "file:///etc/passwd",
        "file://host/share",
        "data:text/plain,hi",
        "foo://a.example/r",
        "javascript:alert(1)",
        "",
        "https://",
        "not a url",
    ];

    #[test]
    fn same_output_as_the_reference_implementation() {
        for url in TRICKY {
            assert_eq!(normalize_htu(url), reference(url), "{url:?}");
        }
    }

    #[test]
    fn htu_matches_is_equality_of_comparison_forms() {
        for a in TRICKY {
            for b in TRICKY {
                let expected = matches!(
                    (normalize_htu(a), normalize_htu(b)),
                    (Ok(x), Ok(y)) if x == y
                );
                assert_eq!(htu_matches(a, b), expected, "{a:?} {b:?}");
            }
        }
    }

    /// The byte-identical fast path still refuses URLs without a comparison form.
    #[test]
    fn identical_urls_without_a_comparison_form_do_not_match() {
        for bad in [
            "",
            "not a url",
            "/relative/path",
            "https://",
            "data:text/plain,hi",
            "file:///etc/passwd",
            "blob:https://api.example.com/resource",
        ] {
            assert!(!htu_matches(bad, bad), "{bad:?}");
        }
        assert!(htu_matches(
            "https://api.example.com/r",
            "https://api.example.com/r"
        ));
        assert!(htu_matches(
            "https://API.example.com:443/r",
            "https://api.example.com/r?q=1"
        ));
        assert!(!htu_matches(
            "https://api.example.com/r",
            "https://api.example.com/r/"
        ));
    }

    /// Every URL the fast check accepts is one the parser accepts, and the usual request URLs
    /// take the fast path.
    #[test]
    fn the_fast_check_only_accepts_what_the_parser_accepts() {
        for url in TRICKY.iter().copied().chain([
            "https://api.example.com/calendar/events",
            "https://api.example.com:8443/a/b?c=d#e",
            "http://localhost:3000/",
            "https://a-b.example/",
            "https://api.example.com",
            "https://api.example.com:65536/",
            "https://api.example.com:/",
            "https://999.1.1.1/",
            "https://1.2.3.4/",
            "https://0x7f.1/",
            "https://xn--nxasmq6b.example/",
            "https://xn--/",
            "https://a..b/",
            "https://.a/",
            "https://a./",
            "https://user@host/",
            "https://[::1]/",
            "https://exa mple.com/",
            "https://example.com/\u{e4}",
            "https://EXAMPLE.com/",
        ]) {
            if plainly_has_comparison_form(url) {
                assert!(parse(url).is_ok(), "{url:?}");
            }
        }
        for usual in [
            "https://api.example.com/calendar/events",
            "https://api.example.com:8443/a/b?c=d#e",
            "http://localhost:3000/",
            "https://api.example.com",
        ] {
            assert!(plainly_has_comparison_form(usual), "{usual:?}");
        }
        for slow in [
            "https://1.2.3.4/",
            "https://xn--nxasmq6b.example/",
            "https://a./",
        ] {
            assert!(!plainly_has_comparison_form(slow), "{slow:?}");
        }
    }

    proptest::proptest! {
        /// URL-like text near the fast check's edges: whatever it accepts, the parser accepts.
        #[test]
        fn fast_check_implies_parse(
            scheme in "(https?://|HTTPS://|ftp://)",
            host in "[a-z0-9.x-]{0,12}(\\.[0-9]{1,4}|\\.xn--[a-z0-9-]{0,4}|)",
            port in "(:[0-9]{0,6}|)",
            rest in "[/?#\\\\a-zA-Z0-9%.:@\\[\\] -]{0,12}",
        ) {
            let url = format!("{scheme}{host}{port}{rest}");
            if plainly_has_comparison_form(&url) {
                proptest::prop_assert!(parse(&url).is_ok(), "{:?}", url);
            }
        }

        /// Random URL-like text, mostly with a known scheme: same output as the reference.
        #[test]
        fn same_output_as_the_reference_on_random_urls(
            scheme in "(https?|wss?|ftp|file|blob:https?|data|x)",
            slashes in "(//|/|\\\\|)",
            rest in "[a-zA-Z0-9.:@\\[\\]%/\\\\?#. \t\u{e4}\u{2e9}-]{0,40}",
        ) {
            let url = format!("{scheme}:{slashes}{rest}");
            proptest::prop_assert_eq!(normalize_htu(&url), reference(&url), "{:?}", url);
        }
    }
}
