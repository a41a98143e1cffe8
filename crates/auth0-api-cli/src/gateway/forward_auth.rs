//! Forward-auth mode: the sub-request endpoint of nginx `auth_request`, Traefik `forwardAuth`
//! and Envoy `ext_authz` (HTTP). Answers 200 with the identity headers, or the library's
//! 401/403 with its challenge.
//!
//! The original method and URI are read from **one** family of headers, never a mix (a client's
//! own `X-Forwarded-Method` passed on by nginx must not change the method checked):
//! - if any `X-Original-*` header is present, `X-Original-Method` / `X-Original-URI` (nginx:
//!   `proxy_set_header X-Original-URI $request_uri;`) and nothing of `X-Forwarded-Method` /
//!   `X-Forwarded-Uri`;
//! - else, if either is present, `X-Forwarded-Method` / `X-Forwarded-Uri` (Traefik);
//! - else the sub-request itself (Envoy forwards the original method and path).
//!
//! In the family chosen, the URI header is required and the method header optional (the
//! sub-request's method otherwise); each must be one readable line (visible ASCII; the method a
//! token). A header that is present but repeated, empty or unreadable is refused, never skipped
//! for the next source: falling back would judge this endpoint's own path (`/auth`) instead.
//!
//! The origin for DPoP's `htu` is the `public_url` when configured, else `X-Forwarded-Proto`
//! and `X-Forwarded-Host` (nginx, Traefik) when both are present, else `http://` + `Host`.
//!
//! Refusals are the library's answers (`WWW-Authenticate`, `DPoP-Nonce`, JSON body), except
//! that a `400` is answered `401`: the library's (`invalid_request`, `invalid_dpop_proof`) and
//! the gateway's own `invalid_request` for an unreadable original request or a path not in
//! normal form ([`super::routes`]). nginx turns any sub-request status other than 2xx, 401 and
//! 403 into a 500 and drops the challenge, and Traefik and Envoy pass 401 on as they pass 400.
//! Server-side failures (5xx) keep their status.
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
use http::{HeaderMap, Request, StatusCode};

use super::App;
use super::gate::{Decision, log, own_error};

/// The headers that describe the original request.
const FORWARDING: [&str; 6] = [
    "x-original-method",
    "x-original-uri",
    "x-forwarded-method",
    "x-forwarded-uri",
    "x-forwarded-host",
    "x-forwarded-proto",
];

/// nginx's family of original-request headers: (method, URI).
const ORIGINAL: (&str, &str) = ("x-original-method", "x-original-uri");
/// Traefik's family: (method, URI).
const FORWARDED: (&str, &str) = ("x-forwarded-method", "x-forwarded-uri");

/// One header's value, when it is there: `Err` when it is repeated, empty or not text.
fn single<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, String> {
    let mut values = headers.get_all(name).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(format!("{name} is repeated"));
    }
    match value.to_str() {
        Ok(v) if !v.trim().is_empty() => Ok(Some(v)),
        _ => Err(format!("{name} is empty or not readable")),
    }
}

/// The original request's method and target (path and query), from one family of headers or
/// the sub-request itself (see the module doc).
fn original(parts: &http::request::Parts) -> Result<(String, String), String> {
    let headers = &parts.headers;
    let (method_header, uri_header) = if headers
        .keys()
        .any(|k| k.as_str().starts_with("x-original-"))
    {
        ORIGINAL
    } else if headers.contains_key(FORWARDED.0) || headers.contains_key(FORWARDED.1) {
        FORWARDED
    } else {
        let own = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        return Ok((parts.method.as_str().to_owned(), own.to_owned()));
    };
    let method = match single(headers, method_header)? {
        Some(m) => http::Method::from_bytes(m.trim().as_bytes())
            .map_err(|_| format!("{method_header} is not a method"))?
            .as_str()
            .to_owned(),
        None => parts.method.as_str().to_owned(),
    };
    let target = single(headers, uri_header)?.ok_or_else(|| format!("{uri_header} is missing"))?;
    Ok((method, target.to_owned()))
}

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
    let (method, target) = match original(&parts) {
        Ok(o) => o,
        Err(description) => {
            tracing::warn!(peer = %peer.ip(), problem = %description, "unreadable original request");
            app.metrics.request("invalid_request", started.elapsed());
            // A bad request, answered 401 as every 400 here (see the module doc).
            return own_error(StatusCode::UNAUTHORIZED, "invalid_request", &description);
        }
    };
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
