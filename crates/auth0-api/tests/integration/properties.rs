//! Property tests of the parsers that read attacker-controlled input: they never panic on
//! arbitrary text or bytes, nor on near-valid structured input (random JSON objects encoded as
//! JWS segments, random `Authorization`/`DPoP` headers, random URLs and JWKs), and they
//! round-trip where a round trip is defined (strict base64url, `htu` and domain normalisation,
//! challenge escaping read back by an RFC 9110 quoted-string parser written here).
//!
//! The same parsers are fuzzed by the nightly targets in `fuzz/` (see `docs/SECURITY.md`).

use std::sync::OnceLock;
use std::time::Duration;

use auth0_api::__fuzz::jws::{self, DecodeError, JsonObject, MAX_TOKEN_BYTES};
use auth0_api::__fuzz::keys::{KeyError, MAX_RSA_BITS, MIN_RSA_BITS, VerifyingKey};
use auth0_api::act::{MAX_DELEGATION_DEPTH, current_actor, delegation_chain};
use auth0_api::challenge::{AuthScheme, Challenges, www_authenticate};
use auth0_api::domains::normalize_domain;
use auth0_api::dpop::htu::normalize_htu;
use auth0_api::dpop::thumbprint::jwk_thumbprint;
use auth0_api::{__fuzz, Algorithm, ApiClient, ApiClientOptions, DpopMode, VerifyRequest};
use auth0_api_dev_tenant::dpop::{DpopKey, access_token_hash};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::AUD;

// --- strategies ------------------------------------------------------------------------------

/// Member names the parsers look at, mixed with arbitrary ones.
const NAMES: [&str; 24] = [
    "alg", "typ", "kid", "jwk", "crit", "jku", "x5u", "x5c", "iss", "aud", "exp", "iat", "nbf",
    "sub", "cnf", "jkt", "act", "scope", "jti", "htm", "htu", "ath", "kty", "crv",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&NAMES[..]).prop_map(str::to_owned),
        1 => "\\PC{0,8}",
    ]
}

/// JSON leaves that serde_json writes and reads back exactly (no floats: its float parsing is
/// best-effort, see `float_leaves_never_panic`).
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
        prop::sample::select(&NAMES[..]).prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(name(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = JsonObject> {
    prop::collection::btree_map(name(), json_value(), 0..8).prop_map(|m| m.into_iter().collect())
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(v: &impl serde::Serialize) -> String {
    b64(serde_json::to_vec(v).unwrap())
}

/// Absolute URLs of many shapes: scheme case, userinfo, IDNA and upper-case hosts, ports, dot
/// segments, percent-escapes in either case, query and fragment.
fn url() -> impl Strategy<Value = String> {
    let scheme = prop::sample::select(&["https", "http", "HTTPS", "Http", "wss", "ftp"][..]);
    let userinfo = prop::option::of("[a-z]{1,4}(:[a-z]{0,4})?@");
    let host = prop_oneof![
        "[a-zA-Z0-9]{1,8}(\\.[a-zA-Z0-9-]{1,8}){0,2}",
        Just("b\u{fc}cher.example".to_owned()),
        Just("\u{430}pi.example.com".to_owned()),
        Just("API.EXAMPLE.COM".to_owned()),
        Just("127.0.0.1".to_owned()),
        Just("[::1]".to_owned()),
    ];
    let port = prop::option::of(0u16..=65535);
    let segment = prop_oneof![
        "[a-zA-Z0-9_~-]{0,6}",
        Just(".".to_owned()),
        Just("..".to_owned()),
        Just("%2e%2E".to_owned()),
        "%[0-9a-fA-F]{2}",
        "\\PC{1,3}",
    ];
    let path = prop::collection::vec(segment, 0..5);
    let query = prop::option::of("\\?[a-z=&%0-9]{0,8}");
    let fragment = prop::option::of("#[a-z%0-9]{0,6}");
    // A `blob:` URL wraps another (the `htu` fuzz target found these were mishandled).
    let blob = prop::bool::weighted(0.1);
    (scheme, userinfo, host, port, path, query, fragment, blob).prop_map(
        |(scheme, userinfo, host, port, path, query, fragment, blob)| {
            let mut u = format!("{scheme}://{}{host}", userinfo.unwrap_or_default());
            if blob {
                u.insert_str(0, "blob:");
            }
            if let Some(p) = port {
                u.push_str(&format!(":{p}"));
            }
            for s in path {
                u.push('/');
                u.push_str(&s);
            }
            u.push_str(&query.unwrap_or_default());
            u.push_str(&fragment.unwrap_or_default());
            u
        },
    )
}

/// A proptest config with `cases` cases (the suite's budget is about 10 s for this module).
fn cases(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

// --- an RFC 9110 reader for challenges, independent of the code under test -------------------

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 9110 section 5.6.4: `quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE` at
/// `b[i]`; returns the unescaped value and the index after the closing quote.
fn quoted_string(b: &[u8], mut i: usize) -> Option<(Vec<u8>, usize)> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    i += 1;
    let mut out = Vec::new();
    loop {
        let c = *b.get(i)?;
        match c {
            b'"' => return Some((out, i + 1)),
            // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
            b'\\' => {
                let e = *b.get(i + 1)?;
                if !(e == b'\t' || e == b' ' || (0x21..=0x7e).contains(&e) || e >= 0x80) {
                    return None;
                }
                out.push(e);
                i += 2;
            }
            // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
            b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff => {
                out.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
}

type Challenge = (String, Vec<(String, String)>);

/// RFC 9110 section 11.6.1, restricted to `auth-param`s with quoted values (all this library
/// writes): `scheme SP name="value", name="value", scheme SP ...`.
fn parse_challenges(s: &str) -> Option<Vec<Challenge>> {
    let b = s.as_bytes();
    let mut out: Vec<Challenge> = Vec::new();
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
            let (value, next) = quoted_string(b, i + 1)?;
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

/// What a quoted parameter must read back as: control characters become spaces (they cannot
/// appear in a header value).
fn cleaned(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[test]
fn the_challenge_reader_reads_rfc_examples() {
    // RFC 6750 section 3 and RFC 9449 section 7.1 examples.
    let v = r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#;
    assert_eq!(
        parse_challenges(v).unwrap(),
        [(
            "Bearer".to_owned(),
            vec![
                ("realm".to_owned(), "example".to_owned()),
                ("error".to_owned(), "invalid_token".to_owned()),
                (
                    "error_description".to_owned(),
                    "The access token expired".to_owned()
                ),
            ]
        )]
    );
    let v = r#"DPoP error="invalid_token", error_description="a \"b\" \\c", algs="ES256 PS256""#;
    let parsed = parse_challenges(v).unwrap();
    assert_eq!(parsed[0].1[1].1, r#"a "b" \c"#);
    assert!(parse_challenges(r#"Bearer error="unterminated"#).is_none());
    assert!(parse_challenges("Bearer error=\"a\nb\"").is_none());
}

// --- runtime and offline clients -------------------------------------------------------------

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
    })
}

/// Clients whose tenant (`127.0.0.1:9`, the discard port) is never reachable, one per DPoP mode;
/// replay protection off so that repeated cases stay independent.
fn offline(mode: DpopMode) -> &'static ApiClient {
    static CLIENTS: OnceLock<[ApiClient; 3]> = OnceLock::new();
    let clients = CLIENTS.get_or_init(|| {
        [DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled].map(|m| {
            ApiClient::new(
                ApiClientOptions::builder()
                    .domain("127.0.0.1:9")
                    .audience(AUD)
                    .dpop_mode(m)
                    .replay_protection(false)
                    .http_timeout(Duration::from_millis(500))
                    .build()
                    .unwrap(),
            )
            .unwrap()
        })
    });
    match mode {
        DpopMode::Allowed => &clients[0],
        DpopMode::Required => &clients[1],
        _ => &clients[2],
    }
}

fn mode() -> impl Strategy<Value = DpopMode> {
    prop::sample::select(&[DpopMode::Allowed, DpopMode::Required, DpopMode::Disabled][..])
}

// --- compact JWS -----------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Strict base64url round-trips, and only the canonical encoding decodes.
    #[test]
    fn base64url_decodes_what_it_encodes(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = b64(&bytes);
        prop_assert_eq!(jws::b64_decode(&text).unwrap(), bytes);
    }

    #[test]
    fn base64url_accepts_only_canonical_text(text in "[A-Za-z0-9_+/=-]{0,40}|\\PC{0,20}") {
        if let Ok(bytes) = jws::b64_decode(&text) {
            prop_assert_eq!(b64(bytes), text);
        }
    }

    #[test]
    fn split_never_panics_and_rejoins(token in "\\PC{0,64}|[A-Za-z0-9._-]{0,64}") {
        match jws::split(&token, MAX_TOKEN_BYTES) {
            Ok(s) => {
                prop_assert_eq!(format!("{}.{}", s.signing_input, s.signature), token.as_str());
                prop_assert_eq!(token.matches('.').count(), 2);
            }
            Err(DecodeError::Segments(n)) => prop_assert_eq!(n, token.split('.').count()),
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }

    #[test]
    fn parse_object_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..128)) {
        let _ = jws::parse_object(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = jws::decode_object(text);
        }
    }

    #[test]
    fn float_leaves_never_panic(f in any::<f64>(), text in "-?[0-9]{0,400}(\\.[0-9]{0,10})?([eE][+-]?[0-9]{0,4})?") {
        let _ = jws::parse_object(format!(r#"{{"exp":{f}}}"#).as_bytes());
        let _ = jws::parse_object(format!(r#"{{"exp":{text}}}"#).as_bytes());
    }

    /// A JSON object encoded as a segment decodes to itself.
    #[test]
    fn objects_round_trip_through_segments(object in json_object()) {
        prop_assert_eq!(jws::decode_object(&b64_json(&object)).unwrap(), object);
    }

    /// Anything but an object is refused as such.
    #[test]
    fn non_objects_are_refused(value in json_value().prop_filter("not an object", |v| !v.is_object())) {
        prop_assert_eq!(jws::decode_object(&b64_json(&value)), Err(DecodeError::NotObject));
    }

    /// A member name written twice is refused, wherever it is (RFC 7515 section 4).
    #[test]
    fn duplicate_names_are_refused(
        object in json_object().prop_filter("non-empty", |o| !o.is_empty()),
        pick in any::<prop::sample::Index>(),
        dup in json_value(),
        first in any::<bool>(),
    ) {
        let names: Vec<&String> = object.keys().collect();
        let name = names[pick.index(names.len())].clone();
        let text = serde_json::to_string(&object).unwrap();
        let member = format!("{}:{dup}", serde_json::to_string(&name).unwrap());
        // `"name": dup` first (the original follows) or last.
        let with_dup = if first {
            format!("{{{member},{}", &text[1..])
        } else {
            format!("{},{member}}}", &text[..text.len() - 1])
        };
        prop_assert_eq!(jws::parse_object(with_dup.as_bytes()), Err(DecodeError::DuplicateMember(name)));
    }
}

// --- access-token claims ---------------------------------------------------------------------

const ISS: &str = "https://tenant.example.com/";
const NOW: f64 = 1_750_000_000.0;

fn valid_claims() -> JsonObject {
    json!({"iss": ISS, "sub": "u", "aud": AUD, "iat": NOW, "exp": NOW + 3600.0})
        .as_object()
        .cloned()
        .unwrap()
}

proptest! {
    #![proptest_config(cases(256))]

    /// The network-free access-token checks on random headers and claims, and near-valid
    /// claims with members replaced by random JSON: never a panic, and what passes satisfies
    /// every rule.
    #[test]
    fn access_token_checks_never_panic(
        header in json_object(),
        claims in json_object(),
        patch in prop::collection::vec((name(), json_value()), 0..4),
        signature in "[A-Za-z0-9_-]{0,20}",
        leeway in 0u16..120,
    ) {
        let mut near = valid_claims();
        for (k, v) in patch {
            near.insert(k, v);
        }
        let audiences = [AUD.to_owned()];
        let leeway = f64::from(leeway);
        for payload in [claims, near] {
            let token = format!("{}.{}.{signature}", b64_json(&header), b64_json(&payload));
            match __fuzz::check_access_token(&token, ISS, &audiences, leeway, NOW, &[]) {
                Ok(c) => {
                    prop_assert_eq!(c.iss(), Some(ISS));
                    prop_assert!(c.aud().is_some_and(|a| a.contains(AUD)));
                    prop_assert!(NOW < c.exp().unwrap() + leeway);
                    prop_assert!(c.iat().is_some());
                }
                Err(e) => prop_assert!(matches!(e.status_code(), 400 | 401)),
            }
        }
    }

    /// `normalize_domain` is idempotent and its output is `https://host/`.
    #[test]
    fn normalize_domain_is_idempotent(domain in "\\PC{0,30}|(https?://)?[a-zA-Z0-9.:_-]{1,20}/?") {
        if let Ok(once) = normalize_domain(&domain) {
            prop_assert_eq!(normalize_domain(&once), Ok(once.clone()));
            let host = once.strip_prefix("https://").and_then(|h| h.strip_suffix('/')).unwrap();
            prop_assert!(!host.is_empty() && !host.contains(['/', '?', '#', '@']));
        }
    }

    /// The `act` helpers on random claims: never a panic, a bounded chain whose head is the
    /// current actor.
    #[test]
    fn act_helpers_never_panic(act in json_value(), depth in 0usize..40) {
        let mut nested = act;
        for i in 0..depth {
            nested = json!({"sub": format!("actor{i}"), "act": nested});
        }
        let claims = __fuzz::claims(json!({"act": nested}).as_object().cloned().unwrap());
        let actor = current_actor(&claims);
        if let Ok(chain) = delegation_chain(&claims) {
            prop_assert!(chain.len() <= MAX_DELEGATION_DEPTH);
            prop_assert_eq!(chain.first().copied(), actor.unwrap());
        }
    }

    /// Token-endpoint answers: random bodies never panic; `expires_in` as an integer or a
    /// string of digits reads back as itself.
    #[test]
    fn token_response_parsing(
        body in prop::collection::vec(any::<u8>(), 0..64),
        object in json_object(),
        status in 100u16..1000,
        secs in any::<u64>(),
        as_text in any::<bool>(),
    ) {
        for (status, body) in [(status, body), (200, serde_json::to_vec(&object).unwrap())] {
            if let Err(e) = __fuzz::parse_token_response(status, Some("application/json"), &body, false, 0) {
                prop_assert!((100..1000).contains(&e.status_code()));
            }
        }
        let expires_in = if as_text { json!(secs.to_string()) } else { json!(secs) };
        let body = serde_json::to_vec(&json!({"access_token": "t", "expires_in": expires_in})).unwrap();
        let (token, got, at, _) = __fuzz::parse_token_response(200, None, &body, true, 10).unwrap();
        prop_assert_eq!((token.as_str(), got, at), ("t", secs, secs.saturating_add(10)));
    }
}

// --- htu -------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    #[test]
    fn normalize_htu_never_panics(text in "\\PC{0,40}") {
        if let Ok(once) = normalize_htu(&text) {
            prop_assert_eq!(normalize_htu(&once), Ok(once.clone()));
        }
    }

    /// On random URLs: idempotent, no query, fragment or userinfo, escapes upper-cased, and the
    /// case of an escape never matters.
    #[test]
    fn normalize_htu_is_idempotent_on_urls(url in url()) {
        let Ok(once) = normalize_htu(&url) else {
            return Ok(());
        };
        prop_assert_eq!(normalize_htu(&once), Ok(once.clone()));
        prop_assert!(!once.contains(['?', '#']));
        let authority = once.split_once("://").unwrap().1.split('/').next().unwrap();
        prop_assert!(!authority.contains('@'));
        prop_assert!(!once.as_bytes().windows(3).any(|w| w[0] == b'%'
            && w[1..].iter().all(u8::is_ascii_hexdigit)
            && w[1..].iter().any(u8::is_ascii_lowercase)));
        let flipped: String = {
            // Flip the case of every complete escape's hex digits (`%` and two hex digits; an
            // incomplete one such as `%A` at the end is plain text, as in the reference).
            let chars: Vec<char> = url.chars().collect();
            let mut out = String::new();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                out.push(c);
                i += 1;
                if c == '%' && chars.get(i..i + 2).is_some_and(|h| h.iter().all(char::is_ascii_hexdigit)) {
                    for h in &chars[i..i + 2] {
                        out.push(if h.is_ascii_lowercase() { h.to_ascii_uppercase() } else { h.to_ascii_lowercase() });
                    }
                    i += 2;
                }
            }
            out
        };
        prop_assert_eq!(normalize_htu(&flipped), Ok(once));
    }
}

// --- challenges ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(cases(256))]

    /// Every challenge is a valid header value that an RFC 9110 reader parses, and every quoted
    /// parameter reads back as what was given (control characters as spaces).
    #[test]
    fn challenge_parameters_round_trip(
        mode in mode(),
        scheme in prop::option::of(prop::sample::select(&[AuthScheme::Bearer, AuthScheme::Dpop][..])),
        code in "\\PC{0,12}|invalid_token|invalid_request|unauthorized",
        description in "\\PC{0,40}|[\"\\\\\\r\\n\\t\\u{0}-\\u{1f}\\u{7f}\\u{85} a]{0,12}",
        algs in "ES256( EdDSA)?|\\PC{0,8}",
        metadata in prop::option::of("\\PC{0,20}"),
    ) {
        let value = match &metadata {
            Some(m) => {
                let mut challenges = Challenges::for_code(mode, scheme, &code, &description, &algs);
                challenges.add_to_each("resource_metadata", m);
                challenges.to_string()
            }
            None => www_authenticate(mode, scheme, &code, &description, &algs),
        };
        prop_assert!(http::HeaderValue::from_str(&value).is_ok(), "{value:?}");
        let challenges = parse_challenges(&value);
        prop_assert!(challenges.is_some(), "unparsable: {value:?}");
        for (scheme, params) in challenges.unwrap() {
            prop_assert!(scheme == "Bearer" || scheme == "DPoP");
            for (name, v) in params {
                let want = match name.as_str() {
                    "realm" => "api".to_owned(),
                    "error" => cleaned(&code),
                    "error_description" => cleaned(&description),
                    "algs" => cleaned(&algs),
                    "resource_metadata" => cleaned(metadata.as_deref().unwrap_or_default()),
                    other => return Err(TestCaseError::fail(format!("unexpected parameter {other}"))),
                };
                prop_assert_eq!(v, want, "{}", value);
            }
        }
    }
}

// --- keys and thumbprints --------------------------------------------------------------------

fn near_valid_jwk() -> impl Strategy<Value = JsonObject> {
    let kty = prop::sample::select(&["RSA", "EC", "OKP", "oct", "ec", ""][..]);
    let crv = prop::sample::select(&["P-256", "P-384", "Ed25519", "P-521", "X25519"][..]);
    let bytes = || prop::option::of(prop::collection::vec(any::<u8>(), 0..70));
    (kty, crv, bytes(), bytes(), bytes(), bytes(), json_object()).prop_map(
        |(kty, crv, x, y, n, e, extra)| {
            let mut m = extra;
            m.insert("kty".into(), json!(kty));
            m.insert("crv".into(), json!(crv));
            for (k, v) in [("x", x), ("y", y), ("n", n), ("e", e)] {
                if let Some(v) = v {
                    m.insert(k.into(), json!(b64(v)));
                }
            }
            m
        },
    )
}

proptest! {
    #![proptest_config(cases(256))]

    /// JWK -> key for every algorithm, and thumbprints, on random and near-valid JWKs: typed
    /// errors only; an RSA size error names a size outside 2048..=8192.
    #[test]
    fn jwk_parsing_never_panics(random in json_object(), near in near_valid_jwk(), sig in prop::collection::vec(any::<u8>(), 0..80)) {
        for jwk in [random, near] {
            for alg in Algorithm::ALL {
                match VerifyingKey::from_jwk(&jwk, alg) {
                    Ok(key) => prop_assert!(!key.verify(b"message", &sig)),
                    Err(KeyError::RsaSize(bits)) => prop_assert!(!(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits)),
                    Err(_) => {}
                }
            }
            if let Ok(t) = jwk_thumbprint(&jwk) {
                prop_assert_eq!(t.len(), 43);
            }
        }
    }

    /// RFC 7638 section 3.3: members other than the required ones do not change a thumbprint.
    #[test]
    fn thumbprints_ignore_other_members(extra in json_object()) {
        let key = DpopKey::generate();
        let jwk = key.public_jwk().as_object().cloned().unwrap();
        let mut decorated = extra;
        decorated.extend(jwk.clone());
        prop_assert_eq!(jwk_thumbprint(&decorated).unwrap(), key.thumbprint());
    }
}

// --- requests and proofs (async, fewer cases) ------------------------------------------------

fn header_value() -> impl Strategy<Value = String> {
    let token = (json_object(), json_object(), "[A-Za-z0-9_-]{0,12}")
        .prop_map(|(h, p, s)| format!("{}.{}.{s}", b64_json(&h), b64_json(&p)));
    let scheme = prop::sample::select(&["Bearer", "DPoP", "bearer", "dpop", "Basic", ""][..]);
    let ws = prop::sample::select(&[" ", "\t", "  ", " \t ", ""][..]);
    prop_oneof![
        (scheme, ws, token).prop_map(|(s, w, t)| format!("{s}{w}{t}")),
        "[ -~]{0,40}",
        "\\PC{0,20}",
    ]
}

proptest! {
    #![proptest_config(cases(64))]

    /// `verify_request` on random `Authorization` and `DPoP` headers, methods and URLs, against
    /// a tenant that is never reached: never a panic, never accepted, and every challenge is a
    /// header value that parses.
    #[test]
    fn verify_request_never_panics(
        mode in mode(),
        authorization in prop::collection::vec(header_value(), 0..3),
        proofs in prop::collection::vec(header_value(), 0..3),
        method in prop::option::of("GET|POST|\\PC{0,4}"),
        url in prop::option::of(url()),
    ) {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        pairs.extend(authorization.into_iter().map(|a| ("authorization", a)));
        pairs.extend(proofs.into_iter().map(|p| ("DPoP", p)));
        let mut request = VerifyRequest::from_pairs(pairs);
        if let Some(m) = method {
            request = request.method(m);
        }
        if let Some(u) = url {
            request = request.url(u);
        }
        let result = runtime().block_on(offline(mode).verify_request(request));
        let e = match result {
            Ok(v) => return Err(TestCaseError::fail(format!("accepted: {:?}", v.claims))),
            Err(e) => e,
        };
        prop_assert!((400..600).contains(&e.status_code()));
        if let Some(c) = e.www_authenticate() {
            prop_assert!(parse_challenges(c).is_some(), "{c:?}");
        }
    }

    /// `verify_dpop_proof` on random text, on random JSON objects as header and payload, and on
    /// proofs signed by a real key with random claims: never a panic, and what is accepted
    /// names the request.
    #[test]
    fn verify_dpop_proof_never_panics(
        text in "\\PC{0,60}",
        header in json_object(),
        payload in json_object(),
        patch in prop::collection::vec((name(), json_value()), 0..2),
        header_patch in prop::collection::vec((name(), json_value()), 0..2),
        method in "GET|get|POST|\\PC{0,3}",
        url in url(),
    ) {
        let c = offline(DpopMode::Allowed);
        let token = "access-token";
        let unsigned = format!("{}.{}.{}", b64_json(&header), b64_json(&payload), b64([1u8; 64]));
        let key = DpopKey::generate();
        // An untouched proof for a URL that normalises must pass: the property is not vacuous.
        let must_pass = patch.is_empty()
            && header_patch.is_empty()
            && !method.is_empty()
            && normalize_htu(&url).is_ok();
        let mut builder = key.proof(&method, &url, Some(token));
        for (k, v) in patch {
            builder = builder.claim(k, v);
        }
        for (k, v) in header_patch {
            builder = builder.header(k, v);
        }
        let signed = builder.sign();
        for (proof, may_pass) in [(text, false), (unsigned, false), (signed, true)] {
            match runtime().block_on(c.verify_dpop_proof(token, &proof, &method, &url)) {
                Ok(v) => {
                    prop_assert!(may_pass, "accepted an unsigned proof {proof}");
                    prop_assert_eq!(&v.jkt, &key.thumbprint());
                    prop_assert_eq!(v.claims.get("ath"), Some(&json!(access_token_hash(token))));
                    let htu = v.claims.get("htu").and_then(Value::as_str).unwrap();
                    prop_assert_eq!(normalize_htu(htu).ok(), normalize_htu(&url).ok());
                }
                Err(e) => {
                    prop_assert!(!(may_pass && must_pass), "refused a valid proof: {e:?}");
                    prop_assert!(matches!(e.status_code(), 400 | 401));
                }
            }
        }
    }
}
