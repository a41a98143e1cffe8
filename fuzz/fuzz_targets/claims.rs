//! Access-token claims: the network-free checks of `verify_access_token` (decode, unverified
//! issuer, `kid`, `iss`/`aud`/`exp`/`iat`/`nbf`, required claims) on arbitrary and near-valid
//! tokens, the `Claims` getters and the `act` helpers on whatever decodes, and
//! `normalize_domain` (idempotent); a verified token's getters (answered from what verification
//! located) against its lazily built map.
#![no_main]

use auth0_api::__fuzz;
use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::domains::normalize_domain;
use auth0_api::__fuzz::jws;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const ISS: &str = "https://tenant.example.com/";
const AUD: &str = "https://api.example.com";
const NOW: f64 = 1_750_000_000.0;

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(Key, Json)>),
}

#[derive(Arbitrary, Debug)]
enum Key {
    Known(u8),
    Other(String),
}

const KNOWN: [&str; 16] = [
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "sub",
    "scope",
    "permissions",
    "cnf",
    "jkt",
    "act",
    "azp",
    "kid",
    "alg",
    "crit",
    "typ",
];

impl Key {
    fn name(&self) -> String {
        match self {
            Self::Known(i) => KNOWN[usize::from(*i) % KNOWN.len()].to_owned(),
            Self::Other(s) => s.clone(),
        }
    }
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => json!(b),
            Self::Int(i) => json!(i),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => json!(s),
            Self::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Self::Object(members) => Value::Object(object(members)),
        }
    }
}

fn object(members: &[(Key, Json)]) -> Map<String, Value> {
    members.iter().map(|(k, v)| (k.name(), v.value())).collect()
}

#[derive(Arbitrary, Debug)]
enum Token<'a> {
    /// Any text.
    Raw(&'a str),
    /// Any bytes as the three segments.
    Segments(&'a [u8], &'a [u8], &'a [u8]),
    /// A valid token's header and claims with members set (`Null` removes one).
    NearValid {
        header: Vec<(Key, Json)>,
        claims: Vec<(Key, Json)>,
        signature: &'a [u8],
    },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    token: Token<'a>,
    now_offset: i32,
    leeway: u16,
    required: Vec<Key>,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn patched(mut base: Map<String, Value>, patch: &[(Key, Json)]) -> Map<String, Value> {
    for (k, v) in patch {
        match v.value() {
            Value::Null => base.remove(&k.name()),
            value => base.insert(k.name(), value),
        };
    }
    base
}

fn exercise(claims: &auth0_api::Claims) {
    let _ = (claims.iss(), claims.sub(), claims.azp(), claims.scope());
    let _ = claims.scopes().count() + claims.permissions().count();
    if let Some(aud) = claims.aud() {
        let _ = aud.iter().count();
        let _ = aud.contains(AUD);
    }
    for t in [claims.exp(), claims.iat(), claims.nbf()]
        .into_iter()
        .flatten()
    {
        assert!(t.is_finite());
    }
    let _ = (
        claims.cnf_jkt(),
        claims.act(),
        claims.get_as::<Value>("act"),
    );
    if let Ok(Some(actor)) = current_actor(claims) {
        assert!(!actor.trim().is_empty());
    }
    if let Ok(chain) = delegation_chain(claims) {
        assert!(chain.len() <= auth0_api::act::MAX_DELEGATION_DEPTH);
        if let Ok(actor) = current_actor(claims) {
            assert_eq!(chain.first().copied(), actor);
        }
    }
}

fn segments_payload(token: &str) -> &str {
    jws::split(token, jws::MAX_TOKEN_BYTES).map_or("", |s| s.payload)
}

fuzz_target!(|input: Input<'_>| {
    let now = NOW + f64::from(input.now_offset);
    let token = match &input.token {
        Token::Raw(s) => (*s).to_owned(),
        Token::Segments(h, p, s) => format!("{}.{}.{}", b64(h), b64(p), b64(s)),
        Token::NearValid {
            header,
            claims,
            signature,
        } => {
            let header = patched(
                json!({"alg": "RS256", "typ": "JWT", "kid": "k1"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                header,
            );
            let claims = patched(
                json!({"iss": ISS, "sub": "user", "aud": AUD, "iat": NOW, "exp": NOW + 3600.0})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
                claims,
            );
            if let Some(iss) = claims.get("iss").and_then(Value::as_str) {
                if let Ok(once) = normalize_domain(iss) {
                    assert_eq!(normalize_domain(&once).as_deref(), Ok(once.as_str()));
                }
            }
            format!(
                "{}.{}.{}",
                b64(serde_json::to_vec(&header).unwrap_or_default()),
                b64(serde_json::to_vec(&claims).unwrap_or_default()),
                b64(signature)
            )
        }
    };
    let audiences = [AUD.to_owned()];
    let required: Vec<String> = input.required.iter().map(Key::name).collect();
    let leeway = f64::from(input.leeway);
    match __fuzz::check_access_token(&token, ISS, &audiences, leeway, now, &required) {
        Ok(claims) => {
            assert_eq!(claims.iss(), Some(ISS));
            assert!(claims.aud().is_some_and(|a| a.contains(AUD)));
            let exp = claims.exp().expect("exp checked");
            assert!(now < exp + leeway);
            assert!(claims.iat().is_some());
            if let Some(nbf) = claims.nbf() {
                assert!(now + leeway >= nbf);
            }
            for name in &required {
                assert!(claims.get(name).is_some());
            }
            // The getters answer from what verification located; the map is built lazily: both
            // must agree with claims built from the map itself.
            let eager = __fuzz::claims(claims.as_object().clone());
            assert_eq!(claims.iss(), eager.iss());
            assert_eq!(claims.sub(), eager.sub());
            assert_eq!(claims.azp(), eager.azp());
            assert_eq!(claims.scope(), eager.scope());
            assert_eq!(claims.exp(), eager.exp());
            assert_eq!(claims.iat(), eager.iat());
            assert_eq!(claims.nbf(), eager.nbf());
            assert_eq!(claims.cnf(), eager.cnf());
            assert_eq!(claims.cnf_jkt(), eager.cnf_jkt());
            assert_eq!(
                jws::decode_object(segments_payload(&token)).ok().as_ref(),
                Some(claims.as_object())
            );
            exercise(&claims);
        }
        Err(e) => {
            assert!(matches!(e.status_code(), 400 | 401), "{e:?}");
        }
    }
    // Whatever decodes, whether or not the checks pass: the getters and `act` helpers.
    if let Ok(segments) = jws::split(&token, jws::MAX_TOKEN_BYTES) {
        if let Ok(payload) = jws::decode_object(segments.payload) {
            exercise(&__fuzz::claims(payload));
        }
    }
});
