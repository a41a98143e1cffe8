//! Forward-auth mode: the sub-request endpoint of nginx `auth_request`, Traefik `forwardAuth`
//! and Envoy `ext_authz` (HTTP). Answers 200 with the identity headers, or the library's
//! 401/403 with its challenge.
//!
//! The original request is read from, in order:
//! - `X-Original-Method` / `X-Original-URI` (nginx: `proxy_set_header X-Original-URI
//!   $request_uri;`);
//! - `X-Forwarded-Method` / `X-Forwarded-Uri` (Traefik);
//! - the sub-request itself (Envoy forwards the original method and path).
//!
//! The origin for DPoP's `htu` is the `public_url` when configured, else `X-Forwarded-Proto`
//! and `X-Forwarded-Host` (nginx, Traefik) when both are present, else `http://` + `Host`.
//!
//! Refusals are the library's answers (`WWW-Authenticate`, `DPoP-Nonce`, JSON body), except
//! that a `400` (`invalid_request`, `invalid_dpop_proof`) is answered `401`: nginx turns any
//! sub-request status other than 2xx, 401 and 403 into a 500 and drops the challenge, and
//! Traefik and Envoy pass 401 on as they pass 400. Server-side failures (5xx) keep their
//! status.
//!
//! Those headers are believed only from `trusted_proxies`. A request from any other peer that
//! carries one of them is **refused** (403 `untrusted_proxy`), never evaluated without them: a
//! check of a different method or URL than the client's would authorize the wrong thing.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::{Request, StatusCode};

use super::App;
use super::gate::{Decision, log, own_error};
use super::trust::first_value;

/// The headers that describe the original request.
const FORWARDING: [&str; 6] = [
    "x-original-method",
    "x-original-uri",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// Every request of forward-auth mode.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let started = Instant::now();
    let (parts, _body) = request.into_parts();
    let headers = &parts.headers;
    let forwarded = FORWARDING.iter().any(|h| headers.contains_key(*h));
    if forwarded && !app.trusted.contains(peer.ip()) {
        tracing::warn!(peer = %peer.ip(), "forwarding headers from an untrusted peer refused");
        app.metrics.request("untrusted_proxy", started.elapsed());
        return own_error(
            StatusCode::FORBIDDEN,
            "untrusted_proxy",
            "Forwarding headers are accepted from trusted proxies only",
        );
    }
    let method = first_value(headers, "x-original-method")
        .or_else(|| first_value(headers, "x-forwarded-method"))
        .unwrap_or(parts.method.as_str())
        .to_owned();
    let own = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let target = headers
        .get("x-original-uri")
        .or_else(|| headers.get("x-forwarded-uri"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or(own)
        .to_owned();
    if !target.starts_with('/') {
        app.metrics.request("invalid_request", started.elapsed());
        return own_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "The original URI must be a path",
        );
    }
    let path = target.split(['?', '#']).next().unwrap_or("/").to_owned();
    let url = app.request_url(headers, peer, &target);
    let trusted_peer = app.trusted.contains(peer.ip());
    let decision = app
        .gate
        .decide(&method, url, &path, headers, trusted_peer)
        .await;
    let (response, outcome, sub) = match decision {
        Decision::Refused(mut response, code) => {
            if response.status() == StatusCode::BAD_REQUEST {
                *response.status_mut() = StatusCode::UNAUTHORIZED;
            }
            (response, code, None)
        }
        Decision::Public => (Response::new(Body::empty()), "public".to_owned(), None),
        Decision::Allowed {
            identity,
            nonce,
            sub,
        } => {
            let mut response = Response::new(Body::empty());
            let h = response.headers_mut();
            for (name, value) in identity {
                h.insert(name, value);
            }
            if let Some(nonce) = nonce {
                h.insert(auth0_api_axum::DPOP_NONCE, nonce);
            }
            (response, "ok".to_owned(), sub)
        }
    };
    app.metrics.request(&outcome, started.elapsed());
    log(
        &method,
        &path,
        response.status().as_u16(),
        &outcome,
        sub.as_deref(),
        started,
    );
    response
}
