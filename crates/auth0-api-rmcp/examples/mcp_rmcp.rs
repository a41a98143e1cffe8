//! An MCP server on the official rmcp SDK, protected by Auth0, acting on behalf of its user.
//!
//! ```text
//! cargo run -p auth0-api-rmcp --example mcp_rmcp
//! ```
//!
//! Without arguments everything runs on loopback and is checked: a local Auth0-compatible dev
//! tenant, one process with two protected resources (the MCP server at `/mcp`, a calendar API at
//! `/calendar`, each with its own API identifier, scopes and RFC 9728 document at its
//! path-specific address), and an rmcp **client** playing the user's MCP client:
//!
//! 1. without a token: `401` (not 403) whose `WWW-Authenticate` carries `resource_metadata`
//!    and no `error`; the client fetches that document and finds the tenant as authorization
//!    server;
//! 2. with a token for `mcp:read calendar:read`: initialize, list the tools, call `whoami`, call
//!    `calendar_events`, which exchanges the token on behalf of the user (RFC 8693) and calls
//!    the calendar API, which sees the user and the MCP server as current actor;
//! 3. with a token for `mcp:read` only: `calendar_events` is refused with `403
//!    insufficient_scope` and `scope="mcp:read calendar:read"`.
//!
//! It exits 0 only when every step behaved, within a minute. `cargo test -p auth0-api-rmcp`
//! runs it (`tests/rmcp.rs` includes this file as a module).
//!
//! Against a real Auth0 tenant (see the README section "An MCP server in Rust"):
//!
//! ```text
//! cargo run -p auth0-api-rmcp --example mcp_rmcp -- \
//!     --domain your-tenant.us.auth0.com --audience https://mcp.example.com/mcp \
//!     --client-id ... --client-secret ... --listen 127.0.0.1:8080
//! ```
//!
//! serves the same two resources; `--calendar-audience` names the calendar API (by default
//! the audience's origin followed by `/calendar`), `--root-ca PEM_FILE` adds a root CA for the
//! tenant's HTTPS (a private tenant, or the dev tenant: `tests/rmcp.rs` serves this way against
//! one).

use std::error::Error;
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auth0_api::{ApiClient, ApiClientOptions};
use auth0_api_axum::{Actor, Authenticated, ProtectedResource, ProtectedResourceMetadata};
use auth0_api_axum::{AuthRejection, Forbidden, RequireScopes};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_rmcp::{Caller, ToolGuardLayer, tool_error};
use axum::routing::get;
use axum::{Json, Router};
use clap::Parser;
use rmcp::model::{CallToolRequestParams, CallToolResult, ContentBlock};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, ServiceExt, tool, tool_router};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tower_layer::Layer;

type BoxError = Box<dyn Error + Send + Sync>;

/// The MCP server's Auth0 application in the dev tenant (allowed to exchange tokens).
const DEV_CLIENT_ID: &str = "mcp-server";
const DEV_CLIENT_SECRET: &str = "mcp-server-secret";

/// How long the demo's client may take for all its steps.
const DEMO_TIMEOUT: Duration = Duration::from_secs(60);

/// The largest `--root-ca` file read.
const MAX_ROOT_CA_BYTES: u64 = 1024 * 1024;

/// Serve against a real tenant, or (no arguments) play every step on a local dev tenant.
#[derive(Parser, Debug)]
pub(crate) struct Args {
    /// The Auth0 tenant's domain (`your-tenant.us.auth0.com`); without it, the dev-tenant demo.
    #[arg(long, env = "AUTH0_DOMAIN")]
    domain: Option<String>,
    /// The MCP server's API identifier, which is its public URL (`https://mcp.example.com/mcp`).
    #[arg(long, env = "AUTH0_AUDIENCE")]
    audience: Option<String>,
    /// The calendar API's identifier (default: the audience's origin + `/calendar`).
    #[arg(long)]
    calendar_audience: Option<String>,
    /// The MCP server's client id (an application with the token-exchange grant).
    #[arg(long, env = "AUTH0_CLIENT_ID")]
    client_id: Option<String>,
    /// Its client secret.
    #[arg(long, env = "AUTH0_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// A PEM file of root CAs trusted for the tenant's HTTPS, besides the system's.
    #[arg(long, value_name = "PEM_FILE")]
    root_ca: Option<PathBuf>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
}

/// What the server needs to know.
pub(crate) struct Config {
    domain: String,
    mcp_resource: String,
    calendar_resource: String,
    client_id: String,
    client_secret: String,
    /// A CA (the dev tenant's, or `--root-ca`), trusted in addition to the system roots.
    root_ca: Option<String>,
    /// Where the MCP server reaches the calendar API (the same process).
    calendar_events_url: String,
    /// Host names the MCP transport accepts (rmcp's DNS-rebinding protection).
    allowed_hosts: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    if args.domain.is_none() && args.audience.is_none() {
        return demo().await;
    }
    let listener = TcpListener::bind(args.listen).await?;
    serve(&args, listener).await
}

/// Serves against the tenant the flags name, on `listener`.
pub(crate) async fn serve(args: &Args, listener: TcpListener) -> Result<(), BoxError> {
    let listen = listener.local_addr()?;
    let config = serve_config(args, listen)?;
    let app = app(&config)?;
    println!(
        "MCP server    {} (listening on {listen})",
        config.mcp_resource
    );
    axum::serve(listener, app).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The MCP server: two tools, each reading the verified caller.

#[derive(Clone)]
struct CalendarMcp {
    http: reqwest::Client,
    calendar_resource: Arc<str>,
    calendar_events_url: Arc<str>,
}

#[tool_router(server_handler)]
impl CalendarMcp {
    /// Scope `mcp:read`, as every MCP request here.
    #[tool(description = "The signed-in user, the current actor and the token's scopes")]
    async fn whoami(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
        let actor = caller.actor().map_err(|e| tool_error(&e))?;
        let me = json!({
            "user": caller.sub(),
            "actor": actor,
            "scope": caller.verified().scope(),
        });
        Ok(CallToolResult::success(vec![ContentBlock::text(
            me.to_string(),
        )]))
    }

    /// Scope `calendar:read` (and `mcp:read`): calls the calendar API on behalf of the user.
    #[tool(description = "The signed-in user's calendar events")]
    async fn calendar_events(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
        let token = caller
            .on_behalf_of(&self.calendar_resource, Some("calendar:read"))
            .await
            .map_err(|e| tool_error(&e))?;
        let response = self
            .http
            .get(&*self.calendar_events_url)
            .bearer_auth(token.access_token.expose())
            .send()
            .await
            .map_err(|e| ErrorData::internal_error(format!("calendar API: {e}"), None))?;
        if !response.status().is_success() {
            let message = format!("calendar API answered {}", response.status());
            return Ok(CallToolResult::error(vec![ContentBlock::text(message)]));
        }
        let events: Value = response
            .json()
            .await
            .map_err(|e| ErrorData::internal_error(format!("calendar API: {e}"), None))?;
        Ok(CallToolResult::success(vec![ContentBlock::text(
            events.to_string(),
        )]))
    }
}

/// The calendar API: `GET /calendar/events`, scope `calendar:read`, and only the MCP server
/// (`mcp_client_id`) as the current actor.
async fn calendar_events(
    mcp_client_id: Arc<str>,
    auth: Authenticated,
    actor: Actor,
) -> Result<Json<Value>, AuthRejection> {
    // Authorize on the current actor only; the rest of the chain is for the audit log.
    if actor.current.as_deref() != Some(&*mcp_client_id) {
        return Err(
            Forbidden::new("Only the MCP server may act for the user here")
                .into_error(None, auth.scheme)
                .into(),
        );
    }
    Ok(Json(json!({
        "user": auth.sub(),
        "current_actor": actor.current,
        "delegation_chain": actor.chain,
        "events": [
            {"start": "2026-03-02T09:00:00Z", "title": "Stand-up"},
            {"start": "2026-03-02T14:00:00Z", "title": "Design review"},
        ],
    })))
}

/// The two resources and their documents.
pub(crate) fn app(config: &Config) -> Result<Router, BoxError> {
    let client = |audience: &str, credentials: bool| -> Result<ApiClient, auth0_api::Error> {
        let mut options = ApiClientOptions::builder()
            .domain(&config.domain)
            .audience(audience);
        if let Some(ca) = &config.root_ca {
            options = options.root_ca_pem(ca);
        }
        if credentials {
            options = options
                .client_id(&config.client_id)
                .client_secret(&config.client_secret);
        }
        ApiClient::new(options.build()?)
    };

    // The MCP server: identifier = its URL = the audience of its tokens.
    let mcp_client = client(&config.mcp_resource, true)?;
    let mcp_metadata = ProtectedResourceMetadata::new(&config.mcp_resource)?
        .scopes_supported(["mcp:read", "calendar:read"])
        .dpop_from(&mcp_client)
        .resource_name("Calendar MCP server");
    let mcp = ProtectedResource::new(mcp_client, mcp_metadata)?;

    // The calendar API: its own identifier, scopes and document.
    let calendar_client = client(&config.calendar_resource, false)?;
    let calendar_metadata = ProtectedResourceMetadata::new(&config.calendar_resource)?
        .scopes_supported(["calendar:read"])
        .resource_name("Calendar API");
    let calendar = ProtectedResource::new(calendar_client, calendar_metadata)?;

    let server = CalendarMcp {
        http: reqwest::Client::new(),
        calendar_resource: config.calendar_resource.as_str().into(),
        calendar_events_url: config.calendar_events_url.as_str().into(),
    };
    let rmcp_service = StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default().with_allowed_hosts(config.allowed_hosts.clone()),
    );
    let tools = ToolGuardLayer::new()
        .every_request_scopes(["mcp:read"])
        .tool_scopes("calendar_events", ["calendar:read"]);
    let mcp_path = path_of(&config.mcp_resource)?;
    let mcp_client_id: Arc<str> = config.client_id.as_str().into();

    let calendar_routes = Router::new()
        .route(
            "/calendar/events",
            get(move |auth, actor| calendar_events(mcp_client_id, auth, actor)),
        )
        .route_layer(RequireScopes::all(["calendar:read"]))
        .layer(calendar.layer());
    Ok(Router::new()
        .route_service(&mcp_path, mcp.layer().layer(tools.layer(rmcp_service)))
        .merge(calendar_routes)
        .route_service(mcp.metadata().well_known_path(), mcp.metadata_service())
        .route_service(
            calendar.metadata().well_known_path(),
            calendar.metadata_service(),
        ))
}

/// The path of a resource URL (`/mcp`).
fn path_of(resource: &str) -> Result<String, BoxError> {
    let uri: http::Uri = resource.parse()?;
    Ok(match uri.path() {
        "" => "/".to_owned(),
        path => path.to_owned(),
    })
}

/// The configuration for serving against a real tenant, the server listening on `listen`.
pub(crate) fn serve_config(args: &Args, listen: SocketAddr) -> Result<Config, BoxError> {
    let (Some(domain), Some(audience)) = (&args.domain, &args.audience) else {
        return Err("give both --domain and --audience, or neither for the dev-tenant demo".into());
    };
    let uri: http::Uri = audience.parse()?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err("--audience must be the MCP server's absolute URL".into());
    };
    let origin = format!("{scheme}://{authority}");
    let (Some(client_id), Some(client_secret)) = (&args.client_id, &args.client_secret) else {
        return Err("--client-id and --client-secret are needed for on-behalf-of calls".into());
    };
    let root_ca = match &args.root_ca {
        Some(path) => Some(read_root_ca(path)?),
        None => None,
    };
    Ok(Config {
        domain: domain.to_owned(),
        mcp_resource: audience.to_owned(),
        calendar_resource: args
            .calendar_audience
            .clone()
            .unwrap_or_else(|| format!("{origin}/calendar")),
        client_id: client_id.clone(),
        client_secret: client_secret.clone(),
        root_ca,
        calendar_events_url: format!("http://{listen}/calendar/events"),
        allowed_hosts: vec![authority.host().to_owned(), authority.as_str().to_owned()],
    })
}

/// The PEM text of `--root-ca` (at most [`MAX_ROOT_CA_BYTES`]).
fn read_root_ca(path: &std::path::Path) -> Result<String, BoxError> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("--root-ca {}: {e}", path.display()))?;
    let mut pem = String::new();
    file.take(MAX_ROOT_CA_BYTES + 1)
        .read_to_string(&mut pem)
        .map_err(|e| format!("--root-ca {}: {e}", path.display()))?;
    if pem.len() as u64 > MAX_ROOT_CA_BYTES {
        return Err(format!(
            "--root-ca {}: larger than {MAX_ROOT_CA_BYTES} bytes",
            path.display()
        )
        .into());
    }
    Ok(pem)
}

// ---------------------------------------------------------------------------------------------
// The demo: a dev tenant, the server, and an rmcp client checking every step.

/// The dev-tenant demo: every step checked, within [`DEMO_TIMEOUT`].
pub(crate) async fn demo() -> Result<(), BoxError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let origin = format!("http://{addr}");
    let mcp_resource = format!("{origin}/mcp");
    let calendar_resource = format!("{origin}/calendar");
    let tenant = DevTenant::builder()
        .client(
            DEV_CLIENT_ID,
            DEV_CLIENT_SECRET,
            [calendar_resource.as_str()],
        )
        .start()
        .await?;
    println!("dev tenant    {}", tenant.issuer());
    let config = Config {
        domain: tenant.domain().to_owned(),
        mcp_resource: mcp_resource.clone(),
        calendar_resource,
        client_id: DEV_CLIENT_ID.to_owned(),
        client_secret: DEV_CLIENT_SECRET.to_owned(),
        root_ca: Some(tenant.ca_pem().to_owned()),
        calendar_events_url: format!("{origin}/calendar/events"),
        allowed_hosts: vec!["127.0.0.1".to_owned()],
    };
    let app = app(&config)?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    println!("MCP server    {mcp_resource}");

    let outcome =
        match tokio::time::timeout(DEMO_TIMEOUT, play_the_user(&tenant, &mcp_resource)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("the client's steps took more than {DEMO_TIMEOUT:?}").into()),
        };
    server.abort();
    tenant.stop().await;
    match &outcome {
        Ok(()) => println!("every step behaved"),
        Err(e) => println!("FAILED: {e}"),
    }
    outcome
}

/// Connects an rmcp client with this `Authorization: Bearer` token (or none).
async fn connect(
    url: &str,
    token: Option<&str>,
) -> Result<rmcp::service::RunningService<rmcp::RoleClient, ()>, rmcp::service::ClientInitializeError>
{
    let mut config = StreamableHttpClientTransportConfig::with_uri(url);
    if let Some(token) = token {
        config = config.auth_header(token);
    }
    ().serve(StreamableHttpClientTransport::from_config(config))
        .await
}

/// The text of a tool result's first content.
fn text_of(result: &CallToolResult) -> Option<String> {
    result
        .content
        .first()
        .and_then(|c| c.as_text())
        .map(|t| t.text.clone())
}

/// The value of `name="..."` in a `WWW-Authenticate` value.
fn param<'a>(challenge: &'a str, name: &str) -> Option<&'a str> {
    challenge
        .split(&format!("{name}=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
}

async fn play_the_user(tenant: &DevTenant, mcp: &str) -> Result<(), BoxError> {
    // 1. No token: 401 (not 403) without an error code, and the document the challenge points
    // at names the authorization server.
    let challenge = match connect(mcp, None).await {
        Ok(_) => return Err("the server accepted a client without a token".into()),
        Err(e) if !e.is_authorization_required() => {
            return Err(format!("no token: not a 401: {e}").into());
        }
        Err(e) => e
            .auth_challenge()
            .ok_or_else(|| format!("no 401 challenge: {e}"))?
            .to_owned(),
    };
    println!("client        no token: 401 {challenge}");
    if param(&challenge, "error").is_some() {
        return Err("the 401 without a token names an error".into());
    }
    let metadata_url = param(&challenge, "resource_metadata").ok_or("no resource_metadata")?;
    let metadata: Value = reqwest::get(metadata_url).await?.json().await?;
    println!("client        {metadata_url}: {metadata}");
    if metadata["resource"] != mcp || metadata["authorization_servers"][0] != tenant.issuer() {
        return Err("the metadata does not name this resource and the tenant".into());
    }

    // 2. The user's token (as the tenant issues it to the MCP client after login).
    let user = "auth0|user123";
    let full = tenant
        .mint()
        .sub(user)
        .aud(json!(mcp))
        .scope("mcp:read calendar:read")
        .claim("azp", json!("mcp-client"))
        .sign();
    let client = connect(mcp, Some(&full)).await?;
    let tools: Vec<String> = client
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    println!("client        tools: {tools:?}");
    if !tools.iter().any(|t| t == "whoami") || !tools.iter().any(|t| t == "calendar_events") {
        return Err("tools missing from tools/list".into());
    }
    let me = client
        .call_tool(CallToolRequestParams::new("whoami"))
        .await?;
    let me: Value = serde_json::from_str(&text_of(&me).ok_or("whoami: no text")?)?;
    println!("client        whoami: {me}");
    if me["user"] != user {
        return Err("whoami named the wrong user".into());
    }
    let events = client
        .call_tool(CallToolRequestParams::new("calendar_events"))
        .await?;
    let text = text_of(&events).ok_or("calendar_events: no text")?;
    if events.is_error == Some(true) {
        return Err(format!("calendar_events failed: {text}").into());
    }
    let events: Value = serde_json::from_str(&text)?;
    println!("downstream    {events}");
    if events["user"] != user || events["current_actor"] != DEV_CLIENT_ID {
        return Err("the calendar API saw the wrong user or actor".into());
    }
    client.cancel().await?;

    // 3. A token without calendar:read: 403 naming every scope the call needs.
    let narrow = tenant
        .mint()
        .sub(user)
        .aud(json!(mcp))
        .scope("mcp:read")
        .sign();
    let client = connect(mcp, Some(&narrow)).await?;
    let refused = client
        .call_tool(CallToolRequestParams::new("calendar_events"))
        .await;
    let challenge = match &refused {
        Ok(_) => return Err("calendar_events ran without calendar:read".into()),
        Err(e) => e
            .auth_challenge()
            .ok_or_else(|| format!("no 403 challenge: {e}"))?
            .to_owned(),
    };
    println!("client        mcp:read only: 403 {challenge}");
    if param(&challenge, "error") != Some("insufficient_scope")
        || param(&challenge, "scope") != Some("mcp:read calendar:read")
        || param(&challenge, "resource_metadata") != Some(metadata_url)
    {
        return Err("the 403 challenge does not name the scopes and the metadata".into());
    }
    client.cancel().await.ok();
    Ok(())
}
