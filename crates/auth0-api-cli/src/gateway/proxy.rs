//! Reverse-proxy mode: verify, then forward to the upstream with the identity headers,
//! streaming both bodies (nothing is buffered whole).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use http::header::{AUTHORIZATION, CONNECTION, HeaderName};
use http::{HeaderMap, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use super::App;
use super::gate::{Decision, log, own_error};
use super::identity;

/// The HTTP/1.1 client to the upstream.
pub(crate) type Upstream = Client<HttpConnector, Body>;

/// A pooled client (keep-alive) for the upstream.
pub(crate) fn upstream_client() -> Upstream {
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector)
}

/// Hop-by-hop headers (RFC 9110 section 7.6.1), never forwarded.
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "upgrade",
];

/// Removes the hop-by-hop headers and those `Connection` names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(http::header::TRANSFER_ENCODING);
}

/// Every request of proxy mode.
pub(crate) async fn handle(
    State(app): State<Arc<App>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let started = Instant::now();
    let (mut parts, body) = request.into_parts();
    // Hop-by-hop headers (and those `Connection` names) go first, then any `X-Auth0-*` the
    // caller sent; the verified identity is inserted last, so nothing the caller sends (not
    // `Connection: X-Auth0-Actor`) can remove or replace it.
    strip_hop_by_hop(&mut parts.headers);
    identity::strip(&mut parts.headers);
    let path = parts.uri.path().to_owned();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
    let url = app.request_url(&parts.headers, peer, &path_and_query);
    let method = parts.method.as_str().to_owned();
    let trusted_peer = app.trusted.contains(peer.ip());
    if !trusted_peer && let Some(name) = &app.gate.client_certificate_header {
        // A client's own certificate header must not reach the upstream as if a proxy set it.
        parts.headers.remove(name);
    }
    let decision = app
        .gate
        .decide(&method, url, &path, &parts.headers, trusted_peer)
        .await;
    let (nonce, sub, outcome) = match decision {
        Decision::Refused(response, code) => {
            app.metrics.request(&code, started.elapsed());
            log(
                &method,
                &path,
                response.status().as_u16(),
                &code,
                None,
                started,
            );
            return response;
        }
        Decision::Public => (None, None, "public"),
        Decision::Allowed {
            identity,
            nonce,
            sub,
        } => {
            for (name, value) in identity {
                parts.headers.insert(name, value);
            }
            (nonce, sub, "ok")
        }
    };
    // Public paths too: credentials reach the upstream only when configured to.
    if !app.pass_credentials {
        parts.headers.remove(AUTHORIZATION);
        parts.headers.remove("dpop");
    }
    if let Ok(v) = http::HeaderValue::from_str(&peer.ip().to_string()) {
        parts.headers.append("x-forwarded-for", v);
    }
    let (response, outcome) = match forward(&app, parts, body, &path_and_query).await {
        Ok(mut response) => {
            if let Some(nonce) = nonce {
                response
                    .headers_mut()
                    .insert(auth0_api_axum::DPOP_NONCE, nonce);
            }
            (response, outcome)
        }
        Err(failure) => failure,
    };
    app.metrics.request(outcome, started.elapsed());
    log(
        &method,
        &path,
        response.status().as_u16(),
        outcome,
        sub.as_deref(),
        started,
    );
    response
}

/// Sends the request on and maps the upstream's answer (body streamed).
async fn forward(
    app: &App,
    mut parts: http::request::Parts,
    body: Body,
    path_and_query: &str,
) -> Result<Response, (Response, &'static str)> {
    let super::ModeState::Proxy { upstream, client } = &app.mode else {
        return Err((
            own_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "not a proxy",
            ),
            "server_error",
        ));
    };
    let mut uri = upstream.clone().into_parts();
    uri.path_and_query = path_and_query.parse().ok();
    parts.uri = Uri::from_parts(uri).map_err(|_| {
        (
            own_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "bad request target",
            ),
            "invalid_request",
        )
    })?;
    parts.version = http::Version::HTTP_11;
    let request = Request::from_parts(parts, body);
    match tokio::time::timeout(app.upstream_timeout, client.request(request)).await {
        Ok(Ok(response)) => {
            let (mut parts, incoming) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            Ok(Response::from_parts(parts, Body::new(incoming)))
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "upstream request failed");
            Err((
                own_error(
                    StatusCode::BAD_GATEWAY,
                    "bad_gateway",
                    "The upstream did not answer",
                ),
                "bad_gateway",
            ))
        }
        Err(_) => Err((
            own_error(
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "The upstream did not answer in time",
            ),
            "gateway_timeout",
        )),
    }
}
