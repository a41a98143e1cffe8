//! `auth0-api demo`: every seed scenario, end to end, on an embedded dev tenant.
//!
//! It starts the dev tenant (HTTPS on loopback), two protected APIs (an "MCP server" and a
//! "calendar API", each the `serve` whoami app on its own listener) and walks through: Bearer
//! verification, a failure with its challenge, DPoP allowed and required, `verify_dpop_proof`
//! on its own, an on-behalf-of exchange, the delegation chain, and the rejections (expired,
//! wrong audience, replayed proof). Exit 0 only if every step behaved as expected.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use auth0_api::{ApiClient, ApiClientOptions, DpopMode, VerifyRequest, act};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use serde_json::{Value, json};

const MCP_AUDIENCE: &str = "https://mcp-server.example.com";
const CALENDAR_AUDIENCE: &str = "https://calendar-api.example.com";
const MCP_CLIENT_ID: &str = "mcp-server-client";
const MCP_CLIENT_SECRET: &str = "mcp-server-secret";

struct Report {
    color: bool,
    passed: usize,
    failed: usize,
}

impl Report {
    fn section(&self, title: &str) {
        if self.color {
            println!("\n\x1b[1m{title}\x1b[0m");
        } else {
            println!("\n{title}");
        }
    }

    fn check(&mut self, ok: bool, what: &str, detail: impl std::fmt::Display) {
        let mark = match (ok, self.color) {
            (true, true) => "\x1b[32m✓\x1b[0m",
            (false, true) => "\x1b[31m✗\x1b[0m",
            (true, false) => "ok  ",
            (false, false) => "FAIL",
        };
        println!("  {mark} {what}");
        let detail = detail.to_string();
        if !detail.is_empty() {
            println!("      {detail}");
        }
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
    }
}

/// A protected API on a loopback listener; returns its base URL.
async fn start_api(client: ApiClient) -> Result<String, Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = crate::serve::router(client, &url)?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

fn client(
    tenant: &DevTenant,
    audience: &str,
    mode: DpopMode,
    exchange: bool,
) -> Result<ApiClient, auth0_api::Error> {
    let mut b = ApiClientOptions::builder()
        .domain(tenant.domain())
        .audience(audience)
        .dpop_mode(mode)
        .root_ca_pem(tenant.ca_pem());
    if exchange {
        b = b.client_id(MCP_CLIENT_ID).client_secret(MCP_CLIENT_SECRET);
    }
    ApiClient::new(b.build()?)
}

async fn call(
    http: &reqwest::Client,
    url: &str,
    authorization: Option<String>,
    dpop: Option<String>,
) -> Result<(u16, Option<String>, Value), Box<dyn std::error::Error>> {
    let mut req = http.get(url);
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    if let Some(p) = dpop {
        req = req.header("dpop", p);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.json().await.unwrap_or(Value::Null);
    Ok((status, challenge, body))
}

/// [`call`] with a Bearer token and no proof.
async fn call_bearer(
    http: &reqwest::Client,
    url: &str,
    token: &str,
) -> Result<(u16, Option<String>, Value), Box<dyn std::error::Error>> {
    call(http, url, Some(format!("Bearer {token}")), None).await
}

pub(crate) async fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    let mut r = Report {
        color: std::io::stdout().is_terminal(),
        passed: 0,
        failed: 0,
    };
    println!(
        "auth0-api demo: an embedded Auth0-compatible dev tenant, two protected APIs, every scenario."
    );
    let tenant = DevTenant::builder()
        .client(
            MCP_CLIENT_ID,
            MCP_CLIENT_SECRET,
            [CALENDAR_AUDIENCE, MCP_AUDIENCE],
        )
        .start()
        .await?;
    println!(
        "dev tenant: {} (CA {})",
        tenant.issuer(),
        tenant.ca_path().display()
    );
    let http = reqwest::Client::new();

    // 1. Bearer verification.
    r.section("1. Validate a Bearer token (verify_access_token)");
    let mcp = client(&tenant, MCP_AUDIENCE, DpopMode::Allowed, true)?;
    let user_token = tenant
        .mint()
        .sub("user_123")
        .aud(json!(MCP_AUDIENCE))
        .scope("calendar:read")
        .sign();
    match mcp.verify_access_token(&user_token).await {
        Ok(c) => r.check(
            c.sub() == Some("user_123"),
            "token verified",
            format!("sub = {:?}", c.sub()),
        ),
        Err(e) => r.check(false, "token verified", e),
    }

    let mcp_url = start_api(mcp.clone()).await?;
    r.section("2. verify_request failures carry status and WWW-Authenticate");
    let (status, challenge, body) = call(&http, &format!("{mcp_url}/tools"), None, None).await?;
    r.check(
        status == 401 && challenge.as_deref() == Some(r#"Bearer realm="api", DPoP algs="ES256""#),
        "no Authorization header -> 401 with both challenges",
        format!(
            "{status} WWW-Authenticate: {}",
            challenge.unwrap_or_default()
        ),
    );
    let _ = body;
    let (status, challenge, body) =
        call_bearer(&http, &format!("{mcp_url}/tools"), &user_token).await?;
    r.check(
        status == 200,
        "Bearer request to the MCP server -> 200",
        format!("{status} {}", body["claims"]["sub"]),
    );
    let _ = challenge;

    r.section("3. DPoP allowed: a DPoP-bound token and its proof");
    let key = DpopKey::try_generate()?;
    let bound = tenant
        .mint()
        .sub("user_123")
        .aud(json!(MCP_AUDIENCE))
        .cnf_jkt(key.thumbprint())
        .sign();
    let url = format!("{mcp_url}/tools/list");
    let proof = key.proof("GET", &url, Some(&bound)).try_sign()?;
    let (status, _, body) = call(
        &http,
        &url,
        Some(format!("DPoP {bound}")),
        Some(proof.clone()),
    )
    .await?;
    r.check(
        status == 200,
        "DPoP request with a valid proof -> 200",
        format!("{status} jkt {}", key.thumbprint()),
    );
    let (status, challenge, body2) =
        call(&http, &url, Some(format!("DPoP {bound}")), Some(proof)).await?;
    r.check(
        status == 400 && body2["error"] == "invalid_dpop_proof",
        "the same proof again (replay) -> 400 invalid_dpop_proof",
        format!("{status} {}", challenge.unwrap_or_default()),
    );
    let _ = body;
    let (status, challenge, _) = call_bearer(&http, &url, &bound).await?;
    r.check(
        status == 401,
        "a DPoP-bound token sent as Bearer -> 401 invalid_token",
        format!("{status} {}", challenge.unwrap_or_default()),
    );

    r.section("4. DPoP required");
    let strict_url = start_api(client(&tenant, MCP_AUDIENCE, DpopMode::Required, false)?).await?;
    let (status, challenge, _) =
        call_bearer(&http, &format!("{strict_url}/x"), &user_token).await?;
    r.check(
        status == 401 && challenge.as_deref() == Some(r#"DPoP algs="ES256""#),
        "Bearer where DPoP is required -> 401 with the DPoP challenge",
        format!(
            "{status} WWW-Authenticate: {}",
            challenge.unwrap_or_default()
        ),
    );
    let url = format!("{strict_url}/x");
    let proof = key.proof("GET", &url, Some(&bound)).try_sign()?;
    let (status, _, _) = call(&http, &url, Some(format!("DPoP {bound}")), Some(proof)).await?;
    r.check(
        status == 200,
        "DPoP request where DPoP is required -> 200",
        status,
    );

    r.section("5. verify_dpop_proof on its own");
    let proof = key
        .proof("POST", "https://api.example.com/data", Some(&bound))
        .try_sign()?;
    match mcp
        .verify_dpop_proof(&bound, &proof, "POST", "https://api.example.com/data")
        .await
    {
        Ok(p) => r.check(
            p.jkt == key.thumbprint(),
            "proof verified, thumbprint matches",
            &p.jkt,
        ),
        Err(e) => r.check(false, "proof verified", e),
    }
    let wrong = mcp
        .verify_dpop_proof(&bound, &proof, "GET", "https://api.example.com/data")
        .await;
    r.check(
        wrong.as_ref().err().map(auth0_api::Error::description) == Some("DPoP Proof htm mismatch"),
        "wrong method -> DPoP Proof htm mismatch",
        wrong.err().map(|e| e.to_string()).unwrap_or_default(),
    );

    r.section("6. On behalf of: the MCP server calls the calendar API as the user");
    let calendar_url = start_api(client(
        &tenant,
        CALENDAR_AUDIENCE,
        DpopMode::Allowed,
        false,
    )?)
    .await?;
    match mcp
        .get_token_on_behalf_of(&user_token, CALENDAR_AUDIENCE, Some("calendar:read"))
        .await
    {
        Ok(obo) => {
            r.check(
                true,
                "token exchanged (RFC 8693, on behalf of user_123)",
                format!("expires_in {}", obo.expires_in),
            );
            let (status, _, body) = call_bearer(
                &http,
                &format!("{calendar_url}/events"),
                obo.access_token.expose(),
            )
            .await?;
            r.check(
                status == 200 && body["claims"]["sub"] == "user_123",
                "the calendar API sees the same user",
                format!("{status} sub = {}", body["claims"]["sub"]),
            );
            r.check(
                body["current_actor"] == MCP_CLIENT_ID,
                "current actor (outermost act.sub) is the MCP server",
                format!(
                    "current_actor = {}, delegation_chain = {}",
                    body["current_actor"], body["delegation_chain"]
                ),
            );
            let claims = auth0_api::ApiClient::verify_access_token(
                &client(&tenant, CALENDAR_AUDIENCE, DpopMode::Allowed, false)?,
                obo.access_token.expose(),
            )
            .await?;
            let chain = act::delegation_chain(&claims)?;
            r.check(
                chain == [MCP_CLIENT_ID],
                "delegation chain read with act::delegation_chain",
                format!("{chain:?}"),
            );
        }
        Err(e) => r.check(false, "token exchanged", e),
    }

    r.section("7. Rejections");
    let expired = tenant.mint().aud(json!(MCP_AUDIENCE)).expired().sign();
    let e = mcp.verify_access_token(&expired).await.err();
    r.check(
        e.as_ref().map(auth0_api::Error::description) == Some("Token is expired"),
        "expired token -> invalid_token",
        e.map(|e| e.to_string()).unwrap_or_default(),
    );
    let other = tenant
        .mint()
        .aud(json!("https://someone-else.example.com"))
        .sign();
    let e = mcp
        .verify_request(VerifyRequest::from_pairs([(
            "authorization",
            format!("Bearer {other}"),
        )]))
        .await
        .err();
    r.check(
        e.as_ref().map(auth0_api::Error::status_code) == Some(401),
        "wrong audience -> 401 with challenge",
        e.and_then(|e| e.www_authenticate().map(str::to_owned))
            .unwrap_or_default(),
    );

    tenant.stop().await;
    println!("\n{} passed, {} failed", r.passed, r.failed);
    Ok(if r.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
