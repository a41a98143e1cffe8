//! # auth0-api-rmcp
//!
//! MCP servers written with [`rmcp`], the official Rust MCP SDK, protected by Auth0 access
//! tokens through [`auth0_api_axum`]: rmcp's streamable-HTTP server is a tower service, so it
//! goes behind [`Auth0Layer`](auth0_api_axum::Auth0Layer) like any route.
//!
//! | piece | what it does |
//! |---|---|
//! | [`Caller`] | in a tool: the verified claims, the current actor and delegation chain, the raw token, [`on_behalf_of`](Caller::on_behalf_of) a downstream API |
//! | [`ToolGuardLayer`] | per-tool scopes (403 `insufficient_scope`, `scope="<all the call needs>"`) and step-up (401 `insufficient_user_authentication`, `acr_values`, `max_age`), answered over HTTP before rmcp runs the tool; bodies it cannot read unambiguously refused (400); each MCP session bound to the caller that opened it (404 for another caller) |
//! | [`auth0_api_axum::ProtectedResource`] | the resource: identifier = Auth0 API identifier = audience, its RFC 9728 document at `/.well-known/oauth-protected-resource/<path>`, its layer pointing challenges there |
//!
//! The chain, outermost first: `Auth0Layer` (401 with `resource_metadata` without a valid
//! token), [`ToolGuardLayer`] (403 / 401 step-up), rmcp's `StreamableHttpService`, whose tool
//! handlers read the [`Caller`]. The metadata document is served outside the layer.
//!
//! ## An MCP server
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use auth0_api::{ApiClient, ApiClientOptions};
//! use auth0_api_axum::{ProtectedResource, ProtectedResourceMetadata};
//! use auth0_api_rmcp::{Caller, ToolGuardLayer, tool_error};
//! use rmcp::model::{CallToolResult, ContentBlock};
//! use rmcp::transport::streamable_http_server::{
//!     StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
//! };
//! use rmcp::{ErrorData, tool, tool_router};
//! use tower_layer::Layer;
//!
//! #[derive(Clone)]
//! struct Calendar;
//!
//! #[tool_router(server_handler)]
//! impl Calendar {
//!     #[tool(description = "Who is calling")]
//!     async fn whoami(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
//!         let actor = caller.actor().map_err(|e| tool_error(&e))?;
//!         let text = format!("user {:?}, actor {actor:?}", caller.sub());
//!         Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
//!     }
//!
//!     #[tool(description = "The user's events, from the calendar API")]
//!     async fn calendar_events(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
//!         // RFC 8693 on-behalf-of: same user, `act` names this server's client.
//!         let token = caller
//!             .on_behalf_of("https://calendar.example.com", Some("calendar:read"))
//!             .await
//!             .map_err(|e| tool_error(&e))?;
//!         # let _ = &token;
//!         // ... call the calendar API with `token.access_token.expose()` ...
//!         Ok(CallToolResult::success(vec![ContentBlock::text("[]")]))
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = ApiClient::new(
//!         ApiClientOptions::builder()
//!             .domain("your-tenant.us.auth0.com")
//!             .audience("https://mcp.example.com/mcp") // the API identifier = this server's URL
//!             .client_id("MCP_SERVER_CLIENT_ID") // for on-behalf-of
//!             .client_secret("MCP_SERVER_CLIENT_SECRET")
//!             .build()?,
//!     )?;
//!     let metadata = ProtectedResourceMetadata::new("https://mcp.example.com/mcp")?
//!         .scopes_supported(["mcp:read", "calendar:read"])
//!         .dpop_from(&client);
//!     let resource = ProtectedResource::new(client, metadata)?; // checks identifier = audience
//!
//!     let mcp = StreamableHttpService::new(
//!         || Ok(Calendar),
//!         Arc::new(LocalSessionManager::default()),
//!         StreamableHttpServerConfig::default().with_allowed_hosts(["mcp.example.com"]),
//!     );
//!     let tools = ToolGuardLayer::new()
//!         .every_request_scopes(["mcp:read"])
//!         .tool_scopes("calendar_events", ["calendar:read"]);
//!     let app = axum::Router::new()
//!         .route_service("/mcp", resource.layer().layer(tools.layer(mcp)))
//!         .route_service(resource.metadata().well_known_path(), resource.metadata_service());
//!     axum::serve(tokio::net::TcpListener::bind("0.0.0.0:8080").await?, app).await?;
//!     Ok(())
//! }
//! ```
//!
//! `examples/mcp_rmcp.rs` is the complete program: run without arguments it plays every step
//! against a local dev tenant with an rmcp client (`cargo run -p auth0-api-rmcp --example
//! mcp_rmcp`); with `--domain`, `--audience` and client credentials it serves against a real
//! Auth0 tenant.

#![forbid(unsafe_code)]

mod caller;
pub mod tools;

pub use caller::{Caller, tool_error};
pub use tools::{ToolGuard, ToolGuardLayer};
