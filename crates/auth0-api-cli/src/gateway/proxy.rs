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

/// The headers by which a proxy tells what it saw of the client (RFC 7239 `Forwarded`, the
/// de-facto `X-Forwarded-*` family, `X-Real-IP`): believed from `trusted_proxies` only.
const FORWARDING: [&str; 8] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-ssl",
    "x-real-ip",
];

/// Whether `name` (lower case) is one of [`FORWARDING`], reading `_` as `-` (CGI, WSGI and
/// Rack upstreams see `X_Forwarded_Proto` as `X-Forwarded-Proto`).
fn is_forwarding_name(name: &str) -> bool {
    FORWARDING.iter().any(|f| {
        f.len() == name.len()
            && f.bytes()
                .zip(name.bytes())
                .all(|(f, n)| f == n || (f == b'-' && n == b'_'))
    })
}

/// Sets the forwarding headers the upstream gets. From a trusted proxy: its own, with `peer`
/// appended to `X-Forwarded-For`. From any other peer, every [`FORWARDING`] header the client
/// sent (any spelling) is removed and replaced by what the gateway itself saw:
/// `X-Forwarded-For` = `peer`, `X-Forwarded-Host` = `Host` (when it is an authority),
/// `X-Forwarded-Proto` = `scheme` (the public URL's, else `http`: as the DPoP `htu` is built).
fn forwarding(headers: &mut HeaderMap, peer: std::net::IpAddr, trusted: bool, scheme: &str) {
    let peer = http::HeaderValue::from_str(&peer.to_string()).ok();
    if trusted {
        if let Some(peer) = peer {
            headers.append("x-forwarded-for", peer);
        }
        return;
    }
    super::remove_headers_where(headers, is_forwarding_name);
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.parse::<http::uri::Authority>().ok())
        .filter(|a| !a.as_str().contains('@') && !a.host().is_empty())
        .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok());
    if let Some(peer) = peer {
        headers.insert("x-forwarded-for", peer);
    }
    if let Some(host) = host {
        headers.insert("x-forwarded-host", host);
    }
    if let Ok(scheme) = http::HeaderValue::from_str(scheme) {
        headers.insert("x-forwarded-proto", scheme);
    }
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
    let scheme = app
        .public_url
        .as_deref()
        .and_then(|u| u.split_once("://"))
        .map_or("http", |(scheme, _)| scheme);
    forwarding(&mut parts.headers, peer.ip(), trusted_peer, scheme);
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_untrusted_peers_forwarding_headers_are_replaced() {
        let mut h = HeaderMap::new();
        h.insert("host", "api.example.com:8443".parse().unwrap());
        h.insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
        h.append("x-forwarded-for", "5.6.7.8".parse().unwrap());
        h.insert("X-Forwarded-Host", "evil.example".parse().unwrap());
        h.insert("x_forwarded_proto", "https".parse().unwrap());
        h.insert("forwarded", "for=1.2.3.4;proto=https".parse().unwrap());
        h.insert("x-real-ip", "1.2.3.4".parse().unwrap());
        h.insert("x-forwarded-method", "kept".parse().unwrap());
        forwarding(&mut h, "127.0.0.2".parse().unwrap(), false, "http");
        let all =
            |n: &str| -> Vec<&str> { h.get_all(n).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(all("x-forwarded-for"), ["127.0.0.2"]);
        assert_eq!(all("x-forwarded-host"), ["api.example.com:8443"]);
        assert_eq!(all("x-forwarded-proto"), ["http"]);
        for gone in ["forwarded", "x_forwarded_proto", "x-real-ip"] {
            assert!(all(gone).is_empty(), "{gone}");
        }
        assert_eq!(all("x-forwarded-method"), ["kept"]);

        // A Host that is no authority gives no X-Forwarded-Host.
        let mut h = HeaderMap::new();
        h.insert("host", "u@x".parse().unwrap());
        forwarding(&mut h, "127.0.0.2".parse().unwrap(), false, "https");
        assert!(h.get("x-forwarded-host").is_none());
        assert_eq!(h.get("x-forwarded-proto").unwrap(), "https");
    }

    #[test]
    fn a_trusted_proxys_forwarding_headers_are_kept_and_appended_to() {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", "1.2.3.4".parse().unwrap());
        h.insert("x-forwarded-host", "api.example.com".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        forwarding(&mut h, "10.0.0.1".parse().unwrap(), true, "http");
        let all: Vec<&str> = h
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(all, ["1.2.3.4", "10.0.0.1"]);
        assert_eq!(h.get("x-forwarded-host").unwrap(), "api.example.com");
        assert_eq!(h.get("x-forwarded-proto").unwrap(), "https");
    }
}
