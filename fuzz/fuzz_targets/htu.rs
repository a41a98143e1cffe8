//! `normalize_htu` (RFC 9449 section 4.3, check 9) on arbitrary text: never panics, is
//! idempotent, and its output never carries a query, a fragment or userinfo; the shortcut for
//! byte-identical `htu` and request URL never accepts a URL the parser refuses.
#![no_main]

use auth0_api::dpop::htu::normalize_htu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(url) = std::str::from_utf8(data) else {
        return;
    };
    assert!(auth0_api::__fuzz::htu_shortcut_agrees(url), "{url:?}");
    if let Ok(once) = normalize_htu(url) {
        assert_eq!(
            normalize_htu(&once).as_deref(),
            Ok(once.as_str()),
            "{url:?}"
        );
        assert!(!once.contains(['?', '#']), "{once:?}");
        let (_, rest) = once.split_once("://").expect("origin");
        let authority = rest.split('/').next().unwrap_or_default();
        assert!(!authority.contains('@'), "{once:?}");
        assert!(
            !once.as_bytes().windows(3).any(|w| w[0] == b'%'
                && w[1..].iter().all(u8::is_ascii_hexdigit)
                && w[1..].iter().any(u8::is_ascii_lowercase)),
            "{once:?}"
        );
    }
});
