//! An MCP-style server that acts on behalf of its user against a downstream API.
//!
//! ```text
//! cargo run -p auth0-api-axum --example mcp_server
//! ```
//!
//! Everything runs on loopback: a local Auth0-compatible dev tenant, a "calendar" API and an MCP
//! server, both protected by [`Auth0Layer`]. Then a client plays the user's MCP client:
//!
//! 1. it calls the MCP server without a token, gets `401` with
//!    `WWW-Authenticate: ... resource_metadata="..."`, and reads the RFC 9728 document there to
//!    find the authorization server;
//! 2. with the user's access token (minted by the dev tenant, as Auth0 would issue it after
//!    login), it calls the `list_events` tool;
//! 3. the MCP server exchanges that token on behalf of the user (RFC 8693) for a calendar token
//!    and calls the calendar API, which checks the scope and that the MCP server is the current
//!    actor, and answers with the user's events.
//!
//! With a real tenant, use your domain instead of the dev tenant's (and no extra root CA), and a
//! token your MCP client obtained instead of a minted one.

use std::error::Error;
use std::net::SocketAddr;

use auth0_api::{ApiClient, ApiClientOptions};
use auth0_api_axum::{
    AccessToken, Actor, Auth0Layer, AuthContext, AuthRejection, Authenticated,
    ProtectedResourceMetadata, RequireScopes,
};
use auth0_api_dev_tenant::DevTenant;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The MCP server's API identifier: the audience of the tokens it accepts.
const MCP_AUDIENCE: &str = "https://mcp.example.com";
/// The downstream API's identifier.
const CALENDAR_AUDIENCE: &str = "https://calendar.example.com";
/// The MCP server's Auth0 application: a confidential client allowed to exchange tokens.
const MCP_CLIENT_ID: &str = "mcp-server";
const MCP_CLIENT_SECRET: &str = "mcp-server-secret";

type BoxError = Box<dyn Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let tenant = DevTenant::builder()
        .client(MCP_CLIENT_ID, MCP_CLIENT_SECRET, [CALENDAR_AUDIENCE])
        .start()
        .await?;
    println!("dev tenant    {}", tenant.issuer());

    let calendar_listener = TcpListener::bind("127.0.0.1:0").await?;
    let calendar_addr = calendar_listener.local_addr()?;
    let calendar_app = calendar_api(&tenant, calendar_addr)?;
    let calendar = tokio::spawn(async move { axum::serve(calendar_listener, calendar_app).await });
    println!("calendar API  http://{calendar_addr}/events");

    let mcp_listener = TcpListener::bind("127.0.0.1:0").await?;
    let mcp_addr = mcp_listener.local_addr()?;
    let mcp_app = mcp_server(&tenant, mcp_addr, calendar_addr)?;
    let mcp = tokio::spawn(async move { axum::serve(mcp_listener, mcp_app).await });
    println!("MCP server    http://{mcp_addr}/mcp");

    let outcome = act_as_the_user(&tenant, mcp_addr).await;
    mcp.abort();
    calendar.abort();
    tenant.stop().await;
    outcome
}

/// An [`ApiClient`] for an API of the dev tenant.
fn api_client(
    tenant: &DevTenant,
    audience: &str,
    credentials: Option<(&str, &str)>,
) -> Result<ApiClient, auth0_api::Error> {
    let mut options = ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(audience)
        .root_ca_pem(tenant.ca_pem()); // the dev tenant's throwaway CA
    if let Some((id, secret)) = credentials {
        options = options.client_id(id).client_secret(secret);
    }
    ApiClient::new(options.build()?)
}

// ---------------------------------------------------------------------------------------------
// The downstream calendar API: requires `calendar:read` and accepts only the MCP server as the
// current actor.

fn calendar_api(tenant: &DevTenant, addr: SocketAddr) -> Result<Router, BoxError> {
    let client = api_client(tenant, CALENDAR_AUDIENCE, None)?;
    let auth = Auth0Layer::builder(client)
        .public_url(&format!("http://{addr}"))
        .build()?;
    Ok(Router::new()
        .route("/events", get(list_events))
        .route_layer(RequireScopes::all(["calendar:read"]))
        .layer(auth))
}

async fn list_events(auth: Authenticated, actor: Actor) -> Response {
    // Authorize on the current actor only; the rest of the chain is for the audit log.
    if actor.current.as_deref() != Some(MCP_CLIENT_ID) {
        let body = json!({"error": "access_denied", "error_description": "unexpected actor"});
        return (StatusCode::FORBIDDEN, Json(body)).into_response();
    }
    Json(json!({
        "user": auth.sub(),
        "current_actor": actor.current,
        "delegation_chain": actor.chain,
        "events": [
            {"start": "2026-03-02T09:00:00Z", "title": "Stand-up"},
            {"start": "2026-03-02T14:00:00Z", "title": "Design review"},
        ],
    }))
    .into_response()
}

// ---------------------------------------------------------------------------------------------
// The MCP server: JSON-RPC on POST /mcp, protected, advertising its authorization server with
// RFC 9728 metadata, calling the calendar API on behalf of its user.

#[derive(Clone)]
struct McpState {
    http: reqwest::Client,
    calendar_url: String,
}

fn mcp_server(
    tenant: &DevTenant,
    addr: SocketAddr,
    calendar: SocketAddr,
) -> Result<Router, BoxError> {
    let client = api_client(
        tenant,
        MCP_AUDIENCE,
        Some((MCP_CLIENT_ID, MCP_CLIENT_SECRET)),
    )?;
    let public_url = format!("http://{addr}");
    let metadata = ProtectedResourceMetadata::new(format!("{public_url}/mcp"))?
        .authorization_server(tenant.issuer())
        .scopes_supported(["tools:call"])
        .dpop_from(&client)
        .resource_name("Calendar MCP server");
    let auth = Auth0Layer::builder(client)
        .public_url(&public_url)
        .resource_metadata(metadata.metadata_url())
        .build()?;
    let state = McpState {
        http: reqwest::Client::new(),
        calendar_url: format!("http://{calendar}/events"),
    };
    Ok(Router::new()
        .route("/mcp", post(mcp))
        .route_layer(RequireScopes::all(["tools:call"]))
        .layer(auth)
        .route_service(metadata.well_known_path(), metadata.service())
        .with_state(state))
}

/// One JSON-RPC request: `tools/list` or `tools/call` of `list_events`.
async fn mcp(
    State(state): State<McpState>,
    context: AuthContext,
    auth: Authenticated,
    token: AccessToken,
    Json(request): Json<Value>,
) -> Result<Json<Value>, AuthRejection> {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let method = request.get("method").and_then(Value::as_str);
    let tool = request.pointer("/params/name").and_then(Value::as_str);
    let result = match (method, tool) {
        (Some("tools/list"), _) => json!({"tools": [{
            "name": "list_events",
            "description": "The signed-in user's calendar events",
            "inputSchema": {"type": "object"},
        }]}),
        (Some("tools/call"), Some("list_events")) => {
            // Exchange the caller's token for one the calendar API accepts, for the same user.
            let exchanged = context
                .client()
                .get_token_on_behalf_of(token.expose(), CALENDAR_AUDIENCE, Some("calendar:read"))
                .await?;
            let answer = state
                .http
                .get(&state.calendar_url)
                .bearer_auth(exchanged.access_token.expose())
                .send()
                .await;
            match answer {
                Ok(response) if response.status().is_success() => {
                    let events: Value = response.json().await.unwrap_or(Value::Null);
                    json!({"content": [{"type": "text", "text": events.to_string()}]})
                }
                Ok(response) => tool_error(format!("calendar API answered {}", response.status())),
                Err(e) => tool_error(format!("calendar API unreachable: {e}")),
            }
        }
        _ => {
            return Ok(Json(json!({
                "jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": "unknown method or tool"},
            })));
        }
    };
    println!(
        "MCP server    {} for user {:?}",
        method.unwrap_or_default(),
        auth.sub()
    );
    Ok(Json(json!({"jsonrpc": "2.0", "id": id, "result": result})))
}

fn tool_error(message: String) -> Value {
    json!({"isError": true, "content": [{"type": "text", "text": message}]})
}

// ---------------------------------------------------------------------------------------------
// The user's MCP client.

async fn act_as_the_user(tenant: &DevTenant, mcp: SocketAddr) -> Result<(), BoxError> {
    let http = reqwest::Client::new();
    let mcp_url = format!("http://{mcp}/mcp");
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "list_events", "arguments": {}},
    });

    // 1. Discovery: no token yet.
    let response = http.post(&mcp_url).json(&call).send().await?;
    let challenge = response
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    println!("client        no token: {} {challenge}", response.status());
    let metadata_url = challenge
        .split("resource_metadata=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or("no resource_metadata in the challenge")?;
    let metadata: Value = http.get(metadata_url).send().await?.json().await?;
    println!(
        "client        authorization server: {}",
        metadata["authorization_servers"][0]
    );

    // 2. The user's token, as the authorization server would issue it to the MCP client.
    let user_token = tenant
        .mint()
        .sub("auth0|user123")
        .aud(json!(MCP_AUDIENCE))
        .scope("tools:call")
        .claim("azp", json!("mcp-client"))
        .sign();

    // 3. The tool call.
    let response = http
        .post(&mcp_url)
        .bearer_auth(&user_token)
        .json(&call)
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await?;
    let text = answer
        .pointer("/result/content/0/text")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("unexpected answer {status}: {answer}"))?;
    if answer.pointer("/result/isError") == Some(&Value::Bool(true)) {
        return Err(format!("the tool failed: {text}").into());
    }
    let events: Value = serde_json::from_str(text)?;
    println!("downstream    {}", serde_json::to_string_pretty(&events)?);
    if events["current_actor"] != MCP_CLIENT_ID || events["user"] != "auth0|user123" {
        return Err("the calendar API saw the wrong user or actor".into());
    }
    Ok(())
}
