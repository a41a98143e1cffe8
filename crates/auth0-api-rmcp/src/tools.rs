//! [`ToolGuardLayer`]: scope and step-up requirements per MCP tool, answered at the HTTP level
//! (403 `insufficient_scope`, 401 `insufficient_user_authentication`) before rmcp runs the tool.
//!
//! The MCP authorization spec asks a server to refuse a call that needs more than the token
//! grants with an HTTP 403 and `WWW-Authenticate: Bearer error="insufficient_scope",
//! scope="..."`, so that the client can ask the user for more and retry. A tool handler runs
//! inside rmcp's JSON-RPC machinery and cannot choose the HTTP answer; this layer sits between
//! [`Auth0Layer`](auth0_api_axum::Auth0Layer) and rmcp's service, reads the JSON-RPC body of
//! each `POST` (bounded), and checks:
//!
//! - every request (initialize, `tools/list`, any other method, the `GET` stream): the scopes
//!   and step-up set with [`every_request`](ToolGuardLayer::every_request_scopes);
//! - `tools/call` of a tool with requirements: those scopes *plus* the tool's, named together
//!   in the challenge's `scope` (the full set the call needs, so that a client asking for
//!   exactly that keeps what it already uses), then the tool's step-up requirement.
//!
//! The challenge carries the layer's `resource_metadata`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth0_api_axum::{Authenticated, RequireScopes, RequireUserAuthentication};
use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower_layer::Layer;
use tower_service::Service;

/// The largest JSON-RPC body the layer reads (4 MiB, rmcp's own default limit); larger ones
/// get 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The most JSON-RPC messages of one batch the layer checks; a larger batch gets 400.
const MAX_BATCH: usize = 64;

/// What one tool (or every request) requires.
#[derive(Debug, Clone, Default)]
struct Requirement {
    scopes: Vec<String>,
    step_up: Option<RequireUserAuthentication>,
}

#[derive(Debug, Clone, Default)]
struct Policies {
    every: Requirement,
    tools: HashMap<String, Requirement>,
    max_body: usize,
}

/// A tower layer with scope and step-up requirements per MCP tool; see the [module
/// docs](self). Put it inside [`Auth0Layer`](auth0_api_axum::Auth0Layer), around rmcp's
/// `StreamableHttpService`.
///
/// ```
/// use std::time::Duration;
/// use auth0_api_axum::RequireUserAuthentication;
/// use auth0_api_rmcp::ToolGuardLayer;
///
/// let tools = ToolGuardLayer::new()
///     .every_request_scopes(["mcp:read"])
///     .tool_scopes("calendar_events", ["calendar:read"])
///     .tool_step_up(
///         "delete_event",
///         RequireUserAuthentication::acr_values(["http://schemas.openid.net/pape/policies/2007/06/multi-factor"])
///             .and_max_age(Duration::from_secs(300)),
///     );
/// assert_eq!(tools.required_scopes("calendar_events"), ["mcp:read", "calendar:read"]);
/// assert_eq!(tools.required_scopes("whoami"), ["mcp:read"]);
/// ```
#[derive(Clone)]
pub struct ToolGuardLayer {
    policies: Arc<Policies>,
}

impl fmt::Debug for ToolGuardLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolGuardLayer")
            .field("every_request", &self.policies.every)
            .field("tools", &self.policies.tools)
            .finish()
    }
}

impl Default for ToolGuardLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ToolGuardLayer {
    /// No requirement yet (every authenticated request goes through).
    pub fn new() -> Self {
        Self {
            policies: Arc::new(Policies {
                max_body: DEFAULT_MAX_BODY_BYTES,
                ..Policies::default()
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Policies)) -> Self {
        f(Arc::make_mut(&mut self.policies));
        self
    }

    /// Scopes every MCP request needs (added to each tool's).
    pub fn every_request_scopes<I, T>(self, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.edit(|p| push_unique(&mut p.every.scopes, scopes))
    }

    /// A step-up requirement for every MCP request.
    pub fn every_request_step_up(self, step_up: RequireUserAuthentication) -> Self {
        self.edit(|p| p.every.step_up = Some(step_up))
    }

    /// Scopes a call of tool `name` needs, beyond those of every request.
    pub fn tool_scopes<I, T>(self, name: impl Into<String>, scopes: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        let name = name.into();
        self.edit(|p| push_unique(&mut p.tools.entry(name).or_default().scopes, scopes))
    }

    /// A step-up requirement (RFC 9470) for calls of tool `name`; it replaces the one of every
    /// request for that tool.
    pub fn tool_step_up(self, name: impl Into<String>, step_up: RequireUserAuthentication) -> Self {
        let name = name.into();
        self.edit(|p| p.tools.entry(name).or_default().step_up = Some(step_up))
    }

    /// The largest body read ([`DEFAULT_MAX_BODY_BYTES`] by default).
    pub fn max_body_bytes(self, bytes: usize) -> Self {
        self.edit(|p| p.max_body = bytes)
    }

    /// The scopes a call of tool `name` needs: those of every request, then the tool's.
    pub fn required_scopes(&self, name: &str) -> Vec<String> {
        self.policies.required(Some(name)).scopes
    }
}

fn push_unique<I, T>(list: &mut Vec<String>, values: I)
where
    I: IntoIterator<Item = T>,
    T: Into<String>,
{
    for value in values {
        let value = value.into();
        if !list.contains(&value) {
            list.push(value);
        }
    }
}

impl Policies {
    /// What a request needs: every request's requirement, plus the tool's for a `tools/call`.
    fn required(&self, tool: Option<&str>) -> Requirement {
        let mut required = self.every.clone();
        if let Some(tool) = tool.and_then(|name| self.tools.get(name)) {
            push_unique(&mut required.scopes, tool.scopes.iter().cloned());
            if tool.step_up.is_some() {
                required.step_up = tool.step_up.clone();
            }
        }
        required
    }

    fn has_tool_rules(&self) -> bool {
        !self.tools.is_empty()
    }
}

impl<S> Layer<S> for ToolGuardLayer {
    type Service = ToolGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ToolGuard {
            inner,
            policies: self.policies.clone(),
        }
    }
}

/// The service of [`ToolGuardLayer`].
#[derive(Clone)]
pub struct ToolGuard<S> {
    inner: S,
    policies: Arc<Policies>,
}

impl<S> fmt::Debug for ToolGuard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolGuard").finish_non_exhaustive()
    }
}

/// The tool names of the `tools/call` messages in a JSON-RPC body (one message or a batch).
/// `Err` for a batch larger than [`MAX_BATCH`]; a body that is not JSON names no tool (rmcp
/// answers it).
fn called_tools(body: &[u8]) -> Result<Vec<String>, ()> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let messages: Vec<&Value> = match &value {
        Value::Array(batch) if batch.len() > MAX_BATCH => return Err(()),
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    Ok(messages
        .into_iter()
        .filter(|m| m.get("method").and_then(Value::as_str) == Some("tools/call"))
        .filter_map(|m| m.pointer("/params/name").and_then(Value::as_str))
        .map(str::to_owned)
        .collect())
}

/// Checks one requirement: the refusal as a response, or `None` to let the request through.
fn refusal(auth: &Authenticated, required: &Requirement) -> Option<Response> {
    let scopes = (!required.scopes.is_empty())
        .then(|| auth.require(&RequireScopes::all(required.scopes.iter().cloned())));
    if let Some(Err(rejection)) = scopes {
        return Some(rejection.into_response());
    }
    let step_up = required.step_up.as_ref()?;
    auth.require(step_up).err().map(IntoResponse::into_response)
}

fn plain(status: StatusCode, message: &'static str) -> Response {
    (status, message).into_response()
}

impl<S, B> Service<Request<B>> for ToolGuard<S>
where
    S: Service<Request<Body>> + Clone + Send + 'static,
    S::Response: IntoResponse,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready handles this request; a clone waits for the next.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policies = self.policies.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let auth = match Authenticated::from_request_parts(&mut parts, &()).await {
                Ok(auth) => auth,
                Err(rejection) => return Ok(rejection.into_response()),
            };
            let body = if parts.method == Method::POST && policies.has_tool_rules() {
                let limited = http_body_util::Limited::new(body, policies.max_body);
                let bytes = match limited.collect().await {
                    Ok(collected) => collected.to_bytes(),
                    Err(_) => {
                        return Ok(plain(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "request body too large or unreadable",
                        ));
                    }
                };
                let Ok(tools) = called_tools(&bytes) else {
                    return Ok(plain(StatusCode::BAD_REQUEST, "JSON-RPC batch too large"));
                };
                let required: Vec<Requirement> = if tools.is_empty() {
                    vec![policies.required(None)]
                } else {
                    tools.iter().map(|t| policies.required(Some(t))).collect()
                };
                if let Some(refused) = required.iter().find_map(|r| refusal(&auth, r)) {
                    return Ok(refused);
                }
                Body::from(bytes)
            } else {
                if let Some(refused) = refusal(&auth, &policies.required(None)) {
                    return Ok(refused);
                }
                Body::new(body)
            };
            let response = inner.call(Request::from_parts(parts, body)).await?;
            Ok(response.into_response())
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tools_named_in_bodies() {
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"whoami"}}"#;
        assert_eq!(called_tools(one).unwrap(), ["whoami"]);
        let batch = br#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"a"}},{"method":"tools/call","params":{"name":7}}]"#;
        assert_eq!(called_tools(batch).unwrap(), ["a"]);
        assert!(called_tools(b"not json").unwrap().is_empty());
        assert!(
            called_tools(br#"{"method":"initialize"}"#)
                .unwrap()
                .is_empty()
        );
        let huge = format!("[{}]", vec!["{}"; MAX_BATCH + 1].join(","));
        assert!(called_tools(huge.as_bytes()).is_err());
    }

    #[test]
    fn requirements_accumulate() {
        let layer = ToolGuardLayer::new()
            .every_request_scopes(["mcp:read"])
            .tool_scopes("t", ["x", "mcp:read", "y"])
            .tool_scopes("t", ["y", "z"]);
        assert_eq!(layer.required_scopes("t"), ["mcp:read", "x", "y", "z"]);
        assert_eq!(layer.required_scopes("other"), ["mcp:read"]);
        // A clone keeps its own requirements.
        let shared = layer.clone();
        let more = layer.tool_scopes("other", ["w"]);
        assert_eq!(more.required_scopes("other"), ["mcp:read", "w"]);
        assert_eq!(shared.required_scopes("other"), ["mcp:read"]);
    }
}
