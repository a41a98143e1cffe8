//! `ApiClient::verify_dpop_proof` (RFC 9449 section 4.3) on arbitrary proofs, and on proofs
//! this target signs with its own P-256 key after patching a valid header and claims, so that
//! the checks after the signature are reached too. No network. An accepted proof is always one
//! this key signed, for the request it names.
#![no_main]

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use auth0_api::dpop::{NonceConfig, jwk_thumbprint, normalize_htu};
use auth0_api::{ApiClient, ApiClientOptions};
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const URL: &str = "https://api.example.com/resource";
const TOKEN: &str = "access-token";

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

const KNOWN: [&str; 18] = [
    "typ", "alg", "jwk", "kty", "crv", "x", "y", "d", "crit", "jti", "htm", "htu", "iat", "ath",
    "nonce", "kid", "n", "e",
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
            Self::Object(members) => {
                Value::Object(members.iter().map(|(k, v)| (k.name(), v.value())).collect())
            }
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Proof<'a> {
    /// Any text.
    Raw(&'a str),
    /// A valid proof's header and claims with members set (`Null` removes one), signed here.
    Signed {
        header: Vec<(Key, Json)>,
        jwk: Vec<(Key, Json)>,
        claims: Vec<(Key, Json)>,
        iat_offset: Option<i16>,
        raw_payload: Option<&'a [u8]>,
        raw_signature: Option<&'a [u8]>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    proof: Proof<'a>,
    client: u8,
    /// `None`: the request the valid claims name.
    request: Option<(&'a str, &'a str, &'a str)>,
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    clients: [ApiClient; 3],
    pair: EcdsaKeyPair,
    jwk: Map<String, Value>,
    jkt: String,
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn ath(token: &str) -> String {
    b64(digest::digest(&digest::SHA256, token.as_bytes()))
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let client =
            |f: fn(auth0_api::ApiClientOptionsBuilder) -> auth0_api::ApiClientOptionsBuilder| {
                let builder = ApiClientOptions::builder()
                    .domain("127.0.0.1:9")
                    .audience("https://api.example.com");
                ApiClient::new(f(builder).build().expect("valid options")).expect("client")
            };
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("key");
        let point = pair.public_key().as_ref().to_vec();
        let jwk =
            json!({"kty": "EC", "crv": "P-256", "x": b64(&point[1..33]), "y": b64(&point[33..])})
                .as_object()
                .cloned()
                .unwrap_or_default();
        let jkt = jwk_thumbprint(&jwk).expect("thumbprint");
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            clients: [
                client(|b| b.replay_protection(false)),
                client(|b| b),
                client(|b| {
                    b.replay_protection(false)
                        .dpop_nonce(NonceConfig::with_secret(&[7u8; 32]).expect("nonce config"))
                }),
            ],
            pair,
            jwk,
            jkt,
        }
    })
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

fuzz_target!(|input: Input<'_>| {
    let f = fixture();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let proof = match &input.proof {
        Proof::Raw(s) => (*s).to_owned(),
        Proof::Signed {
            header,
            jwk,
            claims,
            iat_offset,
            raw_payload,
            raw_signature,
        } => {
            let mut base = Map::new();
            base.insert("typ".into(), json!("dpop+jwt"));
            base.insert("alg".into(), json!("ES256"));
            base.insert("jwk".into(), Value::Object(patched(f.jwk.clone(), jwk)));
            let header = patched(base, header);
            let jti = format!("{now}-{:?}", std::thread::current().id());
            let base = json!({"jti": jti, "htm": "GET", "htu": URL, "iat": now, "ath": ath(TOKEN)})
                .as_object()
                .cloned()
                .unwrap_or_default();
            let mut claims = patched(base, claims);
            if let Some(offset) = iat_offset {
                claims.insert("iat".into(), json!(now + i64::from(*offset)));
            }
            let payload = match raw_payload {
                Some(raw) => raw.to_vec(),
                None => serde_json::to_vec(&claims).unwrap_or_default(),
            };
            let input = format!(
                "{}.{}",
                b64(serde_json::to_vec(&header).unwrap_or_default()),
                b64(payload)
            );
            let signature = match raw_signature {
                Some(raw) => raw.to_vec(),
                None => f
                    .pair
                    .sign(&SystemRandom::new(), input.as_bytes())
                    .expect("sign")
                    .as_ref()
                    .to_vec(),
            };
            format!("{input}.{}", b64(signature))
        }
    };
    let (token, method, url) = input.request.unwrap_or((TOKEN, "GET", URL));
    let client = &f.clients[usize::from(input.client % 3)];
    match f
        .runtime
        .block_on(client.verify_dpop_proof(token, &proof, method, url))
    {
        Ok(verified) => {
            assert_eq!(
                verified.jkt, f.jkt,
                "accepted a proof this key did not sign"
            );
            let claims = &verified.claims;
            let text = |name: &str| claims.get(name).and_then(Value::as_str).expect(name);
            assert!(text("htm").eq_ignore_ascii_case(method));
            assert_eq!(normalize_htu(text("htu")).ok(), normalize_htu(url).ok());
            assert!(normalize_htu(url).is_ok());
            assert_eq!(text("ath"), ath(token));
            assert!(!text("jti").trim().is_empty());
        }
        Err(e) => {
            assert!(matches!(e.status_code(), 400 | 401 | 503), "{e:?}");
            assert!(!e.error_code().is_empty());
        }
    }
});
