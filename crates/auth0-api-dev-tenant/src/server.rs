//! Accept loop, TLS, routing, discovery and JWKS.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::faults::{self, Endpoint, FaultAction};
use crate::tenant::{State, lock, read};
use crate::{MAX_BODY_BYTES, token_endpoint};

const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
const JWKS_PATH: &str = "/.well-known/jwks.json";
const TOKEN_PATH: &str = "/oauth/token";

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
pub(crate) struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by fault injection")
    }
}

impl std::error::Error for CloseConnection {}

/// Runs the accept loop until `shutdown` changes (or its sender is dropped).
pub(crate) fn spawn(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((tcp, _peer)) => {
                        conns.spawn(serve_connection(
                            tcp,
                            acceptor.clone(),
                            Arc::clone(&state),
                            shutdown.clone(),
                        ));
                    }
                    Err(err) => {
                        tracing::debug!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                _ = shutdown.changed() => break,
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(2), drain)
            .await
            .is_err()
        {
            conns.abort_all();
        }
    })
}

async fn serve_connection(
    tcp: TcpStream,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = tcp.set_nodelay(true);
    let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            tracing::debug!(%err, "TLS handshake failed");
            return;
        }
        Err(_) => return,
    };
    let service = service_fn(move |req| handle(Arc::clone(&state), req));
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    let conn = builder.serve_connection(TokioIo::new(tls), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!(%err, "connection ended with an error");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// A JSON response.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// An OAuth error response `{"error", "error_description"}`.
pub(crate) fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
) -> Response<Full<Bytes>> {
    json_response(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

fn with_cache_control(
    mut response: Response<Full<Bytes>>,
    max_age: Option<u64>,
) -> Response<Full<Bytes>> {
    if let Some(age) = max_age {
        if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={age}")) {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
    }
    response
}

/// The discovery document with overrides applied.
pub(crate) fn discovery_document(state: &State) -> Value {
    let issuer = &state.issuer;
    let mut doc = json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}authorize"),
        "token_endpoint": state.token_endpoint,
        "userinfo_endpoint": format!("{issuer}userinfo"),
        "jwks_uri": state.jwks_uri,
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "response_types_supported": ["code", "token", "id_token", "code id_token", "code token", "code id_token token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "grant_types_supported": [
            "authorization_code",
            "client_credentials",
            "refresh_token",
            crate::GRANT_TOKEN_EXCHANGE,
            crate::GRANT_FEDERATED,
        ],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
        "dpop_signing_alg_values_supported": ["ES256"],
        "claims_supported": ["aud", "exp", "iat", "iss", "sub", "scope", "azp", "act", "cnf"],
    });
    if let Value::Object(map) = &mut doc {
        for (key, value) in lock(&state.discovery_overrides).iter() {
            if value.is_null() {
                map.remove(key);
            } else {
                map.insert(key.clone(), value.clone());
            }
        }
    }
    doc
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, CloseConnection> {
    let endpoint = match req.uri().path() {
        DISCOVERY_PATH => Endpoint::Discovery,
        JWKS_PATH => Endpoint::Jwks,
        TOKEN_PATH => Endpoint::Token,
        _ => {
            return Ok(oauth_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint",
            ));
        }
    };
    let allowed = match endpoint {
        Endpoint::Token => req.method() == Method::POST,
        _ => req.method() == Method::GET || req.method() == Method::HEAD,
    };
    if !allowed {
        let mut response = oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method not allowed",
        );
        let allow = if endpoint == Endpoint::Token {
            "POST"
        } else {
            "GET, HEAD"
        };
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        return Ok(response);
    }
    state.counters.hit(endpoint);

    // Read the token request before fault injection so it is recorded even
    // when the endpoint then misbehaves.
    let token_request = if endpoint == Endpoint::Token {
        let (parts, body) = req.into_parts();
        let body = match read_body(&parts.headers, body).await {
            Ok(body) => body,
            Err(response) => return Ok(response),
        };
        token_endpoint::record(&state, &parts.headers, &body);
        Some((parts.headers, body))
    } else {
        None
    };

    match faults::apply(state.fault(endpoint)).await {
        FaultAction::Respond(response) => return Ok(response),
        FaultAction::Close => return Err(CloseConnection),
        FaultAction::Continue => {}
    }

    let response = match (endpoint, token_request) {
        (Endpoint::Discovery, _) => with_cache_control(
            json_response(StatusCode::OK, &discovery_document(&state)),
            state.max_age,
        ),
        (Endpoint::Jwks, _) => {
            let jwks = read(&state.keys).jwks();
            with_cache_control(json_response(StatusCode::OK, &jwks), state.max_age)
        }
        (Endpoint::Token, Some((headers, body))) => token_endpoint::handle(&state, &headers, &body),
        (Endpoint::Token, None) => {
            oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "missing body")
        }
    };
    Ok(response)
}

/// Reads a body of at most [`MAX_BODY_BYTES`]; errors are OAuth responses.
async fn read_body(
    headers: &http::HeaderMap,
    body: Incoming,
) -> Result<Bytes, Response<Full<Bytes>>> {
    let too_large = || {
        oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request body too large",
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "could not read request body",
        )),
    }
}
