//! Fault injection for misbehaving-tenant tests.

use std::time::Duration;

use bytes::Bytes;
use http::{Response, StatusCode, header};
use http_body_util::Full;

/// An endpoint of the tenant that can be counted and faulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// `GET /.well-known/openid-configuration`.
    Discovery,
    /// `GET /.well-known/jwks.json`.
    Jwks,
    /// `POST /oauth/token`.
    Token,
}

/// How an endpoint misbehaves; set with [`crate::DevTenant::set_fault`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this status and an empty body (an invalid code becomes 500).
    Status(u16),
    /// Answer with this status, `Content-Type` and body.
    Body {
        /// HTTP status code (an invalid code becomes 500).
        status: u16,
        /// `Content-Type` header value (omitted if empty or invalid).
        content_type: String,
        /// Response body bytes.
        body: Vec<u8>,
    },
    /// Sleep this long, then answer normally.
    Delay(Duration),
    /// Drop the connection without answering.
    Close,
    /// Answer `302 Found` with this `Location` (a redirect an API must not follow).
    Redirect(String),
}

/// What the server does with a request to a faulted endpoint.
pub(crate) enum FaultAction {
    /// Answer with this response instead of the normal one.
    Respond(Response<Full<Bytes>>),
    /// Close the connection without a response.
    Close,
    /// Answer normally.
    Continue,
}

/// Applies `fault` (sleeping for [`Fault::Delay`]).
pub(crate) async fn apply(fault: Option<Fault>) -> FaultAction {
    match fault {
        None => FaultAction::Continue,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            FaultAction::Continue
        }
        Some(Fault::Close) => FaultAction::Close,
        Some(Fault::Redirect(location)) => {
            let mut response = raw_response(302, "", Vec::new());
            if let Ok(value) = header::HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, value);
            }
            FaultAction::Respond(response)
        }
        Some(Fault::Status(status)) => FaultAction::Respond(raw_response(status, "", Vec::new())),
        Some(Fault::Body {
            status,
            content_type,
            body,
        }) => FaultAction::Respond(raw_response(status, &content_type, body)),
    }
}

fn raw_response(status: u16, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if !content_type.is_empty() {
        if let Ok(value) = header::HeaderValue::from_str(content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
    }
    response
}
