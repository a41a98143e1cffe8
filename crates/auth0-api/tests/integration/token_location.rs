//! Tokens outside `Authorization` (`TokenLocations`, RFC 6750 sections 2.2 and 2.3, cookies and
//! custom headers), verified against the dev tenant. `cargo test token_location`.

use auth0_api::error::{RequestError, TokenError};
use auth0_api::{ApiClient, AuthScheme, TokenLocations, VerifyRequest};
use auth0_api_dev_tenant::dpop::DpopKey;
use serde_json::json;

use super::{AUD, client, options, tenant};

const URL: &str = "https://api.example.com/events";

fn all_locations() -> TokenLocations {
    TokenLocations::new()
        .form_body()
        .query()
        .cookie("at")
        .header("x-access-token")
}

async fn refused(c: &ApiClient, r: VerifyRequest<'_>) -> auth0_api::Error {
    c.verify_request(r).await.unwrap_err()
}

#[tokio::test]
async fn token_location_query_form_cookie_and_header() {
    let t = tenant().await;
    let c = client(options(&t).token_locations(all_locations()));
    let token = t.mint().sub("user_1").aud(json!(AUD)).sign();

    let query = VerifyRequest::from_pairs([("accept", "text/event-stream")])
        .method("GET")
        .url(format!("{URL}?stream=1&access_token={token}"));
    let v = c.verify_request(query).await.unwrap();
    assert_eq!((v.sub(), v.scheme), (Some("user_1"), AuthScheme::Bearer));

    let body = format!("note=hi&access_token={token}");
    let form = VerifyRequest::from_pairs([("content-type", "application/x-www-form-urlencoded")])
        .method("POST")
        .url(URL)
        .form_body(body.as_bytes());
    assert_eq!(c.verify_request(form).await.unwrap().sub(), Some("user_1"));

    let cookie =
        VerifyRequest::from_pairs([("cookie", format!("theme=dark; at={token}").as_str())])
            .method("GET")
            .url(URL);
    assert_eq!(
        c.verify_request(cookie).await.unwrap().sub(),
        Some("user_1")
    );

    let header = VerifyRequest::from_pairs([("x-access-token", token.as_str())])
        .method("GET")
        .url(URL);
    assert_eq!(
        c.verify_request(header).await.unwrap().sub(),
        Some("user_1")
    );

    // A bad token found there is refused as a Bearer token would be.
    let bad = VerifyRequest::from_pairs([("x-access-token", "not-a-jwt")])
        .method("GET")
        .url(URL);
    let e = refused(&c, bad).await;
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert!(
        e.www_authenticate()
            .unwrap()
            .starts_with("Bearer error=\"invalid_token\"")
    );
}

#[tokio::test]
async fn token_location_one_method_per_request() {
    let t = tenant().await;
    let c = client(options(&t).token_locations(all_locations()));
    let token = t.mint().aud(json!(AUD)).sign();
    let bearer = format!("Bearer {token}");

    let both = VerifyRequest::from_pairs([("authorization", bearer.as_str())])
        .method("GET")
        .url(format!("{URL}?access_token={token}"));
    let e = refused(&c, both).await;
    assert_eq!((e.status_code(), e.error_code()), (400, "invalid_request"));
    assert_eq!(e.request_error(), Some(&RequestError::SeveralTokenMethods));
    assert_eq!(
        e.description(),
        "The access token must be sent by one method only"
    );
    // Challenged as the reference challenges two Authorization headers (a request error with
    // no scheme settled: the realm).
    assert_eq!(
        e.www_authenticate(),
        Some("Bearer realm=\"api\", DPoP algs=\"ES256\"")
    );

    let cookie_and_header = VerifyRequest::from_pairs([
        ("cookie", format!("at={token}").as_str()),
        ("x-access-token", token.as_str()),
    ])
    .method("GET")
    .url(URL);
    assert_eq!(
        refused(&c, cookie_and_header).await.request_error(),
        Some(&RequestError::SeveralTokenMethods)
    );

    let twice = VerifyRequest::from_pairs([("accept", "*/*")])
        .method("GET")
        .url(format!("{URL}?access_token={token}&access_token={token}"));
    let e = refused(&c, twice).await;
    assert_eq!(e.status_code(), 400);
    assert_eq!(e.request_error(), Some(&RequestError::RepeatedToken));

    // A DPoP-bound token cannot travel outside Authorization: DPoP.
    let key = DpopKey::generate();
    let bound = t.mint().aud(json!(AUD)).cnf_jkt(key.thumbprint()).sign();
    let query = VerifyRequest::from_pairs([("accept", "*/*")])
        .method("GET")
        .url(format!("{URL}?access_token={bound}"));
    let e = refused(&c, query).await;
    assert_eq!(e.token_error(), Some(&TokenError::BoundToDpop));

    // Authorization alone still works as ever.
    let alone = VerifyRequest::from_pairs([("authorization", bearer.as_str())])
        .method("GET")
        .url(URL);
    c.verify_request(alone).await.unwrap();
}

#[tokio::test]
async fn token_location_is_off_by_default() {
    let t = tenant().await;
    let c = client(options(&t));
    let token = t.mint().aud(json!(AUD)).sign();
    let query = VerifyRequest::from_pairs([("cookie", format!("at={token}").as_str())])
        .method("GET")
        .url(format!("{URL}?access_token={token}"));
    let e = refused(&c, query).await;
    assert_eq!(e.status_code(), 401);
    assert!(e.is_missing_credentials());

    let e = options(&t)
        .token_locations(TokenLocations::new().header("Authorization"))
        .build()
        .unwrap_err();
    assert_eq!(e.error_code(), "invalid_configuration");
}
