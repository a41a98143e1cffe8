//! The layer, extractors, guards and metadata against a local dev tenant: every outcome through
//! `tower::ServiceExt::oneshot` (no sockets), and one test over a real listener.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::sync::{LazyLock, OnceLock};

use auth0_api::dpop::NonceConfig;
use auth0_api::{ApiClient, ApiClientOptions, ApiClientOptionsBuilder, AuthScheme, DpopMode};
use auth0_api_axum::{
    AccessToken, Actor, Auth0Layer, AuthContext, AuthRejection, Authenticated, GuardLayer,
    MaybeAuthenticated, ProtectedResource, ProtectedResourceMetadata, RequirePermissions,
    RequireScopes, RequireUserAuthentication,
};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

const AUD: &str = "https://api.test";
const HOST: &str = "api.test";
const CHALLENGE: &str = r#"Bearer realm="api", DPoP algs="ES256""#;

/// One runtime for every test, so that the one dev tenant's server tasks outlive each test.
static RT: LazyLock<Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
});
static TENANT: OnceLock<DevTenant> = OnceLock::new();

fn run<F: Future>(test: impl FnOnce(&'static DevTenant) -> F) -> F::Output {
    let tenant = TENANT.get_or_init(|| {
        RT.block_on(
            DevTenant::builder()
                .client("mcp-server", "mcp-secret", ["https://downstream.test"])
                .start(),
        )
        .unwrap()
    });
    RT.block_on(test(tenant))
}

fn client_with(
    tenant: &DevTenant,
    configure: impl FnOnce(ApiClientOptionsBuilder) -> ApiClientOptionsBuilder,
) -> ApiClient {
    let builder = ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(AUD)
        .root_ca_pem(tenant.ca_pem());
    ApiClient::new(configure(builder).build().unwrap()).unwrap()
}

fn client(tenant: &DevTenant) -> ApiClient {
    client_with(tenant, |b| b)
}

fn token(tenant: &DevTenant) -> String {
    tenant
        .mint()
        .sub("auth0|alice")
        .aud(json!(AUD))
        .scope("read:x")
        .sign()
}

async fn whoami(auth: Authenticated, token: AccessToken) -> axum::Json<Value> {
    axum::Json(json!({
        "sub": auth.sub(),
        "scheme": format!("{:?}", auth.scheme),
        "token": token.expose(),
        "token_debug": format!("{token:?}"),
    }))
}

async fn maybe(MaybeAuthenticated(auth): MaybeAuthenticated) -> String {
    match auth {
        Some(auth) => format!("user {}", auth.sub().unwrap_or_default()),
        None => "anonymous".to_owned(),
    }
}

async fn option(auth: Option<Authenticated>) -> String {
    auth.map_or("anonymous".to_owned(), |a| {
        format!("user {}", a.sub().unwrap_or_default())
    })
}

async fn actor(actor: Actor) -> axum::Json<Value> {
    axum::Json(json!({"current": actor.current, "chain": actor.chain}))
}

async fn admin_only(auth: Authenticated) -> Result<&'static str, AuthRejection> {
    auth.require(&RequireScopes::all(["admin"]))?;
    Ok("admin")
}

/// Every route the tests use, behind `layer`.
fn app(layer: Auth0Layer) -> Router {
    Router::new()
        .route("/data", get(whoami))
        .route("/maybe", get(maybe))
        .route("/option", get(option))
        .route("/actor", get(actor))
        .route("/admin", get(admin_only))
        .merge(
            Router::new()
                .route("/all", get(|| async { "all" }))
                .route_layer(RequireScopes::all(["read:x", "write:x"])),
        )
        .merge(
            Router::new()
                .route("/any", get(|| async { "any" }))
                .route_layer(RequireScopes::any(["write:x", "read:x"])),
        )
        .merge(
            Router::new()
                .route("/perm", get(|| async { "perm" }))
                .route_layer(RequirePermissions::all(["delete:x"])),
        )
        .merge(
            Router::new()
                .route("/perm-any", get(|| async { "perm-any" }))
                .route_layer(RequirePermissions::any(["delete:x", "update:x"])),
        )
        .merge(
            Router::new()
                .route("/acme", get(|| async { "acme" }))
                .route_layer(GuardLayer::from_fn(|v: &auth0_api::VerifiedRequest| {
                    v.get("org").and_then(Value::as_str) == Some("acme")
                })),
        )
        .layer(layer)
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn challenge(&self) -> &str {
        self.headers
            .get("www-authenticate")
            .map_or("", |v| v.to_str().unwrap())
    }
}

async fn send(app: Router, request: Request) -> Reply {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).unwrap(),
    }
}

fn get_req(path: &str, headers: &[(&str, &str)]) -> Request {
    let mut builder = Request::builder().uri(path).header("host", HOST);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder.body(Body::empty()).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn bearer_success_stores_claims_and_the_redacted_token() {
    run(|t| async move {
        let token = token(t);
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req("/data", &[("authorization", &bearer(&token))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["sub"], "auth0|alice");
        assert_eq!(body["scheme"], "Bearer");
        assert_eq!(body["token"], token.as_str());
        assert_eq!(body["token_debug"], "AccessToken([redacted])");
        assert!(reply.headers.get("dpop-nonce").is_none());
    });
}

#[test]
fn missing_authorization_is_401_with_the_exact_challenge() {
    run(|t| async move {
        let reply = send(app(Auth0Layer::new(client(t))), get_req("/data", &[])).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.challenge(), CHALLENGE);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(
            reply.json(),
            json!({"error": "invalid_request", "error_description": ""})
        );

        // The same without DPoP, and with DPoP required.
        let disabled = client_with(t, |b| b.dpop_mode(DpopMode::Disabled));
        let reply = send(app(Auth0Layer::new(disabled)), get_req("/data", &[])).await;
        assert_eq!(reply.challenge(), r#"Bearer realm="api""#);
        let required = client_with(t, |b| b.dpop_mode(DpopMode::Required));
        let reply = send(
            app(Auth0Layer::new(required)),
            get_req("/data", &[("authorization", &bearer(&token(t)))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.challenge(), r#"DPoP algs="ES256""#);
    });
}

#[test]
fn invalid_tokens_are_401_invalid_token() {
    run(|t| async move {
        let expired = t.mint().aud(json!(AUD)).expired().sign();
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req("/data", &[("authorization", &bearer(&expired))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="invalid_token", error_description="Token is expired", DPoP algs="ES256""#
        );
        assert_eq!(
            reply.json(),
            json!({"error": "invalid_token", "error_description": "Token is expired"})
        );

        let other_api = t.mint().aud(json!("https://other.test")).sign();
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req("/data", &[("authorization", &bearer(&other_api))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "invalid_token");

        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req("/data", &[("authorization", "Bearer not.a.jwt")]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "invalid_token");
    });
}

fn dpop_token(t: &DevTenant, key: &DpopKey) -> String {
    t.mint()
        .sub("auth0|alice")
        .aud(json!(AUD))
        .scope("read:x")
        .cnf_jkt(key.thumbprint())
        .sign()
}

#[test]
fn dpop_success_and_failure() {
    run(|t| async move {
        let key = DpopKey::generate();
        let token = dpop_token(t, &key);
        let authorization = format!("DPoP {token}");

        let proof = key
            .proof("GET", "http://api.test/data", Some(&token))
            .sign();
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req(
                "/data?page=2",
                &[("authorization", &authorization), ("dpop", &proof)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(reply.json()["scheme"], "Dpop");
        assert_eq!(reply.json()["token"], token.as_str());

        // A proof for another URL.
        let proof = key
            .proof("GET", "http://api.test/other", Some(&token))
            .sign();
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req(
                "/data",
                &[("authorization", &authorization), ("dpop", &proof)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            reply.challenge(),
            r#"Bearer realm="api", DPoP error="invalid_dpop_proof", error_description="DPoP Proof htu mismatch", algs="ES256""#
        );
        assert_eq!(reply.json()["error"], "invalid_dpop_proof");

        // A proof by another key.
        let other = DpopKey::generate();
        let proof = other
            .proof("GET", "http://api.test/data", Some(&token))
            .sign();
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req(
                "/data",
                &[("authorization", &authorization), ("dpop", &proof)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "invalid_token");

        // The DPoP scheme without a proof: no usable credentials.
        let reply = send(
            app(Auth0Layer::new(client(t))),
            get_req("/data", &[("authorization", &authorization)]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.challenge(), CHALLENGE);
    });
}

#[test]
fn dpop_nonces_travel_in_the_dpop_nonce_header() {
    run(|t| async move {
        let client = client_with(t, |b| b.dpop_nonce(NonceConfig::new().unwrap()));
        let layer = Auth0Layer::new(client);
        let key = DpopKey::generate();
        let token = dpop_token(t, &key);
        let authorization = format!("DPoP {token}");

        let proof = key
            .proof("GET", "http://api.test/data", Some(&token))
            .sign();
        let reply = send(
            app(layer.clone()),
            get_req(
                "/data",
                &[("authorization", &authorization), ("dpop", &proof)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(reply.json()["error"], "use_dpop_nonce");
        let nonce = reply.headers["dpop-nonce"].to_str().unwrap().to_owned();

        let proof = key
            .proof("GET", "http://api.test/data", Some(&token))
            .nonce(&nonce)
            .sign();
        let reply = send(
            app(layer),
            get_req(
                "/data",
                &[("authorization", &authorization), ("dpop", &proof)],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert!(!reply.headers["dpop-nonce"].is_empty());
    });
}

#[test]
fn optional_authentication() {
    run(|t| async move {
        let layer = Auth0Layer::new(client(t)).optional();
        for path in ["/maybe", "/option"] {
            let reply = send(app(layer.clone()), get_req(path, &[])).await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, "anonymous");

            let reply = send(
                app(layer.clone()),
                get_req(path, &[("authorization", &bearer(&token(t)))]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, "user auth0|alice");

            let expired = t.mint().aud(json!(AUD)).expired().sign();
            let reply = send(
                app(layer.clone()),
                get_req(path, &[("authorization", &bearer(&expired))]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.json()["error"], "invalid_token");

            // Present but empty is not "no credentials".
            let reply = send(app(layer.clone()), get_req(path, &[("authorization", "")])).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        }

        // Routes that need authentication still answer 401 to anonymous requests.
        for path in ["/data", "/all", "/actor"] {
            let reply = send(app(layer.clone()), get_req(path, &[])).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(reply.challenge(), CHALLENGE, "{path}");
        }
    });
}

#[test]
fn without_the_layer_extractors_answer_401() {
    let router = Router::new()
        .route("/data", get(whoami))
        .route("/maybe", get(maybe))
        .route("/context", get(|_: AuthContext| async { "unreachable" }))
        .merge(
            Router::new()
                .route("/guarded", get(|| async { "unreachable" }))
                .route_layer(RequireScopes::any(Vec::<String>::new())),
        );
    RT.block_on(async move {
        for path in ["/data", "/guarded"] {
            let reply = send(router.clone(), get_req(path, &[])).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(reply.challenge(), r#"Bearer realm="api""#, "{path}");
            assert_eq!(
                reply.json(),
                json!({"error": "invalid_request", "error_description": ""})
            );
        }
        let reply = send(
            router.clone(),
            get_req("/maybe", &[("authorization", "Bearer x")]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        let reply = send(router.clone(), get_req("/maybe", &[])).await;
        assert_eq!(reply.body, "anonymous");
        let reply = send(router, get_req("/context", &[])).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(reply.json()["error"], "invalid_configuration");
    });
}

#[test]
fn scope_and_permission_guards() {
    run(|t| async move {
        let app = app(Auth0Layer::new(client(t)));
        let read = token(t);
        let read_write = t.mint().aud(json!(AUD)).scope("read:x write:x").sign();
        let with_perm = t
            .mint()
            .aud(json!(AUD))
            .claim("permissions", json!(["delete:x"]))
            .sign();
        let call = |path: &'static str, token: &str| {
            send(
                app.clone(),
                get_req(path, &[("authorization", &bearer(token))]),
            )
        };

        let reply = call("/all", &read).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="insufficient_scope", scope="read:x write:x""#
        );
        assert_eq!(
            reply.json(),
            json!({"error": "insufficient_scope", "error_description": "Insufficient scope: missing write:x"})
        );
        assert_eq!(call("/all", &read_write).await.status, StatusCode::OK);
        assert_eq!(call("/any", &read).await.status, StatusCode::OK);
        let reply = call("/any", &with_perm).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="insufficient_scope", scope="write:x read:x""#
        );

        let reply = call("/perm", &read).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="insufficient_scope", scope="delete:x""#
        );
        assert_eq!(
            reply.json()["error_description"],
            "Insufficient permissions: missing delete:x"
        );
        assert_eq!(call("/perm", &with_perm).await.status, StatusCode::OK);
        assert_eq!(call("/perm-any", &with_perm).await.status, StatusCode::OK);
        assert_eq!(call("/perm-any", &read).await.status, StatusCode::FORBIDDEN);

        // In a handler.
        let reply = call("/admin", &read).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="insufficient_scope", scope="admin""#
        );
        let admin = t.mint().aud(json!(AUD)).scope("admin").sign();
        assert_eq!(call("/admin", &admin).await.body, "admin");

        // A DPoP request gets a DPoP challenge.
        let key = DpopKey::generate();
        let token = dpop_token(t, &key);
        let proof = key.proof("GET", "http://api.test/all", Some(&token)).sign();
        let reply = send(
            app.clone(),
            get_req(
                "/all",
                &[
                    ("authorization", &format!("DPoP {token}")),
                    ("dpop", &proof),
                ],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            r#"DPoP error="insufficient_scope", scope="read:x write:x", algs="ES256""#
        );
    });
}

#[test]
fn claim_predicates() {
    run(|t| async move {
        let app = app(Auth0Layer::new(client(t)));
        let acme = t.mint().aud(json!(AUD)).claim("org", json!("acme")).sign();
        let other = t.mint().aud(json!(AUD)).claim("org", json!("other")).sign();
        let reply = send(
            app.clone(),
            get_req("/acme", &[("authorization", &bearer(&acme))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let reply = send(app, get_req("/acme", &[("authorization", &bearer(&other))])).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(reply.challenge(), r#"Bearer error="insufficient_scope""#);
        assert_eq!(reply.json()["error"], "insufficient_scope");
    });
}

#[test]
fn actor_and_delegation_chain() {
    run(|t| async move {
        let app = app(Auth0Layer::new(client(t)));
        let delegated = t
            .mint()
            .aud(json!(AUD))
            .act(json!({"sub": "mcp-2", "act": {"sub": "mcp-1", "act": {"sub": "spa"}}}))
            .sign();
        let reply = send(
            app.clone(),
            get_req("/actor", &[("authorization", &bearer(&delegated))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(
            reply.json(),
            json!({"current": "mcp-2", "chain": ["mcp-2", "mcp-1", "spa"]})
        );

        let direct = token(t);
        let reply = send(
            app.clone(),
            get_req("/actor", &[("authorization", &bearer(&direct))]),
        )
        .await;
        assert_eq!(reply.json(), json!({"current": null, "chain": []}));

        let broken = t.mint().aud(json!(AUD)).act(json!("mcp")).sign();
        let reply = send(
            app,
            get_req("/actor", &[("authorization", &bearer(&broken))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.challenge(),
            r#"Bearer error="invalid_token", error_description="Invalid act claim", DPoP algs="ES256""#
        );
        assert_eq!(
            reply.json(),
            json!({"error": "invalid_token", "error_description": "Invalid act claim"})
        );
    });
}

#[test]
fn protected_resource_metadata_and_resource_metadata_challenges() {
    run(|t| async move {
        let client = client(t);
        let metadata = ProtectedResourceMetadata::new("https://api.test/mcp")
            .unwrap()
            .authorization_server(t.issuer())
            .scopes_supported(["read:x", "write:x"])
            .dpop_from(&client)
            .resource_name("Test API");
        let url = metadata.metadata_url();
        assert_eq!(
            url,
            "https://api.test/.well-known/oauth-protected-resource/mcp"
        );
        let layer = Auth0Layer::builder(client)
            .resource_metadata(&url)
            .build()
            .unwrap();
        let app = app(layer).route_service(metadata.well_known_path(), metadata.service());

        let reply = send(
            app.clone(),
            get_req("/.well-known/oauth-protected-resource/mcp", &[]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers["content-type"], "application/json");
        assert_eq!(
            reply.json(),
            json!({
                "resource": "https://api.test/mcp",
                "authorization_servers": [t.issuer()],
                "scopes_supported": ["read:x", "write:x"],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": ["ES256"],
                "dpop_bound_access_tokens_required": false,
                "resource_name": "Test API",
            })
        );
        let post = Request::builder()
            .method("POST")
            .uri("/.well-known/oauth-protected-resource/mcp")
            .body(Body::empty())
            .unwrap();
        assert_eq!(
            send(app.clone(), post).await.status,
            StatusCode::METHOD_NOT_ALLOWED
        );

        let rm = format!(r#"resource_metadata="{url}""#);
        let reply = send(app.clone(), get_req("/data", &[])).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.challenge(),
            format!(r#"Bearer realm="api", {rm}, DPoP algs="ES256", {rm}"#)
        );

        let expired = t.mint().aud(json!(AUD)).expired().sign();
        let reply = send(
            app.clone(),
            get_req("/data", &[("authorization", &bearer(&expired))]),
        )
        .await;
        assert_eq!(
            reply.challenge(),
            format!(
                r#"Bearer error="invalid_token", error_description="Token is expired", {rm}, DPoP algs="ES256", {rm}"#
            )
        );

        let reply = send(
            app.clone(),
            get_req("/all", &[("authorization", &bearer(&token(t)))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            format!(r#"Bearer error="insufficient_scope", scope="read:x write:x", {rm}"#)
        );

        let broken = t.mint().aud(json!(AUD)).act(json!(7)).sign();
        let reply = send(
            app,
            get_req("/actor", &[("authorization", &bearer(&broken))]),
        )
        .await;
        assert!(reply.challenge().contains(&rm), "{}", reply.challenge());
    });
}

/// A DPoP request whose proof names `htu`, sent to the server as `internal:8080` with the given
/// extra headers.
async fn forwarded_call(
    t: &DevTenant,
    layer: Auth0Layer,
    htu: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let key = DpopKey::generate();
    let token = dpop_token(t, &key);
    let proof = key.proof("GET", htu, Some(&token)).sign();
    let authorization = format!("DPoP {token}");
    let mut builder = Request::builder()
        .uri("/data")
        .header("host", "internal:8080")
        .header("authorization", &authorization)
        .header("dpop", &proof);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    send(app(layer), builder.body(Body::empty()).unwrap()).await
}

#[test]
fn forwarded_headers_count_only_behind_a_trusted_proxy() {
    run(|t| async move {
        let public = "https://api.example.com/data";
        let x_forwarded = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "api.example.com"),
        ];
        let forwarded = [(
            "forwarded",
            "for=192.0.2.1;proto=https;host=api.example.com",
        )];
        let untrusted = Auth0Layer::new(client(t));
        let trusted = Auth0Layer::builder(client(t))
            .trust_forwarded_headers()
            .build()
            .unwrap();

        for headers in [&x_forwarded[..], &forwarded[..]] {
            let reply = forwarded_call(t, untrusted.clone(), public, headers).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{headers:?}");
            assert_eq!(reply.json()["error_description"], "DPoP Proof htu mismatch");
            let reply = forwarded_call(t, trusted.clone(), public, headers).await;
            assert_eq!(reply.status, StatusCode::OK, "{headers:?}: {}", reply.body);
        }
        // Untrusted, the URL is the one the server saw.
        let reply = forwarded_call(t, untrusted, "http://internal:8080/data", &x_forwarded).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        // Trusted without forwarded headers: the Host header.
        let reply = forwarded_call(t, trusted.clone(), "http://internal:8080/data", &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        // Trusted, a proof for the internal URL does not fit the forwarded one.
        let reply = forwarded_call(t, trusted, "http://internal:8080/data", &x_forwarded).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        // A public URL wins over every header.
        let fixed = Auth0Layer::builder(client(t))
            .public_url("https://api.example.com")
            .build()
            .unwrap();
        let reply = forwarded_call(t, fixed.clone(), public, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let spoofed = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
        ];
        let reply = forwarded_call(t, fixed, "https://evil.example/data", &spoofed).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);

        assert!(
            Auth0Layer::builder(client(t))
                .public_url("not a url")
                .build()
                .is_err()
        );
    });
}

#[test]
fn real_listener() {
    run(|t| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app(Auth0Layer::new(client(t))))
                .await
                .unwrap();
        });
        let http = reqwest::Client::new();
        let url = format!("http://{addr}/data");

        let response = http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], CHALLENGE);

        let token = token(t);
        let response = http.get(&url).bearer_auth(&token).send().await.unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["sub"], "auth0|alice");

        let key = DpopKey::generate();
        let token = dpop_token(t, &key);
        let proof = key.proof("GET", &url, Some(&token)).sign();
        let response = http
            .get(&url)
            .header("authorization", format!("DPoP {token}"))
            .header("dpop", proof)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["scheme"], format!("{:?}", AuthScheme::Dpop));
        server.abort();
    });
}

#[test]
fn step_up_guards_answer_401_insufficient_user_authentication() {
    run(|t| async move {
        let url = "https://api.test/.well-known/oauth-protected-resource";
        let layer = Auth0Layer::builder(client(t))
            .resource_metadata(url)
            .build()
            .unwrap();
        let mfa = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";
        let app: Router = Router::new()
            .route("/mfa", get(|| async { "mfa ok" }))
            .route_layer(RequireUserAuthentication::acr_values([mfa, "hwk"]))
            .merge(
                Router::new()
                    .route("/recent", get(|| async { "recent ok" }))
                    .route_layer(RequireUserAuthentication::max_age(
                        std::time::Duration::from_secs(300),
                    )),
            )
            .merge(Router::new().route(
                "/in-handler",
                get(move |auth: Authenticated| async move {
                    auth.require(
                        &RequireUserAuthentication::acr_values([mfa])
                            .and_max_age(std::time::Duration::from_secs(60)),
                    )
                    .map(|()| "both ok")
                }),
            ))
            .layer(layer);
        let call = |path: &'static str, token: String| {
            let app = app.clone();
            async move { send(app, get_req(path, &[("authorization", &bearer(&token))])).await }
        };
        let user = || t.mint().sub("auth0|alice").aud(json!(AUD));
        let rm = format!(r#"resource_metadata="{url}""#);

        // acr
        let reply = call("/mfa", user().acr("pwd").sign()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.challenge(),
            format!(
                r#"Bearer error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="{mfa} hwk", {rm}"#
            )
        );
        assert_eq!(
            reply.json(),
            json!({"error": "insufficient_user_authentication",
                   "error_description": "A different authentication level is required"})
        );
        assert_eq!(
            call("/mfa", user().sign()).await.status,
            StatusCode::UNAUTHORIZED
        );
        let reply = call("/mfa", user().acr("hwk").sign()).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "mfa ok")
        );

        // max_age
        for token in [user().authenticated_secs_ago(1000).sign(), user().sign()] {
            let reply = call("/recent", token).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                reply.challenge(),
                format!(
                    r#"Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", max_age="300", {rm}"#
                )
            );
        }
        let reply = call("/recent", user().authenticated_secs_ago(10).sign()).await;
        assert_eq!(reply.status, StatusCode::OK);

        // Both in a handler: the challenge names both requirements whichever failed.
        let reply = call(
            "/in-handler",
            user().acr(mfa).authenticated_secs_ago(120).sign(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply
                .challenge()
                .contains(&format!(r#"acr_values="{mfa}", max_age="60""#)),
            "{}",
            reply.challenge()
        );
        let reply = call(
            "/in-handler",
            user().acr(mfa).authenticated_secs_ago(5).sign(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);

        // A DPoP request gets a DPoP challenge with the algorithms.
        let key = DpopKey::generate();
        let token = t
            .mint()
            .aud(json!(AUD))
            .cnf_jkt(key.thumbprint())
            .acr("pwd")
            .sign();
        let proof = key.proof("GET", "http://api.test/mfa", Some(&token)).sign();
        let reply = send(
            app.clone(),
            get_req(
                "/mfa",
                &[
                    ("authorization", &format!("DPoP {token}")),
                    ("dpop", &proof),
                ],
            ),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
        assert!(
            reply
                .challenge()
                .starts_with(r#"DPoP error="insufficient_user_authentication""#),
            "{}",
            reply.challenge()
        );
        assert!(reply.challenge().contains(r#"algs="ES256""#));
    });
}

#[test]
fn several_protected_resources_with_path_specific_metadata() {
    run(|t| async move {
        let resource = |id: &str, scopes: &[&str]| {
            let options = ApiClientOptions::builder()
                .domain(t.domain())
                .audience(id)
                .root_ca_pem(t.ca_pem())
                .dpop_mode(DpopMode::Disabled)
                .build()
                .unwrap();
            let client = ApiClient::new(options).unwrap();
            let metadata = ProtectedResourceMetadata::new(id)
                .unwrap()
                .scopes_supported(scopes.iter().copied());
            ProtectedResource::new(client, metadata).unwrap()
        };
        let mcp_id = "https://api.test/mcp";
        let calendar_id = "https://api.test/calendar";
        let mcp = resource(mcp_id, &["mcp:read"]);
        let calendar = resource(calendar_id, &["calendar:read"]);
        let app: Router = Router::new()
            .merge(
                Router::new()
                    .route("/mcp", get(|| async { "mcp" }))
                    .route_layer(RequireScopes::all(["mcp:read"]))
                    .layer(mcp.layer()),
            )
            .merge(
                Router::new()
                    .route("/calendar", get(|| async { "calendar" }))
                    .route_layer(RequireScopes::all(["calendar:read"]))
                    .layer(calendar.layer()),
            )
            .route_service(mcp.metadata().well_known_path(), mcp.metadata_service())
            .route_service(
                calendar.metadata().well_known_path(),
                calendar.metadata_service(),
            );

        // Each document at its own path-specific address, naming its own identifier and scopes,
        // and the tenant (the client's domain) as authorization server.
        for (path, id, scope) in [
            (
                "/.well-known/oauth-protected-resource/mcp",
                mcp_id,
                "mcp:read",
            ),
            (
                "/.well-known/oauth-protected-resource/calendar",
                calendar_id,
                "calendar:read",
            ),
        ] {
            let reply = send(app.clone(), get_req(path, &[])).await;
            assert_eq!(reply.status, StatusCode::OK, "{path}");
            let doc = reply.json();
            assert_eq!(doc["resource"], id);
            assert_eq!(doc["scopes_supported"], json!([scope]));
            assert_eq!(doc["authorization_servers"], json!([t.issuer()]));
        }

        // Each route's challenges point at its own document.
        let doc_of = |name: &str| {
            format!(
                r#"resource_metadata="https://api.test/.well-known/oauth-protected-resource/{name}""#
            )
        };
        for name in ["mcp", "calendar"] {
            let path = format!("/{name}");
            let reply = send(app.clone(), get_req(&path, &[])).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                reply.challenge(),
                format!(r#"Bearer realm="api", {}"#, doc_of(name))
            );
        }

        // Tokens are bound to their resource (RFC 8707 audience).
        let for_mcp = t
            .mint()
            .aud(json!(mcp_id))
            .scope("mcp:read calendar:read")
            .sign();
        let auth = bearer(&for_mcp);
        let reply = send(app.clone(), get_req("/mcp", &[("authorization", &auth)])).await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "mcp"));
        let reply = send(
            app.clone(),
            get_req("/calendar", &[("authorization", &auth)]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply
                .challenge()
                .starts_with(r#"Bearer error="invalid_token""#)
        );
        assert!(reply.challenge().ends_with(&doc_of("calendar")));

        // A missing scope: 403 naming the scope and this resource's document.
        let narrow = t
            .mint()
            .aud(json!(calendar_id))
            .scope("calendar:write")
            .sign();
        let reply = send(
            app.clone(),
            get_req("/calendar", &[("authorization", &bearer(&narrow))]),
        )
        .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert_eq!(
            reply.challenge(),
            format!(
                r#"Bearer error="insufficient_scope", scope="calendar:read", {}"#,
                doc_of("calendar")
            )
        );

        // The identifier must be an audience of the client.
        let err = ProtectedResource::new(
            client(t),
            ProtectedResourceMetadata::new("https://api.test/other").unwrap(),
        )
        .unwrap_err();
        assert_eq!(err.error_code(), "invalid_configuration");
    });
}

/// Certificate-bound tokens (RFC 8705) through the layer. `cargo test mtls`.
mod mtls {
    use std::net::SocketAddr;

    use super::*;
    use auth0_api::mtls::CertificateBinding;
    use auth0_api_axum::ClientCertificate;
    use auth0_api_dev_tenant::mtls::{ClientCertificate as TestCertificate, MutualTls};
    use axum::extract::ConnectInfo;

    const HEADER: &str = "x-client-cert";

    fn enforcing(t: &DevTenant) -> ApiClient {
        client_with(t, |b| b.certificate_binding(CertificateBinding::Enforced))
    }

    fn layer(t: &DevTenant, proxies: &[&str]) -> Auth0Layer {
        Auth0Layer::builder(enforcing(t))
            .client_certificate_header(HEADER)
            .trusted_proxies(proxies)
            .build()
            .unwrap()
    }

    fn bound(t: &DevTenant, cert: &TestCertificate) -> String {
        t.mint()
            .sub("auth0|alice")
            .aud(json!(AUD))
            .bound_to_certificate(cert.der())
            .sign()
    }

    fn from_peer(mut request: Request, peer: &str) -> Request {
        let addr: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    }

    #[test]
    fn mtls_header_only_from_trusted_proxies() {
        run(|t| async move {
            let cert = TestCertificate::generate("client").unwrap();
            let token = bound(t, &cert);
            let auth = bearer(&token);
            let escaped = cert.escaped_pem();
            let app = || app(layer(t, &["10.0.0.0/8", "::1"]));
            let with_header = || get_req("/data", &[("authorization", &auth), (HEADER, &escaped)]);

            // From a trusted proxy: the certificate counts.
            let reply = send(app(), from_peer(with_header(), "10.1.2.3:443")).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let reply = send(app(), from_peer(with_header(), "[::1]:443")).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

            // From any other peer, or with no peer address: ignored, so the token lacks it.
            for request in [from_peer(with_header(), "192.0.2.1:5000"), with_header()] {
                let reply = send(app(), request).await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
                assert_eq!(reply.json()["error"], "invalid_token");
                assert_eq!(
                    reply.json()["error_description"],
                    "Certificate-bound token requires a mutual-TLS client certificate"
                );
                assert!(reply.challenge().contains(r#"error="invalid_token""#));
            }

            // Another client's certificate from the trusted proxy: refused.
            let other = TestCertificate::generate("other")
                .unwrap()
                .pem()
                .replace('\n', "\t");
            let reply = send(
                app(),
                from_peer(
                    get_req("/data", &[("authorization", &auth), (HEADER, &other)]),
                    "10.0.0.1:1",
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(
                reply.json()["error_description"],
                "Certificate-bound token does not match the client certificate (x5t#S256)"
            );

            // A trusted proxy's value that cannot be read: 400 invalid_request, typed.
            let huge = "A".repeat(auth0_api::mtls::MAX_CERTIFICATE_HEADER_BYTES + 1);
            for (value, description) in [
                (
                    "garbage",
                    "Invalid client certificate: not a PEM certificate",
                ),
                ("%E", "Invalid client certificate: bad percent-encoding"),
                (huge.as_str(), "Invalid client certificate: too large"),
            ] {
                let reply = send(
                    app(),
                    from_peer(
                        get_req("/data", &[("authorization", &auth), (HEADER, value)]),
                        "10.0.0.1:1",
                    ),
                )
                .await;
                assert_eq!(reply.status, StatusCode::BAD_REQUEST);
                assert_eq!(reply.json()["error"], "invalid_request");
                assert_eq!(reply.json()["error_description"], description);
            }
            let twice = get_req(
                "/data",
                &[
                    ("authorization", &auth),
                    (HEADER, &escaped),
                    (HEADER, &escaped),
                ],
            );
            let reply = send(app(), from_peer(twice, "10.0.0.1:1")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert_eq!(
                reply.json()["error_description"],
                "Invalid client certificate: more than one header line"
            );
            // From an untrusted peer even garbage is ignored (never parsed).
            let reply = send(
                app(),
                from_peer(
                    get_req(
                        "/data",
                        &[
                            ("authorization", &bearer(&super::token(t))),
                            (HEADER, "garbage"),
                        ],
                    ),
                    "192.0.2.1:1",
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);

            // The handler sees the header only when a trusted proxy set it: from anyone else
            // (or with no peer address) it is removed, in optional mode too, credentials or not.
            let plain = bearer(&super::token(t));
            let seen = |layer: Auth0Layer, request: Request| async move {
                send(echo_header(layer), request).await
            };
            let reply = seen(
                layer(t, &["10.0.0.0/8"]),
                from_peer(
                    get_req("/seen", &[("authorization", &auth), (HEADER, &escaped)]),
                    "10.0.0.1:1",
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert_eq!(reply.body, escaped);
            for peer in [Some("192.0.2.1:1"), None] {
                for (optional, credentials) in [(false, true), (true, true), (true, false)] {
                    let mut headers = vec![(HEADER, "client-written")];
                    if credentials {
                        headers.push(("authorization", plain.as_str()));
                    }
                    let mut request = get_req("/seen", &headers);
                    if let Some(peer) = peer {
                        request = from_peer(request, peer);
                    }
                    let mut l = layer(t, &["10.0.0.0/8"]);
                    if optional {
                        l = l.optional();
                    }
                    let reply = seen(l, request).await;
                    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                    assert_eq!(reply.body, "none", "{peer:?} {optional} {credentials}");
                }
            }
        });
    }

    /// `/seen`: the certificate header as the handler sees it.
    fn echo_header(layer: Auth0Layer) -> Router {
        Router::new()
            .route(
                "/seen",
                get(|headers: HeaderMap| async move {
                    headers
                        .get(HEADER)
                        .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
                }),
            )
            .layer(layer)
    }

    /// RFC 8705 section 3 by default: the layer's client, with default options, refuses a
    /// certificate-bound token without its certificate; unbound tokens are unaffected.
    #[test]
    fn mtls_enforced_by_default_through_the_layer() {
        run(|t| async move {
            let cert = TestCertificate::generate("client").unwrap();
            let token = bound(t, &cert);
            let app = || app(Auth0Layer::new(client(t)));
            let reply = send(
                app(),
                get_req("/data", &[("authorization", &bearer(&token))]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.json()["error"], "invalid_token");
            let description = "Certificate-bound token requires a mutual-TLS client certificate";
            assert_eq!(reply.json()["error_description"], description);
            assert_eq!(
                reply.challenge(),
                format!(
                    r#"Bearer error="invalid_token", error_description="{description}", DPoP algs="ES256""#
                )
            );
            // With its certificate (the TLS connection's extension): accepted.
            let mut request = get_req("/data", &[("authorization", &bearer(&token))]);
            request
                .extensions_mut()
                .insert(ClientCertificate(cert.der().to_vec()));
            assert_eq!(send(app(), request).await.status, StatusCode::OK);
            // Unbound tokens, with or without a certificate: unaffected.
            let plain = bearer(&super::token(t));
            let reply = send(app(), get_req("/data", &[("authorization", &plain)])).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            let mut request = get_req("/data", &[("authorization", &plain)]);
            request
                .extensions_mut()
                .insert(ClientCertificate(cert.der().to_vec()));
            assert_eq!(send(app(), request).await.status, StatusCode::OK);
            // The explicit opt-out: the bound token passes without its certificate.
            let lax = client_with(t, |b| b.certificate_binding(CertificateBinding::Ignored));
            let reply = send(
                app_with(lax),
                get_req("/data", &[("authorization", &bearer(&token))]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        });
    }

    fn app_with(client: ApiClient) -> Router {
        app(Auth0Layer::new(client))
    }

    #[test]
    fn mtls_certificate_from_the_tls_connection_extension() {
        run(|t| async move {
            let cert = TestCertificate::generate("client").unwrap();
            let token = bound(t, &cert);
            let auth = bearer(&token);
            let app = || app(Auth0Layer::new(enforcing(t)));
            let mut request = get_req("/data", &[("authorization", &auth)]);
            request
                .extensions_mut()
                .insert(ClientCertificate(cert.der().to_vec()));
            let reply = send(app(), request).await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            // No header source configured: the header is never read.
            let reply = send(
                app(),
                from_peer(
                    get_req(
                        "/data",
                        &[("authorization", &auth), (HEADER, &cert.escaped_pem())],
                    ),
                    "127.0.0.1:1",
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        });
    }

    #[test]
    fn mtls_layer_configuration_is_checked() {
        run(|t| async move {
            let e = Auth0Layer::builder(client(t))
                .client_certificate_header(HEADER)
                .build()
                .unwrap_err();
            assert_eq!(e.error_code(), "invalid_configuration");
            for proxies in [&["10.0.0.0/99"][..], &["proxy.internal"]] {
                let e = Auth0Layer::builder(client(t))
                    .client_certificate_header(HEADER)
                    .trusted_proxies(proxies)
                    .build()
                    .unwrap_err();
                assert_eq!(e.error_code(), "invalid_configuration");
            }
            let e = Auth0Layer::builder(client(t))
                .client_certificate_header("bad header")
                .trusted_proxies(["127.0.0.1"])
                .build()
                .unwrap_err();
            assert_eq!(e.error_code(), "invalid_configuration");
        });
    }

    /// A real listener with axum's `ConnectInfo`: the loopback peer is the trusted proxy.
    #[test]
    fn mtls_real_listener_with_connect_info() {
        run(|t| async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let trusted = app(layer(t, &["127.0.0.1"]));
            let server = tokio::spawn(async move {
                axum::serve(
                    listener,
                    trusted.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .unwrap();
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let untrusted_addr = listener.local_addr().unwrap();
            let untrusted = app(layer(t, &["10.0.0.0/8"]));
            let untrusted_server = tokio::spawn(async move {
                axum::serve(
                    listener,
                    untrusted.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .unwrap();
            });

            let cert = TestCertificate::generate("client").unwrap();
            let token = bound(t, &cert);
            let http = reqwest::Client::new();
            let call = |addr: SocketAddr| {
                http.get(format!("http://{addr}/data"))
                    .bearer_auth(&token)
                    .header(HEADER, cert.escaped_pem())
                    .send()
            };
            assert_eq!(call(addr).await.unwrap().status(), 200);
            assert_eq!(call(untrusted_addr).await.unwrap().status(), 401);
            server.abort();
            untrusted_server.abort();
        });
    }

    /// The application terminates mutual TLS itself (rustls through tokio-rustls, served by
    /// hyper): it reads the client's certificate once per connection and puts it in each
    /// request's extensions as `ClientCertificate`, as the `mtls` module documents.
    #[test]
    fn mtls_certificate_from_a_real_rustls_connection() {
        run(|t| async move {
            let tls = MutualTls::generate().unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let router = app(Auth0Layer::new(enforcing(t)));
            let server = tokio::spawn(async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, router) = (acceptor.clone(), router.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        // rustls: the chain the client sent, its own certificate first.
                        let certificate = stream
                            .get_ref()
                            .1
                            .peer_certificates()
                            .and_then(|chain| chain.first())
                            .map(|der| ClientCertificate(der.to_vec()));
                        let service = hyper::service::service_fn(
                            move |mut request: hyper::Request<hyper::body::Incoming>| {
                                if let Some(certificate) = &certificate {
                                    request.extensions_mut().insert(certificate.clone());
                                }
                                router.clone().oneshot(request)
                            },
                        );
                        let io = hyper_util::rt::TokioIo::new(stream);
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(io, service)
                            .await;
                    });
                }
            });

            let cert = tls.issue("client-a").unwrap();
            let other = tls.issue("client-b").unwrap();
            let token = bound(t, &cert);
            let ca = reqwest::Certificate::from_pem(tls.ca_pem().as_bytes()).unwrap();
            let client = |identity: Option<&TestCertificate>| {
                let mut builder = reqwest::Client::builder().tls_certs_only([ca.clone()]);
                if let Some(c) = identity {
                    let pem = format!("{}{}", c.key_pem(), c.pem());
                    builder =
                        builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
                }
                builder.build().unwrap()
            };
            let url = format!("https://localhost:{}/data", addr.port());
            let call = |identity: Option<&TestCertificate>| {
                let http = client(identity);
                let request = http.get(&url).bearer_auth(&token);
                async move { request.send().await.unwrap() }
            };

            let response = call(Some(&cert)).await;
            assert_eq!(response.status(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["sub"], "auth0|alice");
            let response = call(Some(&other)).await;
            assert_eq!(response.status(), 401);
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["error_description"],
                "Certificate-bound token does not match the client certificate (x5t#S256)"
            );
            let response = call(None).await;
            assert_eq!(response.status(), 401);
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["error_description"],
                "Certificate-bound token requires a mutual-TLS client certificate"
            );
            // An unbound token over the same connection kinds is unaffected.
            let plain = super::token(t);
            let response = client(None)
                .get(&url)
                .bearer_auth(&plain)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            server.abort();
        });
    }
}

#[test]
fn stacked_scope_guards_name_every_scope_the_call_needs() {
    run(|t| async move {
        let app: Router = Router::new()
            .merge(
                Router::new()
                    .route("/events", get(|| async { "events" }))
                    .route_layer(RequireScopes::all(["calendar:read", "mcp:read"])),
            )
            .merge(
                Router::new()
                    .route("/perm", get(|| async { "perm" }))
                    .route_layer(RequirePermissions::all(["delete:x"])),
            )
            .merge(
                Router::new()
                    .route("/acme", get(|| async { "acme" }))
                    .route_layer(GuardLayer::from_fn(|_: &auth0_api::VerifiedRequest| false)),
            )
            .route(
                "/handler",
                get(|auth: Authenticated| async move {
                    auth.require(&RequireScopes::all(["files:read"]))
                        .map(|()| "handler")
                }),
            )
            .layer(RequireScopes::any(["admin", "mcp:read"]))
            .layer(RequireScopes::all(["base"]))
            .layer(Auth0Layer::new(client(t)));
        let call = |path: &'static str, scope: &'static str| {
            let token = t.mint().aud(json!(AUD)).scope(scope).sign();
            send(
                app.clone(),
                get_req(path, &[("authorization", &bearer(&token))]),
            )
        };
        let forbidden = |reply: Reply| {
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.body);
            reply.challenge().to_owned()
        };

        // The inner refusal names what the outer guards relied on (the `any` guard: the scope
        // the token holds), then its own scopes, once each.
        assert_eq!(
            forbidden(call("/events", "base mcp:read").await),
            r#"Bearer error="insufficient_scope", scope="base mcp:read calendar:read""#
        );
        assert_eq!(
            forbidden(call("/perm", "base mcp:read").await),
            r#"Bearer error="insufficient_scope", scope="base mcp:read delete:x""#
        );
        // A refusal in a handler names them too.
        assert_eq!(
            forbidden(call("/handler", "base mcp:read").await),
            r#"Bearer error="insufficient_scope", scope="base mcp:read files:read""#
        );
        let reply = call("/handler", "base mcp:read files:read").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "handler")
        );
        // A refusal naming no scope stays so.
        assert_eq!(
            forbidden(call("/acme", "base mcp:read").await),
            r#"Bearer error="insufficient_scope""#
        );
        // An outer refusal names what the guards outside it relied on.
        assert_eq!(
            forbidden(call("/events", "base").await),
            r#"Bearer error="insufficient_scope", scope="base admin mcp:read""#
        );
        assert_eq!(
            forbidden(call("/events", "mcp:read calendar:read").await),
            r#"Bearer error="insufficient_scope", scope="base""#
        );
        // Asking for exactly the named set gets through.
        let reply = call("/events", "base mcp:read calendar:read").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "events")
        );
    });
}

/// Tokens outside `Authorization` (`TokenLocations`) through the layer: required and optional
/// routes, the `AccessToken` that was verified, `Cache-Control: private` for query tokens.
/// `cargo test token_location`.
mod token_location {
    use super::*;
    use auth0_api::TokenLocations;

    fn located(t: &DevTenant) -> ApiClient {
        client_with(t, |b| {
            b.token_locations(
                TokenLocations::new()
                    .query()
                    .cookie("at")
                    .header("x-access-token"),
            )
        })
    }

    /// `app`'s routes plus `/cached`, whose handler sets its own `Cache-Control`.
    fn located_app(layer: Auth0Layer) -> Router {
        Router::new()
            .route(
                "/cached",
                get(|| async { ([(axum::http::header::CACHE_CONTROL, "no-store")], "cached") }),
            )
            .layer(layer.clone())
            .merge(app(layer))
    }

    #[test]
    fn token_location_access_token_is_the_verified_one() {
        run(|t| async move {
            let token = token(t);
            let app = || located_app(Auth0Layer::new(located(t)));
            let cookie = format!("theme=dark; at={token}");
            for (request, query) in [
                (get_req("/data", &[("cookie", &cookie)]), false),
                (get_req("/data", &[("x-access-token", &token)]), false),
                (get_req(&format!("/data?access_token={token}"), &[]), true),
                (
                    get_req("/data", &[("authorization", &bearer(&token))]),
                    false,
                ),
            ] {
                let reply = send(app(), request).await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
                let body = reply.json();
                assert_eq!(body["sub"], "auth0|alice");
                assert_eq!(body["scheme"], "Bearer");
                assert_eq!(body["token"], token.as_str());
                // RFC 6750 section 2.3: a success answering a query token is private.
                let cache_control = reply.headers.get("cache-control");
                if query {
                    assert_eq!(cache_control.unwrap(), "private");
                } else {
                    assert!(cache_control.is_none(), "{cache_control:?}");
                }
            }
            // A handler's own Cache-Control is kept.
            let reply = send(
                app(),
                get_req(&format!("/cached?access_token={token}"), &[]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert_eq!(reply.headers["cache-control"], "no-store");
            // One method per request: a cookie and a header token together are 400.
            let reply = send(
                app(),
                get_req(
                    "/data",
                    &[("cookie", &cookie), ("authorization", &bearer(&token))],
                ),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert_eq!(reply.json()["error"], "invalid_request");
            // An invalid cookie token is refused like any token.
            let expired = t.mint().aud(json!(AUD)).expired().sign();
            let reply = send(
                app(),
                get_req("/data", &[("cookie", &format!("at={expired}"))]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
            assert_eq!(reply.json()["error"], "invalid_token");
        });
    }

    #[test]
    fn token_location_optional_routes_see_tokens_outside_authorization() {
        run(|t| async move {
            let token = token(t);
            let layer = Auth0Layer::new(located(t)).optional();
            let expired = t.mint().aud(json!(AUD)).expired().sign();
            for path in ["/maybe", "/option"] {
                let app = || located_app(layer.clone());
                // Nothing anywhere (an unrelated cookie included): anonymous.
                let reply = send(app(), get_req(path, &[("cookie", "theme=dark")])).await;
                assert_eq!(reply.status, StatusCode::OK);
                assert_eq!(reply.body, "anonymous");
                // A token in any configured place: verified.
                for request in [
                    get_req(path, &[("cookie", &format!("at={token}"))]),
                    get_req(path, &[("x-access-token", &token)]),
                    get_req(&format!("{path}?access_token={token}"), &[]),
                ] {
                    let reply = send(app(), request).await;
                    assert_eq!(reply.status, StatusCode::OK, "{path}");
                    assert_eq!(reply.body, "user auth0|alice", "{path}");
                }
                // An invalid one is refused, not taken as anonymous.
                let reply = send(
                    app(),
                    get_req(path, &[("cookie", &format!("at={expired}"))]),
                )
                .await;
                assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{path}");
                assert_eq!(reply.json()["error"], "invalid_token");
                // So is one that cannot be read (the cookie twice): 400, as verify_request says.
                let reply = send(
                    app(),
                    get_req(path, &[("cookie", &format!("at={token}; at={token}"))]),
                )
                .await;
                assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{path}");
                assert_eq!(reply.json()["error"], "invalid_request");
            }
            // The AccessToken of an optional route is the verified token too.
            let reply = send(
                located_app(layer.clone()),
                get_req("/data", &[("x-access-token", &token)]),
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
            assert_eq!(reply.json()["token"], token.as_str());
        });
    }

    #[test]
    fn token_location_helper_finds_what_verify_request_reads() {
        run(|t| async move {
            let c = located(t);
            let headers = |pairs: &[(&str, &str)]| {
                auth0_api::VerifyRequest::from_pairs(pairs.iter().copied())
                    .method("GET")
                    .url("http://api.test/x?access_token=q")
            };
            let request = headers(&[]);
            let found = c.token_in_locations(&request).unwrap();
            assert_eq!(
                found.map(|(s, t)| (s, t.into_owned())),
                Some((auth0_api::TokenSource::Query, "q".to_owned()))
            );
            let request = headers(&[("x-access-token", "h")]);
            let e = c.token_in_locations(&request).unwrap_err();
            assert_eq!((e.status_code(), e.error_code()), (400, "invalid_request"));
            // Without token locations: nothing, whatever the request carries.
            let request = headers(&[("cookie", "at=c")]);
            assert!(client(t).token_in_locations(&request).unwrap().is_none());
        });
    }
}
