//! Unit tests of the token-endpoint answer parsing (reference cases and the stricter rules).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;

const EXCHANGE: Flow<'static> = Flow::Exchange {
    subject_token_type: "urn:x",
    audience: None,
};

fn answer(status: u16, content_type: Option<&str>, body: &str) -> FetchedBody {
    let mut headers = http::HeaderMap::new();
    if let Some(ct) = content_type {
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_str(ct).unwrap(),
        );
    }
    FetchedBody {
        status,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

fn ok(value: Value) -> FetchedBody {
    answer(200, Some("application/json"), &value.to_string())
}

fn parse_err(flow: Flow<'_>, a: &FetchedBody) -> Error {
    parse_response(flow, a, 1_000).unwrap_err()
}

fn assert_error(e: &Error, code: &str, status: u16, description: &str) {
    assert_eq!(e.error_code(), code, "{e:?}");
    assert_eq!(e.status_code(), status, "{e:?}");
    assert_eq!(e.description(), description, "{e:?}");
}

#[test]
fn success_sets_expires_at_and_keeps_optional_fields_as_given() {
    let mut r = parse_response(
        EXCHANGE,
        &ok(
            json!({"access_token": "t", "expires_in": 3600, "scope": "", "token_type": "Bearer",
                   "id_token": "", "refresh_token": null}),
        ),
        1_735_689_600,
    )
    .unwrap();
    assert_eq!(r.access_token, "t");
    assert_eq!(r.expires_in, 3600);
    assert_eq!(r.expires_at, 1_735_693_200);
    assert_eq!(r.take_string("scope").unwrap().as_deref(), Some(""));
    assert_eq!(
        r.take_string("token_type").unwrap().as_deref(),
        Some("Bearer")
    );
    assert_eq!(r.take_string("id_token").unwrap().as_deref(), Some(""));
    assert_eq!(r.take_string("refresh_token").unwrap(), None);
    assert_eq!(r.take_string("issued_token_type").unwrap(), None);

    let mut r = parse_response(EXCHANGE, &ok(json!({"access_token": "t", "scope": 5})), 0).unwrap();
    assert_error(
        &r.take_string("scope").unwrap_err(),
        "invalid_response",
        502,
        "scope is not a string.",
    );
}

#[test]
fn expires_in_coercion_matches_the_reference_cases() {
    let cases: [(Value, u64); 6] = [
        (json!("3600"), 3600),
        (json!(3600), 3600),
        (json!(0), 0),
        (json!(999_999_999), 999_999_999),
        (json!("0"), 0),
        (json!("-0"), 0),
    ];
    for (value, secs) in cases {
        let r = parse_response(
            EXCHANGE,
            &ok(json!({"access_token": "t", "expires_in": value})),
            100,
        )
        .unwrap();
        assert_eq!(r.expires_in, secs);
        assert_eq!(r.expires_at, 100 + secs);
    }
    let r = parse_response(EXCHANGE, &ok(json!({"access_token": "t"})), 100).unwrap();
    assert_eq!(r.expires_in, 3600);

    let huge = parse_response(
        EXCHANGE,
        &ok(json!({"access_token": "t", "expires_in": u64::MAX})),
        100,
    )
    .unwrap();
    assert_eq!(huge.expires_at, u64::MAX);

    for bad in [
        json!("not-a-number"),
        json!("x"),
        json!("3600.5"),
        json!(""),
        json!(" 3600"),
        json!("+5"),
        json!("1e3"),
        json!("99999999999999999999999"),
        json!(3600.5),
        json!(3600.0),
        json!(null),
        json!(true),
        json!([3600]),
        json!({"s": 1}),
    ] {
        let e = parse_err(
            EXCHANGE,
            &ok(json!({"access_token": "t", "expires_in": bad})),
        );
        assert_error(&e, "invalid_response", 502, "expires_in is not an integer.");
    }
    for negative in [json!(-100), json!("-100"), json!(-1)] {
        let e = parse_err(
            EXCHANGE,
            &ok(json!({"access_token": "t", "expires_in": negative})),
        );
        assert_error(
            &e,
            "invalid_response",
            502,
            "expires_in cannot be negative.",
        );
    }
}

#[test]
fn access_token_must_be_a_non_empty_string() {
    for body in [
        json!({}),
        json!({"access_token": ""}),
        json!({"access_token": null}),
        json!({"access_token": 123}),
        json!({"access_token": ["t"]}),
    ] {
        for flow in [EXCHANGE, Flow::Connection] {
            let e = parse_err(flow, &ok(body.clone()));
            assert_error(
                &e,
                "invalid_response",
                502,
                "Missing or invalid access_token in response.",
            );
        }
    }
}

#[test]
fn a_200_that_is_not_a_json_object_is_invalid_json() {
    for (ct, body) in [
        (Some("text/plain"), "not json"),
        (Some("application/json"), "not a json"),
        (None, ""),
        (Some("application/json"), "[1,2]"),
        (Some("application/json"), "\"t\""),
        (Some("application/json"), "null"),
    ] {
        for flow in [EXCHANGE, Flow::Connection] {
            let e = parse_err(flow, &answer(200, ct, body));
            assert_error(
                &e,
                "invalid_json",
                502,
                "Token endpoint returned invalid JSON.",
            );
        }
    }
}

#[test]
fn error_answers_use_the_endpoint_error_or_the_flow_default() {
    let body = r#"{"error":"invalid_grant","error_description":"Invalid subject token"}"#;
    for ct in [
        "application/json",
        "text/json",
        "application/problem+json; charset=utf-8",
        "Application/JSON",
    ] {
        let e = parse_err(EXCHANGE, &answer(400, Some(ct), body));
        assert_error(&e, "invalid_grant", 400, "Invalid subject token");
    }
    // Not declared as JSON: defaults, even if the body is JSON.
    let e = parse_err(EXCHANGE, &answer(400, Some("text/plain"), body));
    assert_error(
        &e,
        "token_exchange_error",
        400,
        "Failed to exchange token of type 'urn:x'",
    );

    let with_audience = Flow::Exchange {
        subject_token_type: "urn:x",
        audience: Some("https://api.example.com"),
    };
    let e = parse_err(
        with_audience,
        &answer(403, Some("application/json"), "{oops"),
    );
    assert_error(
        &e,
        "token_exchange_error",
        403,
        "Failed to exchange token of type 'urn:x' for audience 'https://api.example.com'",
    );
    // Only one of the two members, or non-string members.
    let e = parse_err(
        EXCHANGE,
        &answer(
            401,
            Some("application/json"),
            r#"{"error":"invalid_client"}"#,
        ),
    );
    assert_error(
        &e,
        "invalid_client",
        401,
        "Failed to exchange token of type 'urn:x'",
    );
    let e = parse_err(
        EXCHANGE,
        &answer(
            500,
            Some("application/json"),
            r#"{"error":7,"error_description":"boom"}"#,
        ),
    );
    assert_error(&e, "token_exchange_error", 500, "boom");
    let e = parse_err(
        EXCHANGE,
        &answer(500, Some("application/json"), r#"["error"]"#),
    );
    assert_error(
        &e,
        "token_exchange_error",
        500,
        "Failed to exchange token of type 'urn:x'",
    );

    let e = parse_err(
        Flow::Connection,
        &answer(
            400,
            Some("application/json"),
            r#"{"error":"invalid_request","error_description":"Bad request"}"#,
        ),
    );
    assert_error(&e, "invalid_request", 400, "Bad request");
    let e = parse_err(Flow::Connection, &answer(503, None, "down"));
    assert_error(
        &e,
        "connection_token_error",
        503,
        "Failed to get token for connection: 503",
    );
}

#[test]
fn every_status_but_200_is_an_error_including_redirects() {
    for status in [201, 204, 301, 302, 307, 308] {
        let mut a = ok(json!({"access_token": "t"}));
        a.status = status;
        if (300..400).contains(&status) {
            a.headers.insert(
                http::header::LOCATION,
                http::HeaderValue::from_static("https://evil.example/"),
            );
        }
        let e = parse_err(EXCHANGE, &a);
        assert_eq!(e.error_code(), "token_exchange_error");
        assert_eq!(e.status_code(), status);
    }
}

#[test]
fn fetch_failures_map_to_gateway_errors() {
    assert_error(
        &fetch_error(FetchError::Timeout),
        "timeout_error",
        504,
        "Request to token endpoint timed out",
    );
    assert_error(
        &fetch_error(FetchError::TooLarge(MAX_BODY_BYTES)),
        "invalid_response",
        502,
        "Token endpoint response too large",
    );
}

#[test]
fn endpoint_must_be_https() {
    assert!(check_endpoint("https://tenant.auth0.com/oauth/token").is_ok());
    assert!(check_endpoint("HTTPS://tenant.auth0.com/oauth/token").is_ok());
    assert_eq!(
        check_endpoint("http://tenant.auth0.com/oauth/token").unwrap_err(),
        "Token endpoint must use https"
    );
    assert_eq!(
        check_endpoint("ftp://tenant.auth0.com/").unwrap_err(),
        "Token endpoint must use https"
    );
    assert_eq!(
        check_endpoint("/oauth/token").unwrap_err(),
        "Token endpoint in OIDC metadata is not a valid URL"
    );
    let e = EXCHANGE.input_error("Token endpoint must use https");
    assert_error(
        &e,
        "get_token_by_exchange_profile_error",
        400,
        "Token endpoint must use https",
    );
    let e = Flow::Connection.input_error("Token endpoint must use https");
    assert_error(
        &e,
        "get_access_token_for_connection_error",
        400,
        "Token endpoint must use https",
    );
}

#[test]
fn domain_host_strips_scheme_and_slash() {
    assert_eq!(domain_host("https://auth0.local/"), "auth0.local");
    assert_eq!(domain_host("https://127.0.0.1:8443/"), "127.0.0.1:8443");
    assert_eq!(domain_host(""), "");
}
