//! The seed's first two scenarios, end to end on the embedded dev tenant:
//!
//! 1. An intermediary API (an MCP server) receives an Auth0 access token for itself, verifies it,
//!    exchanges it **on behalf of** the same user for a token aimed at a downstream calendar API
//!    (RFC 8693), and calls that API with it.
//! 2. The calendar API verifies the token and reads the `act` claim: the current actor (for
//!    authorisation) and the delegation chain (for audit).
//!
//! Run: `cargo run -p auth0-api --example on_behalf_of`

use std::net::SocketAddr;

use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::{ApiClient, ApiClientOptions, Error, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::json;

const MCP_AUDIENCE: &str = "https://mcp-server.example.com";
const CALENDAR_AUDIENCE: &str = "https://calendar-api.example.com";
const MCP_CLIENT_ID: &str = "mcp_server_client_id";
const MCP_CLIENT_SECRET: &str = "mcp-server-secret";

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let tenant = DevTenant::builder()
        .client(MCP_CLIENT_ID, MCP_CLIENT_SECRET, [CALENDAR_AUDIENCE])
        .start()
        .await?;
    println!("dev tenant at {}", tenant.issuer());

    // The calendar API: verifies the token, then authorises on the current actor.
    let calendar = ApiClient::new(
        ApiClientOptions::builder()
            .domain(tenant.domain())
            .audience(CALENDAR_AUDIENCE)
            .root_ca_pem(tenant.ca_pem())
            .build()?,
    )?;
    let calendar_addr = serve_calendar(calendar).await?;

    // The MCP server: an API of its own, and a confidential client for token exchange.
    let mcp = ApiClient::new(
        ApiClientOptions::builder()
            .domain(tenant.domain())
            .audience(MCP_AUDIENCE)
            .client_id(MCP_CLIENT_ID)
            .client_secret(MCP_CLIENT_SECRET)
            .root_ca_pem(tenant.ca_pem())
            .build()?,
    )?;

    // A user's token for the MCP server (as the user's MCP client would present it).
    let incoming = tenant
        .mint()
        .sub("auth0|user123")
        .aud(json!(MCP_AUDIENCE))
        .scope("calendar:read")
        .sign();

    // Scenario 1: verify first, so invalid or mis-targeted tokens are rejected early.
    let claims = mcp.verify_access_token(&incoming).await?;
    // Pass the raw token, never the Authorization header or a "Bearer " prefix.
    let result = mcp
        .get_token_on_behalf_of(&incoming, CALENDAR_AUDIENCE, Some("calendar:read"))
        .await?;
    println!(
        "MCP server: exchanged the token of {:?} (expires in {} s, scope {:?})",
        claims.sub(),
        result.expires_in,
        result.scope
    );
    let response = reqwest::Client::new()
        .get(format!("http://{calendar_addr}/events"))
        .bearer_auth(result.access_token.expose())
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    println!(
        "calendar API answered {status}: {}",
        serde_json::to_string_pretty(&body)?
    );

    tenant.stop().await;
    if status.is_success()
        && body["current_actor"] == MCP_CLIENT_ID
        && body["user_sub"] == "auth0|user123"
    {
        Ok(())
    } else {
        Err("the calendar API did not see the user through the MCP server".into())
    }
}

/// Scenario 2, the downstream API: verify, then read the delegation.
async fn serve_calendar(client: ApiClient) -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let client = client.clone();
        async move {
            let request = VerifyRequest::from_headers(&headers)
                .method("GET")
                .url(format!("http://{addr}/events"));
            let answer: Result<_, Error> = async {
                let claims = client.verify_request(request).await?;
                // Only the outermost act.sub is the current actor: authorise on it.
                let actor = current_actor(&claims)?;
                if actor != Some(MCP_CLIENT_ID) {
                    return Ok((
                        StatusCode::FORBIDDEN,
                        axum::Json(json!({"error": "unexpected actor"})),
                    ));
                }
                // Nested actors are for audit and attribution.
                let chain = delegation_chain(&claims)?;
                Ok((
                    StatusCode::OK,
                    axum::Json(json!({
                        "user_sub": claims.sub(),
                        "current_actor": actor,
                        "delegation_chain": chain,
                        "events": [{"title": "Design review"}],
                    })),
                ))
            }
            .await;
            match answer {
                Ok(ok) => ok.into_response(),
                Err(e) => (
                    StatusCode::from_u16(e.status_code()).unwrap_or(StatusCode::UNAUTHORIZED),
                    [(
                        "www-authenticate",
                        e.www_authenticate().unwrap_or_default().to_owned(),
                    )],
                    axum::Json(
                        json!({"error": e.error_code(), "error_description": e.description()}),
                    ),
                )
                    .into_response(),
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}
