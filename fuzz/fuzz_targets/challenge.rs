//! `WWW-Authenticate` construction (RFC 6750 section 3, RFC 9449 section 7.1) with arbitrary
//! codes, descriptions and `algs`: the value is always a valid header value, parses as RFC 9110
//! challenges, and every quoted parameter round-trips (control characters become spaces).
#![no_main]

use auth0_api::DpopMode;
use auth0_api::challenge::{AuthScheme, Challenges};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    mode: u8,
    scheme: u8,
    code: &'a str,
    description: &'a str,
    algs: &'a str,
    metadata: Option<&'a str>,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 section 5.6.4 quoted-string starting at `b[i]`: (unescaped value, next index).
fn quoted(b: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        let c = *b.get(i)?;
        match c {
            b'"' => return Some((out, i + 1)),
            b'\\' => {
                let e = *b.get(i + 1)?;
                if !(e == b'\t' || e == b' ' || (0x21..=0x7e).contains(&e) || e >= 0x80) {
                    return None;
                }
                out.push(e);
                i += 2;
            }
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
}

/// `scheme SP name="value", name="value", scheme ...` (the forms this library emits).
fn parse(s: &str) -> Option<Vec<(String, Vec<(String, String)>)>> {
    let b = s.as_bytes();
    let mut out: Vec<(String, Vec<(String, String)>)> = Vec::new();
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if i == start {
            return None;
        }
        let token = s[start..i].to_owned();
        if b.get(i) == Some(&b'=') {
            let (value, next) = quoted(b, i + 1)?;
            out.last_mut()?
                .1
                .push((token, String::from_utf8(value).ok()?));
            i = next;
        } else {
            out.push((token, Vec::new()));
            match b.get(i) {
                None => return Some(out),
                Some(b' ') => {
                    i += 1;
                    continue;
                }
                Some(_) => return None,
            }
        }
        match b.get(i) {
            None => return Some(out),
            Some(b',') if b.get(i + 1) == Some(&b' ') => i += 2,
            Some(_) => return None,
        }
    }
}

fn cleaned(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fuzz_target!(|input: Input<'_>| {
    let mode =
        [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled][usize::from(input.mode % 3)];
    let scheme =
        [None, Some(AuthScheme::Bearer), Some(AuthScheme::Dpop)][usize::from(input.scheme % 3)];
    let mut challenges =
        Challenges::for_code(mode, scheme, input.code, input.description, input.algs);
    if let Some(metadata) = input.metadata {
        challenges.add_to_each("resource_metadata", metadata);
    }
    let value = challenges.to_string();
    assert!(http::HeaderValue::from_str(&value).is_ok(), "{value:?}");
    let challenges = parse(&value).unwrap_or_else(|| panic!("unparsable: {value:?}"));
    assert!(!challenges.is_empty());
    for (scheme, params) in &challenges {
        assert!(scheme == "Bearer" || scheme == "DPoP", "{value:?}");
        for (name, v) in params {
            let want = match name.as_str() {
                "realm" => "api".to_owned(),
                "error" => cleaned(input.code),
                "error_description" => cleaned(input.description),
                "algs" => cleaned(input.algs),
                "resource_metadata" => cleaned(input.metadata.unwrap_or_default()),
                other => panic!("unexpected parameter {other}: {value:?}"),
            };
            assert_eq!(v, &want, "{value:?}");
        }
    }
});
