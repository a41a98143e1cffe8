//! The richer token exchange: typed extra values, `actor_token`, `organization`, the
//! on-behalf-of request builder, trusting only the given roots, and redirects refused from a
//! caller's HTTP client. `cargo test exchange_extra`.

use auth0_api::act::current_actor;
use auth0_api::exchange::{
    ExchangeProfileRequest, ExtraValue, OnBehalfOfRequest, TOKEN_TYPE_ACCESS_TOKEN,
};
use auth0_api::{ApiClient, ApiClientOptions, ApiClientOptionsBuilder};
use auth0_api_dev_tenant::{DevTenant, Endpoint, Fault};
use serde_json::json;

const CLIENT_ID: &str = "mcp-server";
const MCP_API: &str = "https://mcp-server.example.com";
const CALENDAR_API: &str = "https://calendar-api.example.com";
const EXTERNAL_TYPE: &str = "urn:example:external-token";

async fn tenant() -> DevTenant {
    DevTenant::builder()
        .client(CLIENT_ID, "mcp-secret", [MCP_API, CALENDAR_API])
        .client("agent", "agent-secret", [MCP_API])
        .organization("org_acme123", "acme")
        .exchange_profile(EXTERNAL_TYPE, |t| {
            (t == "good").then(|| "user_7".to_owned())
        })
        .start()
        .await
        .unwrap()
}

fn base(t: &DevTenant) -> ApiClientOptionsBuilder {
    ApiClientOptions::builder()
        .domain(t.domain())
        .audience(MCP_API)
        .client_id(CLIENT_ID)
        .client_secret("mcp-secret")
}

fn api(b: ApiClientOptionsBuilder) -> ApiClient {
    ApiClient::new(b.build().unwrap()).unwrap()
}

fn user_token(t: &DevTenant) -> String {
    t.mint().sub("user_1").aud(json!(MCP_API)).sign()
}

/// The values sent for form field `name`, in order.
fn sent(t: &DevTenant, name: &str) -> Vec<String> {
    t.last_token_request()
        .unwrap()
        .form
        .into_iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v)
        .collect()
}

#[tokio::test]
async fn exchange_extra_typed_values_are_sent_as_json_text() {
    let t = tenant().await;
    let c = api(base(&t).root_ca_pem(t.ca_pem()));
    let request = ExchangeProfileRequest::new("good", EXTERNAL_TYPE)
        .audience(CALENDAR_API)
        .extra("count", 3)
        .extra("ratio", 0.25)
        .extra("flag", true)
        .extra("ids", vec![1u64, 2])
        .extra("mixed", json!(["a", 2, false, null]))
        .extra("nothing", json!(null))
        .extra("small", 7u8)
        .extra("index", 12usize)
        .extra("offset", -3isize)
        .extra("f32", 0.1f32)
        .extra("slice", &[4u16, 5][..])
        .extra("names", &["x", "y"][..]);
    c.get_token_by_exchange_profile(request).await.unwrap();
    assert_eq!(sent(&t, "small"), ["7"]);
    assert_eq!(sent(&t, "index"), ["12"]);
    assert_eq!(sent(&t, "offset"), ["-3"]);
    assert_eq!(sent(&t, "f32"), ["0.1"]);
    assert_eq!(sent(&t, "slice"), ["4", "5"]);
    assert_eq!(sent(&t, "names"), ["x", "y"]);
    assert_eq!(sent(&t, "count"), ["3"]);
    assert_eq!(sent(&t, "ratio"), ["0.25"]);
    assert_eq!(sent(&t, "flag"), ["true"]);
    assert_eq!(sent(&t, "ids"), ["1", "2"]);
    assert_eq!(sent(&t, "mixed"), ["a", "2", "false"]);
    assert!(sent(&t, "nothing").is_empty());

    // Objects and non-finite numbers have no form encoding: refused before anything is sent.
    t.reset_stats();
    let cases: [(ExtraValue, &str); 5] = [
        (
            json!({"a": 1}).into(),
            "must be a string, number, boolean or a list of them",
        ),
        (
            json!([[1]]).into(),
            "must be a string, number, boolean or a list of them",
        ),
        (f64::NAN.into(), "must be a finite number"),
        (f32::INFINITY.into(), "must be a finite number"),
        ((&[1.0f32, f32::NAN][..]).into(), "must be a finite number"),
    ];
    for (value, why) in cases {
        let request = ExchangeProfileRequest::new("good", EXTERNAL_TYPE).extra("bad", value);
        let e = c.get_token_by_exchange_profile(request).await.unwrap_err();
        assert_eq!(e.error_code(), "get_token_by_exchange_profile_error");
        assert_eq!(e.status_code(), 400);
        assert!(
            e.description()
                .starts_with(&format!("Parameter 'bad' {why}")),
            "{}",
            e.description()
        );
    }
    assert_eq!(t.stats().token, 0);
}

#[tokio::test]
async fn exchange_extra_actor_token_organization_and_the_obo_builder() {
    let t = tenant().await;
    let c = api(base(&t).root_ca_pem(t.ca_pem()));
    let user = user_token(&t);
    let agent = t.mint().sub("agent@clients").aud(json!(MCP_API)).sign();

    let issued = c
        .get_token_on_behalf_of_with(
            OnBehalfOfRequest::new(&user, CALENDAR_API)
                .scope("calendar:read")
                .organization("org_acme123")
                .actor_token(&agent, TOKEN_TYPE_ACCESS_TOKEN)
                .extra("max_events", 50),
        )
        .await
        .unwrap();
    assert_eq!(sent(&t, "organization"), ["org_acme123"]);
    assert_eq!(sent(&t, "actor_token_type"), [TOKEN_TYPE_ACCESS_TOKEN]);
    assert_eq!(sent(&t, "max_events"), ["50"]);
    assert_eq!(sent(&t, "scope"), ["calendar:read"]);

    // The issued token names the organization and the actor.
    let calendar = api(ApiClientOptions::builder()
        .domain(t.domain())
        .audience(CALENDAR_API)
        .root_ca_pem(t.ca_pem())
        .organization("org_acme123"));
    let claims = calendar
        .verify_access_token(issued.access_token.expose())
        .await
        .unwrap();
    assert_eq!(claims.sub(), Some("user_1"));
    assert_eq!(claims.org_name(), Some("acme"));
    assert_eq!(current_actor(&claims).unwrap(), Some("agent@clients"));

    // The short form is the builder with a scope.
    let short = c
        .get_token_on_behalf_of(&user, CALENDAR_API, Some("calendar:read"))
        .await
        .unwrap();
    assert!(!short.access_token.expose().is_empty());

    // An actor token without its type, and a missing audience, are refused before sending.
    t.reset_stats();
    let e = c
        .get_token_on_behalf_of_with(
            OnBehalfOfRequest::new(&user, CALENDAR_API).actor_token(&agent, " "),
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), "get_token_by_exchange_profile_error");
    assert!(e.description().contains("actor_token_type is required"));
    let e = c
        .get_token_on_behalf_of_with(OnBehalfOfRequest::new(&user, ""))
        .await
        .unwrap_err();
    assert_eq!(
        e.description(),
        "The argument 'audience' is required but was not provided."
    );
    assert_eq!(t.stats().token, 0);
    // Debug never shows the tokens.
    let shown = format!(
        "{:?}",
        OnBehalfOfRequest::new(&user, CALENDAR_API).actor_token(&agent, "t")
    );
    assert!(!shown.contains(&user) && !shown.contains(&agent), "{shown}");
}

#[tokio::test]
async fn exchange_extra_trusts_only_the_given_roots() {
    let t = tenant().await;
    let other = DevTenant::builder().start().await.unwrap();
    let only_own = api(base(&t)
        .root_ca_pem(t.ca_pem())
        .trust_only_given_roots(true));
    let token = user_token(&t);
    only_own.verify_access_token(&token).await.unwrap();
    only_own
        .get_token_on_behalf_of(&token, CALENDAR_API, None)
        .await
        .unwrap();

    // Only another CA: the tenant's certificate is not trusted.
    let wrong = api(base(&t)
        .root_ca_pem(other.ca_pem())
        .trust_only_given_roots(true));
    let e = wrong.verify_access_token(&token).await.unwrap_err();
    assert!(
        e.description()
            .starts_with("Failed to fetch OIDC discovery metadata: network error"),
        "{}",
        e.description()
    );

    let e = base(&t).trust_only_given_roots(true).build().unwrap_err();
    assert_eq!(
        e.description(),
        "trust_only_given_roots needs at least one root_ca_pem"
    );
}

#[tokio::test]
async fn exchange_extra_redirects_from_a_callers_client_are_refused() {
    let t = tenant().await;
    // A caller's client that follows redirects (reqwest's default).
    let following = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(t.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let c = api(base(&t).http_client(following));
    let token = user_token(&t);
    t.set_fault(Endpoint::Jwks, Some(Fault::Redirect(t.discovery_url())));
    let e = c.verify_access_token(&token).await.unwrap_err();
    assert_eq!(
        e.description(),
        "Failed to fetch JWKS: redirects are not followed"
    );

    t.set_fault(Endpoint::Jwks, None);
    t.set_fault(
        Endpoint::Token,
        Some(Fault::Redirect(t.jwks_uri().to_owned())),
    );
    let e = c
        .get_token_on_behalf_of(&token, CALENDAR_API, None)
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), "invalid_response");
    assert_eq!(
        e.description(),
        "Token endpoint redirected; redirects are not followed"
    );

    // Our own client follows none: the 302 itself is the answer.
    let own = api(base(&t).root_ca_pem(t.ca_pem()));
    t.set_fault(Endpoint::Token, None);
    t.set_fault(Endpoint::Jwks, Some(Fault::Redirect(t.discovery_url())));
    let e = own.verify_access_token(&token).await.unwrap_err();
    assert_eq!(
        e.description(),
        "Failed to fetch JWKS: unexpected HTTP status 302"
    );
}
