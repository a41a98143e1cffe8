//! Token-endpoint answers (RFC 6749 section 5, RFC 8693 section 2.2): the parser behind
//! on-behalf-of, exchange profiles and connection tokens, on arbitrary status, content type and
//! body, and on near-valid JSON answers with members set to arbitrary values.
#![no_main]

use auth0_api::__fuzz;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Arbitrary, Debug)]
enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

impl Json {
    fn value(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Bool(b) => json!(b),
            Self::Int(i) => json!(i),
            Self::Uint(u) => json!(u),
            Self::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Self::Str(s) => json!(s),
            Self::Array(items) => Value::Array(items.iter().map(Json::value).collect()),
            Self::Object(members) => Value::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), v.value()))
                    .collect(),
            ),
        }
    }
}

const KNOWN: [&str; 8] = [
    "access_token",
    "expires_in",
    "scope",
    "token_type",
    "issued_token_type",
    "refresh_token",
    "error",
    "error_description",
];

#[derive(Arbitrary, Debug)]
enum Body<'a> {
    Raw(&'a [u8]),
    NearValid(Vec<(u8, Json)>),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    ok: bool,
    status: u16,
    content_type: Option<&'a str>,
    body: Body<'a>,
    connection: bool,
    now: u64,
}

fuzz_target!(|input: Input<'_>| {
    // Statuses as HTTP can carry them (three digits).
    let status = if input.ok {
        200
    } else {
        100 + input.status % 900
    };
    let body = match &input.body {
        Body::Raw(bytes) => bytes.to_vec(),
        Body::NearValid(patch) => {
            let mut m: Map<String, Value> = json!({
                "access_token": "eyJ.x.y", "expires_in": 3600, "token_type": "Bearer",
                "scope": "read", "issued_token_type": "urn:ietf:params:oauth:token-type:access_token"
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            for (k, v) in patch {
                m.insert(KNOWN[usize::from(*k) % KNOWN.len()].to_owned(), v.value());
            }
            serde_json::to_vec(&m).unwrap_or_default()
        }
    };
    match __fuzz::parse_token_response(
        status,
        input.content_type,
        &body,
        input.connection,
        input.now,
    ) {
        Ok((access_token, expires_in, expires_at, _scope)) => {
            assert_eq!(status, 200);
            assert!(!access_token.is_empty());
            assert_eq!(expires_at, input.now.saturating_add(expires_in));
        }
        Err(e) => {
            assert!((100..=999).contains(&e.status_code()), "{e:?}");
            assert!(!e.error_code().is_empty() || status != 200, "{e:?}");
        }
    }
});
