//! The rmcp client against an rmcp server behind `Auth0Layer` and `ToolGuardLayer`, over real
//! HTTP on loopback, with a local dev tenant (HTTPS) as authorization server and an in-process
//! downstream API reached on behalf of the user.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;
use std::time::Duration;

use clap::Parser as _;

use auth0_api::{ApiClient, ApiClientOptions};
use auth0_api_axum::{
    Actor, Authenticated, ProtectedResource, ProtectedResourceMetadata, RequireScopes,
    RequireUserAuthentication,
};
use auth0_api_dev_tenant::{DevTenant, TokenBuilder};
use auth0_api_rmcp::{Caller, ToolGuardLayer, tool_error};
use axum::routing::get;
use axum::{Json, Router};
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::service::{ClientInitializeError, RunningService};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleClient, ServiceExt, tool, tool_router};
use serde_json::{Value, json};
use tower_layer::Layer;

const MCP_CLIENT_ID: &str = "mcp-server";
/// An agent with client credentials for the MCP server's API (the Python client).
const AGENT_ID: &str = "python-agent";
const AGENT_SECRET: &str = "python-agent-secret";
const MCP_CLIENT_SECRET: &str = "mcp-server-secret";
const MFA: &str = "http://schemas.openid.net/pape/policies/2007/06/multi-factor";

/// The example program, whose demo and serve mode the tests below run.
#[allow(dead_code)]
#[path = "../examples/mcp_rmcp.rs"]
mod example;

#[derive(Clone)]
struct TestServer {
    http: reqwest::Client,
    calendar_id: Arc<str>,
    calendar_url: Arc<str>,
}

#[tool_router(server_handler)]
impl TestServer {
    #[tool(description = "The caller")]
    async fn whoami(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
        let body = json!({
            "sub": caller.sub(),
            "actor": caller.actor().map_err(|e| tool_error(&e))?,
            "chain": caller.delegation_chain().map_err(|e| tool_error(&e))?,
            "scope": caller.verified().scope(),
            // The test server echoes the token so the test can compare it with what it sent.
            "token": caller.token().expose(),
            "debug_redacted": !format!("{caller:?}").contains(caller.token().expose()),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            body.to_string(),
        )]))
    }

    #[tool(description = "Events from the downstream calendar API, on behalf of the user")]
    async fn calendar_events(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
        let token = caller
            .on_behalf_of(&self.calendar_id, Some("calendar:read"))
            .await
            .map_err(|e| tool_error(&e))?;
        let response = self
            .http
            .get(&*self.calendar_url)
            .bearer_auth(token.access_token.expose())
            .send()
            .await
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "{status} {text}"
            ))]));
        }
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
    }

    #[tool(description = "Needs a recent multi-factor login")]
    async fn transfer(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
        let acr = caller.verified().acr().unwrap_or_default().to_owned();
        Ok(CallToolResult::success(vec![ContentBlock::text(acr)]))
    }
}

struct Fixture {
    tenant: DevTenant,
    mcp_id: String,
    calendar_id: String,
    origin: String,
    server: tokio::task::JoinHandle<()>,
    tools: ToolGuardLayer,
}

impl Fixture {
    async fn start() -> Self {
        Self::start_with(|tools| tools).await
    }

    /// Raw streamable-HTTP calls to the MCP endpoint.
    fn raw(&self) -> Raw<'_> {
        Raw {
            http: reqwest::Client::new(),
            url: &self.mcp_id,
        }
    }

    /// The fixture with more tool-guard settings.
    async fn start_with(configure: impl FnOnce(ToolGuardLayer) -> ToolGuardLayer) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let mcp_id = format!("{origin}/mcp");
        let calendar_id = format!("{origin}/calendar");
        let tenant = DevTenant::builder()
            .client(MCP_CLIENT_ID, MCP_CLIENT_SECRET, [calendar_id.as_str()])
            .client(AGENT_ID, AGENT_SECRET, [mcp_id.as_str()])
            .start()
            .await
            .unwrap();
        let client = |audience: &str, credentials: bool| {
            let mut options = ApiClientOptions::builder()
                .domain(tenant.domain())
                .audience(audience)
                .root_ca_pem(tenant.ca_pem());
            if credentials {
                options = options
                    .client_id(MCP_CLIENT_ID)
                    .client_secret(MCP_CLIENT_SECRET);
            }
            ApiClient::new(options.build().unwrap()).unwrap()
        };
        let mcp_client = client(&mcp_id, true);
        let mcp = ProtectedResource::new(
            mcp_client.clone(),
            ProtectedResourceMetadata::new(&mcp_id)
                .unwrap()
                .scopes_supported(["mcp:read", "calendar:read", "payments:write"])
                .dpop_from(&mcp_client),
        )
        .unwrap();
        let calendar = ProtectedResource::new(
            client(&calendar_id, false),
            ProtectedResourceMetadata::new(&calendar_id)
                .unwrap()
                .scopes_supported(["calendar:read"]),
        )
        .unwrap();

        let server = TestServer {
            http: reqwest::Client::new(),
            calendar_id: calendar_id.as_str().into(),
            calendar_url: format!("{origin}/calendar/events").into(),
        };
        let rmcp_service = StreamableHttpService::new(
            move || Ok(server.clone()),
            Arc::new(LocalSessionManager::default()),
            StreamableHttpServerConfig::default(),
        );
        let tools = configure(
            ToolGuardLayer::new()
                .every_request_scopes(["mcp:read"])
                .tool_scopes("calendar_events", ["calendar:read"])
                .tool_scopes("transfer", ["payments:write"])
                .tool_step_up(
                    "transfer",
                    RequireUserAuthentication::acr_values([MFA])
                        .and_max_age(Duration::from_secs(300)),
                ),
        );
        let downstream = Router::new()
            .route(
                "/calendar/events",
                get(|auth: Authenticated, actor: Actor| async move {
                    Json(json!({
                        "user": auth.sub(),
                        "actor": actor.current,
                        "chain": actor.chain,
                        "aud": auth.get("aud"),
                    }))
                }),
            )
            .route_layer(RequireScopes::all(["calendar:read"]))
            .layer(calendar.layer());
        let app = Router::new()
            .route_service("/mcp", mcp.layer().layer(tools.layer(rmcp_service)))
            .merge(downstream)
            .route_service(mcp.metadata().well_known_path(), mcp.metadata_service())
            .route_service(
                calendar.metadata().well_known_path(),
                calendar.metadata_service(),
            );
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            tenant,
            mcp_id,
            calendar_id,
            origin,
            server,
            tools,
        }
    }

    /// A user token for the MCP server.
    fn user(&self) -> TokenBuilder {
        self.tenant
            .mint()
            .sub("auth0|alice")
            .aud(json!(self.mcp_id))
            .claim("azp", json!("mcp-client"))
    }

    async fn connect(
        &self,
        token: Option<&str>,
    ) -> Result<RunningService<RoleClient, ()>, ClientInitializeError> {
        let mut config = StreamableHttpClientTransportConfig::with_uri(self.mcp_id.as_str());
        if let Some(token) = token {
            config = config.auth_header(token);
        }
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
    }

    async fn stop(self) {
        self.server.abort();
        self.tenant.stop().await;
    }
}

/// The error of an initialization that must fail.
fn init_error(
    result: Result<RunningService<RoleClient, ()>, ClientInitializeError>,
    what: &str,
) -> ClientInitializeError {
    match result {
        Ok(_) => panic!("{what}"),
        Err(e) => e,
    }
}

/// The value of `name="..."` in a `WWW-Authenticate` value (first occurrence).
fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    challenge
        .split(&format!(" {name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}

fn text_json(result: &CallToolResult) -> Value {
    let text = &result.content[0].as_text().unwrap().text;
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
}

async fn call(client: &RunningService<RoleClient, ()>, tool: &'static str) -> CallToolResult {
    client
        .call_tool(CallToolRequestParams::new(tool))
        .await
        .unwrap()
}

/// The challenge of a call refused at the HTTP level.
async fn refused(client: &RunningService<RoleClient, ()>, tool: &'static str) -> String {
    match client.call_tool(CallToolRequestParams::new(tool)).await {
        Ok(result) => panic!("{tool} ran: {result:?}"),
        Err(e) => e
            .auth_challenge()
            .unwrap_or_else(|| panic!("no challenge: {e}"))
            .to_owned(),
    }
}

#[tokio::test]
async fn no_token_gets_401_with_metadata_the_client_can_fetch() {
    let f = Fixture::start().await;
    let err = init_error(f.connect(None).await, "initialized without a token");
    let challenge = err.auth_challenge().expect("a 401 challenge").to_owned();
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", f.origin);
    assert_eq!(
        param(&challenge, "resource_metadata"),
        Some(metadata_url.as_str())
    );
    assert!(
        challenge.starts_with(r#"Bearer realm="api""#),
        "{challenge}"
    );

    let response = reqwest::get(&metadata_url).await.unwrap();
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert_eq!(doc["resource"], f.mcp_id);
    assert_eq!(doc["authorization_servers"], json!([f.tenant.issuer()]));
    assert_eq!(
        doc["scopes_supported"],
        json!(["mcp:read", "calendar:read", "payments:write"])
    );
    // The tenant named there is an OpenID provider whose issuer is that name.
    let discovery = f.tenant.discovery_document();
    assert_eq!(discovery["issuer"], f.tenant.issuer());

    // An invalid token: 401 invalid_token, same document.
    let expired = f.user().scope("mcp:read").expired().sign();
    let err = init_error(f.connect(Some(&expired)).await, "expired token accepted");
    let challenge = err.auth_challenge().unwrap().to_owned();
    assert_eq!(param(&challenge, "error"), Some("invalid_token"));
    assert_eq!(
        param(&challenge, "resource_metadata"),
        Some(metadata_url.as_str())
    );

    // A token for the other resource of the process is refused here (audience binding).
    let for_calendar = f
        .tenant
        .mint()
        .aud(json!(f.calendar_id))
        .scope("mcp:read")
        .sign();
    let err = init_error(
        f.connect(Some(&for_calendar)).await,
        "wrong audience accepted",
    );
    assert_eq!(
        param(err.auth_challenge().unwrap(), "error"),
        Some("invalid_token")
    );
    f.stop().await;
}

#[tokio::test]
async fn valid_token_lists_and_calls_tools() {
    let f = Fixture::start().await;
    let token = f.user().scope("mcp:read").sign();
    let client = f.connect(Some(&token)).await.unwrap();
    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    tools.sort();
    assert_eq!(tools, ["calendar_events", "transfer", "whoami"]);
    let me = text_json(&call(&client, "whoami").await);
    assert_eq!(me["sub"], "auth0|alice");
    assert_eq!(me["scope"], "mcp:read");
    assert_eq!(me["actor"], Value::Null);
    assert_eq!(me["token"], token);
    assert_eq!(me["debug_redacted"], true);
    client.cancel().await.unwrap();

    // A delegated token: the tool sees the current actor and the chain.
    let delegated = f
        .user()
        .scope("mcp:read")
        .act(json!({"sub": "agent-7", "act": {"sub": "agent-1"}}))
        .sign();
    let client = f.connect(Some(&delegated)).await.unwrap();
    let me = text_json(&call(&client, "whoami").await);
    assert_eq!(me["actor"], "agent-7");
    assert_eq!(me["chain"], json!(["agent-7", "agent-1"]));
    client.cancel().await.unwrap();
    f.stop().await;
}

#[tokio::test]
async fn missing_tool_scope_is_403_naming_every_scope_the_call_needs() {
    let f = Fixture::start().await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", f.origin);
    let token = f.user().scope("mcp:read").sign();
    let client = f.connect(Some(&token)).await.unwrap();
    let challenge = refused(&client, "calendar_events").await;
    assert_eq!(
        challenge,
        format!(
            r#"Bearer error="insufficient_scope", scope="mcp:read calendar:read", resource_metadata="{metadata_url}""#
        )
    );
    client.cancel().await.ok();

    // Without the scope every request needs, even initialize is refused, naming that scope.
    let token = f.user().scope("calendar:read").sign();
    let err = init_error(
        f.connect(Some(&token)).await,
        "initialized without mcp:read",
    );
    let challenge = err.auth_challenge().unwrap();
    assert_eq!(param(challenge, "error"), Some("insufficient_scope"));
    assert_eq!(param(challenge, "scope"), Some("mcp:read"));

    // The same check over raw HTTP: the status is 403 and the JSON body names the error.
    let response = reqwest::Client::new()
        .post(&f.mcp_id)
        .bearer_auth(f.user().scope("mcp:read").sign())
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "calendar_events", "arguments": {}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "insufficient_scope");
    f.stop().await;
}

#[tokio::test]
async fn on_behalf_of_inside_a_tool_reaches_downstream_as_user_and_actor() {
    let f = Fixture::start().await;
    let token = f.user().scope("mcp:read calendar:read").sign();
    let client = f.connect(Some(&token)).await.unwrap();
    let result = call(&client, "calendar_events").await;
    assert_ne!(result.is_error, Some(true), "{result:?}");
    let seen = text_json(&result);
    assert_eq!(seen["user"], "auth0|alice");
    assert_eq!(seen["actor"], MCP_CLIENT_ID);
    assert_eq!(seen["chain"], json!([MCP_CLIENT_ID]));
    assert_eq!(seen["aud"], f.calendar_id);
    client.cancel().await.unwrap();

    // An agent already acting for the user: the chain grows, newest first.
    let delegated = f
        .user()
        .scope("mcp:read calendar:read")
        .act(json!({"sub": "agent-7"}))
        .sign();
    let client = f.connect(Some(&delegated)).await.unwrap();
    let seen = text_json(&call(&client, "calendar_events").await);
    assert_eq!(seen["actor"], MCP_CLIENT_ID);
    assert_eq!(seen["chain"], json!([MCP_CLIENT_ID, "agent-7"]));
    client.cancel().await.unwrap();
    f.stop().await;
}

#[tokio::test]
async fn step_up_per_tool_is_401_with_acr_values_and_max_age() {
    let f = Fixture::start().await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", f.origin);
    let scope = "mcp:read payments:write";
    let want = |description: &str| {
        format!(
            r#"Bearer error="insufficient_user_authentication", error_description="{description}", acr_values="{MFA}", max_age="300", resource_metadata="{metadata_url}""#
        )
    };
    // acr
    let pwd = f
        .user()
        .scope(scope)
        .acr("pwd")
        .authenticated_secs_ago(5)
        .sign();
    let client = f.connect(Some(&pwd)).await.unwrap();
    assert_eq!(
        refused(&client, "transfer").await,
        want("A different authentication level is required")
    );
    // Other tools are not affected.
    let client = f.connect(Some(&pwd)).await.unwrap();
    assert_eq!(
        text_json(&call(&client, "whoami").await)["sub"],
        "auth0|alice"
    );
    client.cancel().await.ok();

    // max_age: too old, or no auth_time.
    for token in [
        f.user()
            .scope(scope)
            .acr(MFA)
            .authenticated_secs_ago(3600)
            .sign(),
        f.user().scope(scope).acr(MFA).sign(),
    ] {
        let client = f.connect(Some(&token)).await.unwrap();
        assert_eq!(
            refused(&client, "transfer").await,
            want("More recent authentication is required")
        );
    }

    // The scope is checked first: 403 naming every scope of the call.
    let token = f
        .user()
        .scope("mcp:read")
        .acr(MFA)
        .authenticated_secs_ago(5)
        .sign();
    let client = f.connect(Some(&token)).await.unwrap();
    let challenge = refused(&client, "transfer").await;
    assert_eq!(param(&challenge, "scope"), Some("mcp:read payments:write"));

    // Stepped up: a recent multi-factor login.
    let fresh = f
        .user()
        .scope(scope)
        .acr(MFA)
        .authenticated_secs_ago(10)
        .sign();
    let client = f.connect(Some(&fresh)).await.unwrap();
    let result = call(&client, "transfer").await;
    assert_eq!(text_json(&result), Value::String(MFA.to_owned()));
    client.cancel().await.unwrap();

    // The same from the tenant's token endpoint (RFC 8707 `resource`; the dev tenant's `acr` /
    // `auth_time` parameters stand in for how the user logged in).
    let ca = reqwest::Certificate::from_pem(f.tenant.ca_pem().as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token_for = |auth_time: u64| {
        let form = [
            ("grant_type", "client_credentials".to_owned()),
            ("resource", f.mcp_id.clone()),
            ("scope", scope.to_owned()),
            ("acr", MFA.to_owned()),
            ("auth_time", auth_time.to_string()),
        ];
        let request = http
            .post(f.tenant.token_endpoint())
            .basic_auth(AGENT_ID, Some(AGENT_SECRET))
            .form(&form);
        async move {
            let issued: Value = request.send().await.unwrap().json().await.unwrap();
            issued["access_token"].as_str().expect("a token").to_owned()
        }
    };
    let client = f.connect(Some(&token_for(now - 10).await)).await.unwrap();
    assert_eq!(
        text_json(&call(&client, "transfer").await),
        Value::String(MFA.to_owned())
    );
    client.cancel().await.unwrap();
    let client = f.connect(Some(&token_for(now - 301).await)).await.unwrap();
    assert_eq!(
        refused(&client, "transfer").await,
        want("More recent authentication is required")
    );
    f.stop().await;
}

/// The official Python MCP SDK (`pip install mcp`; `.ci/run` installs it) with its OAuth-aware
/// client-credentials provider: from a bare 401 it finds the metadata, the tenant and the token
/// endpoint by itself, asks for a token for this resource, and calls the tools. `MCP_PYTHON`
/// names the interpreter (default `python3`).
#[tokio::test]
async fn the_python_sdk_oauth_client_discovers_authorizes_and_calls() {
    let f = Fixture::start().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/mcp_client.py");
    let python = std::env::var("MCP_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let run = |scope: &'static str, tool: &'static str| {
        let args = [
            script.to_owned(),
            f.mcp_id.clone(),
            f.tenant.issuer().to_owned(),
            f.tenant.ca_path().display().to_string(),
            AGENT_ID.to_owned(),
            AGENT_SECRET.to_owned(),
            scope.to_owned(),
            tool.to_owned(),
        ];
        let python = python.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(&python)
                .args(&args)
                .output()
                .unwrap_or_else(|e| {
                    panic!("cannot run {python} ({e}): install Python 3 and `pip install mcp`")
                })
        })
    };
    let output = run("mcp:read", "whoami").await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Python MCP client failed ({}); is the `mcp` package installed? {stderr}",
        output.status
    );
    let line: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        line["tools"],
        json!(["calendar_events", "transfer", "whoami"])
    );
    assert_eq!(line["is_error"], false);
    let me: Value = serde_json::from_str(line["text"].as_str().unwrap()).unwrap();
    assert_eq!(me["sub"], format!("{AGENT_ID}@clients"));
    // The token came from the tenant's endpoint, for this resource (RFC 8707), with the scopes
    // the client chose from the metadata (the MCP spec's scope selection).
    let request = f.tenant.last_token_request().expect("a token request");
    assert_eq!(request.field("grant_type"), Some("client_credentials"));
    assert_eq!(request.field("resource"), Some(f.mcp_id.as_str()));
    let requested = request.field("scope").unwrap_or_default();
    assert!(requested.split(' ').any(|s| s == "mcp:read"), "{requested}");
    assert_eq!(me["scope"], requested);
    f.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_batches_are_refused_before_rmcp() {
    let f = Fixture::start().await;
    let http = reqwest::Client::new();
    let token = f.user().scope("mcp:read calendar:read").sign();
    let post = |body: Vec<u8>| {
        http.post(&f.mcp_id)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body)
            .send()
    };
    let huge = vec![b' '; auth0_api_rmcp::tools::DEFAULT_MAX_BODY_BYTES + 1];
    assert_eq!(post(huge).await.unwrap().status(), 413);
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "whoami", "arguments": {}}});
    let batch = serde_json::to_vec(&vec![call; 65]).unwrap();
    assert_eq!(post(batch).await.unwrap().status(), 400);
    // Without a token nothing is read: 401 from the layer.
    let response = http.post(&f.mcp_id).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 401);
    f.stop().await;
}

/// The example's promise: run without arguments, it plays every step against the dev tenant
/// with an rmcp client and succeeds only when every step behaved (within its own timeout).
#[tokio::test]
async fn the_example_demo_plays_every_step() {
    if let Err(e) = example::demo().await {
        panic!("the mcp_rmcp demo failed: {e}");
    }
}

/// The example's real-tenant mode (`--domain`, `--audience`, client credentials), here against
/// a dev tenant trusted through `--root-ca`: tools listed, `whoami` and the on-behalf-of
/// `calendar_events` called by an rmcp client.
#[tokio::test]
async fn the_example_serves_the_tenant_named_by_its_flags() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let audience = format!("http://{addr}/mcp");
    let calendar = format!("http://{addr}/calendar");
    let tenant = DevTenant::builder()
        .client(MCP_CLIENT_ID, MCP_CLIENT_SECRET, [calendar.as_str()])
        .start()
        .await
        .unwrap();
    let ca = tenant.ca_path().display().to_string();
    let listen = addr.to_string();
    let flags = |root_ca: &str| {
        example::Args::try_parse_from([
            "mcp_rmcp",
            "--domain",
            tenant.domain(),
            "--audience",
            &audience,
            "--client-id",
            MCP_CLIENT_ID,
            "--client-secret",
            MCP_CLIENT_SECRET,
            "--root-ca",
            root_ca,
            "--listen",
            &listen,
        ])
        .unwrap()
    };
    let missing = format!("{ca}.missing");
    assert!(example::serve_config(&flags(&missing), addr).is_err());
    let args = flags(&ca);
    let server = tokio::spawn(async move { example::serve(&args, listener).await });

    let token = tenant
        .mint()
        .sub("auth0|bob")
        .aud(json!(audience))
        .scope("mcp:read calendar:read")
        .sign();
    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(audience.as_str()).auth_header(token),
    );
    let client = ().serve(transport).await.unwrap();
    let mut tools: Vec<String> = client
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    tools.sort();
    assert_eq!(tools, ["calendar_events", "whoami"]);
    let me = text_json(&call(&client, "whoami").await);
    assert_eq!(me["user"], "auth0|bob");
    assert_eq!(me["scope"], "mcp:read calendar:read");
    // The exchange goes to the tenant over HTTPS trusted through --root-ca.
    let events = call(&client, "calendar_events").await;
    assert_ne!(events.is_error, Some(true), "{events:?}");
    let events = text_json(&events);
    assert_eq!(events["user"], "auth0|bob");
    assert_eq!(events["current_actor"], MCP_CLIENT_ID);
    client.cancel().await.unwrap();
    server.abort();
    tenant.stop().await;
}

/// Raw streamable-HTTP calls, for what the rmcp client does not show (session ids, statuses).
struct Raw<'a> {
    http: reqwest::Client,
    url: &'a str,
}

impl Raw<'_> {
    /// Sends a JSON-RPC body with `token` and `session`: the status, the session header and
    /// the body text (bounded in time).
    async fn post(
        &self,
        token: &str,
        session: Option<&str>,
        body: &str,
    ) -> (u16, Option<String>, String) {
        let mut request = self
            .http
            .post(self.url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .body(body.to_owned());
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        Self::read(request).await
    }

    async fn delete(&self, token: &str, session: &str) -> (u16, Option<String>, String) {
        let request = self
            .http
            .delete(self.url)
            .bearer_auth(token)
            .header("mcp-protocol-version", "2025-06-18")
            .header("mcp-session-id", session);
        Self::read(request).await
    }

    async fn read(request: reqwest::RequestBuilder) -> (u16, Option<String>, String) {
        tokio::time::timeout(Duration::from_secs(20), async {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let session = response
                .headers()
                .get("mcp-session-id")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, session, response.text().await.unwrap())
        })
        .await
        .expect("an answer within 20 s")
    }

    /// Initializes a session for `token`: its id.
    async fn open_session(&self, token: &str) -> String {
        let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
        let (status, session, body) = self.post(token, None, init).await;
        assert_eq!(status, 200, "{body}");
        let session = session.expect("a session id");
        let initialized = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let (status, _, body) = self.post(token, Some(&session), initialized).await;
        assert_eq!(status, 202, "{body}");
        session
    }
}

const WHOAMI: &str =
    r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}"#;

#[tokio::test]
async fn a_session_is_bound_to_the_caller_that_opened_it() {
    let f = Fixture::start().await;
    let raw = f.raw();
    let alice = f.user().scope("mcp:read").sign();
    let session = raw.open_session(&alice).await;
    assert_eq!(f.tools.recorded_sessions(), 1);
    let (status, _, body) = raw.post(&alice, Some(&session), WHOAMI).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"\"sub\":\"auth0|alice\""#), "{body}");

    // Another user, or the same user through another client, with Alice's session id: 404, as
    // for a session that does not exist, on every method.
    let bob = f
        .tenant
        .mint()
        .sub("auth0|bob")
        .aud(json!(f.mcp_id))
        .claim("azp", json!("mcp-client"))
        .scope("mcp:read")
        .sign();
    let alice_elsewhere = f
        .user()
        .claim("azp", json!("another-client"))
        .scope("mcp:read")
        .sign();
    for intruder in [&bob, &alice_elsewhere] {
        let (status, _, body) = raw.post(intruder, Some(&session), WHOAMI).await;
        assert_eq!(status, 404, "{body}");
        assert!(!body.contains("alice"), "{body}");
        let (status, _, _) = raw.delete(intruder, &session).await;
        assert_eq!(status, 404);
        let stream = raw
            .http
            .get(raw.url)
            .bearer_auth(intruder)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(stream.status(), 404);
    }
    // Bob's own session works, and Alice's still does.
    let bobs = raw.open_session(&bob).await;
    assert_ne!(bobs, session);
    let (status, _, body) = raw.post(&bob, Some(&bobs), WHOAMI).await;
    assert_eq!(status, 200);
    assert!(body.contains("auth0|bob"), "{body}");
    // A new token for the same user and client keeps the session.
    let alice_again = f.user().scope("mcp:read").sign();
    let (status, _, body) = raw.post(&alice_again, Some(&session), WHOAMI).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("auth0|alice"), "{body}");

    // Alice ends her session: its record goes; the id is then unknown to rmcp (404).
    assert_eq!(f.tools.recorded_sessions(), 2);
    let (status, _, _) = raw.delete(&alice, &session).await;
    assert!((200..300).contains(&status), "{status}");
    assert_eq!(f.tools.recorded_sessions(), 1);
    let (status, _, _) = raw.post(&alice, Some(&session), WHOAMI).await;
    assert_eq!(status, 404);
    // An id never issued is left to rmcp: 404 too.
    let (status, _, _) = raw.post(&alice, Some("no-such-session"), WHOAMI).await;
    assert_eq!(status, 404);
    f.stop().await;
}

#[tokio::test]
async fn session_records_are_capped() {
    let f = Fixture::start_with(|tools| tools.max_sessions(2)).await;
    let raw = f.raw();
    let alice = f.user().scope("mcp:read").sign();
    for _ in 0..4 {
        raw.open_session(&alice).await;
    }
    assert_eq!(f.tools.recorded_sessions(), 2);
    f.stop().await;
}

/// The guard reads the body rmcp will read; what it cannot read unambiguously is refused before
/// rmcp (400 with a JSON-RPC error), so it cannot check one tool while rmcp calls another.
#[tokio::test]
async fn unreadable_or_ambiguous_bodies_fail_closed() {
    let f = Fixture::start().await;
    let raw = f.raw();
    // mcp:read only: `whoami` is allowed, `transfer` (payments:write, step-up) is not.
    let token = f.user().scope("mcp:read").sign();
    let session = raw.open_session(&token).await;
    let code = |body: &str| -> i64 {
        let error: Value = serde_json::from_str(body).unwrap();
        assert_eq!(error["jsonrpc"], "2.0");
        assert_eq!(error["id"], Value::Null);
        error["error"]["code"].as_i64().unwrap()
    };
    for body in [
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami","name":"transfer","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"transfer","name":"whoami","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"ping","method":"tools/call","params":{"name":"transfer","arguments":{}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"},"params":{"name":"transfer"}}"#,
        "not json",
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call""#,
    ] {
        let (status, _, answer) = raw.post(&token, Some(&session), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(code(&answer), -32700, "{body}");
    }
    for body in [
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":["transfer"]}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":7}"#,
        r#"[]"#,
        r#"42"#,
    ] {
        let (status, _, answer) = raw.post(&token, Some(&session), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(code(&answer), -32600, "{body}");
    }
    // The session still works for a well-formed call.
    let (status, _, body) = raw.post(&token, Some(&session), WHOAMI).await;
    assert_eq!(status, 200, "{body}");
    f.stop().await;
}

#[tokio::test]
async fn every_request_step_up_and_a_smaller_body_limit() {
    let f = Fixture::start_with(|tools| {
        tools
            .every_request_step_up(RequireUserAuthentication::max_age(Duration::from_secs(600)))
            .max_body_bytes(1024)
    })
    .await;
    // No recent login: even initialize is refused with the step-up challenge.
    let stale = f
        .user()
        .scope("mcp:read")
        .authenticated_secs_ago(3600)
        .sign();
    let err = init_error(f.connect(Some(&stale)).await, "initialized without step-up");
    let challenge = err.auth_challenge().unwrap().to_owned();
    assert_eq!(
        param(&challenge, "error"),
        Some("insufficient_user_authentication")
    );
    assert_eq!(param(&challenge, "max_age"), Some("600"));
    // A recent login: initialize and whoami.
    let fresh = f.user().scope("mcp:read").authenticated_secs_ago(5).sign();
    let client = f.connect(Some(&fresh)).await.unwrap();
    assert_eq!(
        text_json(&call(&client, "whoami").await)["sub"],
        "auth0|alice"
    );
    client.cancel().await.ok();

    // The smaller limit: 1 KiB passes, one byte more is 413.
    let raw = f.raw();
    let session = raw.open_session(&fresh).await;
    let pad = |len: usize| format!("{WHOAMI:<len$}");
    let (status, _, body) = raw.post(&fresh, Some(&session), &pad(1024)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("auth0|alice"), "{body}");
    let (status, _, _) = raw.post(&fresh, Some(&session), &pad(1025)).await;
    assert_eq!(status, 413);
    f.stop().await;
}
