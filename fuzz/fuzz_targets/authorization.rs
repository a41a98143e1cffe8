//! `ApiClient::verify_request` on arbitrary headers, method and URL: the `Authorization` and
//! `DPoP` header handling, with clients whose tenant (`127.0.0.1:9`, the discard port) is never
//! reachable. Nothing can verify, every refusal is a typed error, and every challenge is a valid
//! header value.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use auth0_api::{ApiClient, ApiClientOptions, DpopMode, VerifyRequest};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    mode: u8,
    authorization: Vec<&'a [u8]>,
    dpop: Vec<&'a [u8]>,
    other: Vec<(&'a [u8], &'a [u8])>,
    method: Option<&'a str>,
    url: Option<&'a str>,
}

struct Fixture {
    runtime: tokio::runtime::Runtime,
    clients: [ApiClient; 3],
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let client = |mode| {
            let options = ApiClientOptions::builder()
                .domain("127.0.0.1:9")
                .audience("https://api.example.com")
                .dpop_mode(mode)
                .http_timeout(Duration::from_millis(200))
                .build()
                .expect("valid options");
            ApiClient::new(options).expect("client")
        };
        Fixture {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            clients: [
                client(DpopMode::Allowed),
                client(DpopMode::Required),
                client(DpopMode::Disabled),
            ],
        }
    })
}

fuzz_target!(|input: Input<'_>| {
    let f = fixture();
    let mut headers = HeaderMap::new();
    for value in &input.authorization {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(http::header::AUTHORIZATION, v);
        }
    }
    for value in &input.dpop {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append("dpop", v);
        }
    }
    for (name, value) in &input.other {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
            headers.append(n, v);
        }
    }
    let mut request = VerifyRequest::from_headers(&headers);
    if let Some(m) = input.method {
        request = request.method(m);
    }
    if let Some(u) = input.url {
        request = request.url(u);
    }
    let client = &f.clients[usize::from(input.mode % 3)];
    let result = f.runtime.block_on(client.verify_request(request));
    let error = match result {
        Ok(v) => panic!("verified without a reachable tenant: {:?}", v.claims),
        Err(e) => e,
    };
    assert!((400..=599).contains(&error.status_code()), "{error:?}");
    assert!(!error.error_code().is_empty());
    if let Some(challenge) = error.www_authenticate() {
        assert!(HeaderValue::from_str(challenge).is_ok(), "{challenge:?}");
    }
});
