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
//!
//! The layer fails closed on what it reads: a `POST` body that is not JSON, that has an
//! object with a repeated key anywhere (so that the layer and rmcp cannot read two different
//! tool names or methods from one body), or whose messages are not JSON-RPC objects (a
//! `method` that is not a string, a `tools/call` without a string `params.name`) gets 400 with
//! a JSON-RPC error (parse error -32700, invalid request -32600) before rmcp sees it.
//!
//! ## Sessions are bound to their caller
//!
//! rmcp's streamable-HTTP sessions (`Mcp-Session-Id`) are not tied to a user: anyone holding a
//! valid token and another user's session id could attach to that session. The layer records
//! who opened each session (the token's `iss`, `sub`, and `azp` or else `client_id`) when
//! rmcp's response names a new `Mcp-Session-Id`, and answers a request carrying a session id
//! recorded for another caller with **404**, as the MCP transport spec answers an unknown
//! session (so a foreign session's existence is not confirmed), before any other check. A
//! session id the layer has no record of is left to rmcp (it answers 404 for a session it does
//! not know; a session restored from a session store is claimed by its first caller). A
//! successful `DELETE` of a session drops its record. The record is bounded
//! ([`max_sessions`](ToolGuardLayer::max_sessions), [`DEFAULT_MAX_SESSIONS`] by default):
//! beyond it the oldest record is dropped, which unbinds that session, so keep the bound above
//! the number of sessions rmcp keeps alive.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use auth0_api_axum::{Authenticated, RequireScopes, RequireUserAuthentication};
use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};
use tower_layer::Layer;
use tower_service::Service;

/// The largest JSON-RPC body the layer reads (4 MiB, rmcp's own default limit); larger ones
/// get 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The most JSON-RPC messages of one batch the layer checks; a larger batch gets 400.
const MAX_BATCH: usize = 64;

/// The most sessions whose owner the layer remembers by default.
pub const DEFAULT_MAX_SESSIONS: usize = 65_536;

/// The longest `Mcp-Session-Id` the layer records (rmcp's are UUIDs).
const MAX_SESSION_ID_BYTES: usize = 256;

/// The MCP transport's session header.
static SESSION_ID: HeaderName = HeaderName::from_static("mcp-session-id");

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
    max_sessions: usize,
}

/// Who opened a session: the token's issuer, subject and client (`azp`, else `client_id`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    iss: Option<String>,
    sub: Option<String>,
    client: Option<String>,
}

impl Owner {
    fn of(auth: &Authenticated) -> Self {
        let client = auth
            .azp()
            .or_else(|| auth.get("client_id").and_then(Value::as_str));
        Self {
            iss: auth.iss().map(str::to_owned),
            sub: auth.sub().map(str::to_owned),
            client: client.map(str::to_owned),
        }
    }
}

/// The owners of the sessions rmcp opened, oldest first, bounded.
#[derive(Debug, Default)]
struct Sessions {
    owners: HashMap<String, (u64, Owner)>,
    order: BTreeMap<u64, String>,
    next: u64,
}

impl Sessions {
    /// The owner recorded for session `id`.
    fn owner(&self, id: &str) -> Option<&Owner> {
        self.owners.get(id).map(|(_, owner)| owner)
    }

    /// Records `owner` for a session not yet recorded, dropping the oldest beyond `max`.
    fn record(&mut self, id: &str, owner: Owner, max: usize) {
        if self.owners.contains_key(id) || max == 0 || id.len() > MAX_SESSION_ID_BYTES {
            return;
        }
        while self.owners.len() >= max {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.owners.remove(&oldest);
        }
        let seq = self.next;
        self.next = self.next.wrapping_add(1);
        self.order.insert(seq, id.to_owned());
        self.owners.insert(id.to_owned(), (seq, owner));
    }

    /// Drops the record of session `id`.
    fn remove(&mut self, id: &str) {
        if let Some((seq, _)) = self.owners.remove(id) {
            self.order.remove(&seq);
        }
    }

    fn len(&self) -> usize {
        self.owners.len()
    }
}

type SharedSessions = Arc<Mutex<Sessions>>;

fn lock(sessions: &SharedSessions) -> std::sync::MutexGuard<'_, Sessions> {
    // A panic while holding the lock leaves a consistent map (every edit is a few inserts).
    sessions.lock().unwrap_or_else(PoisonError::into_inner)
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
///
/// Clones of a layer (and the services it makes) share one record of session owners.
#[derive(Clone)]
pub struct ToolGuardLayer {
    policies: Arc<Policies>,
    sessions: SharedSessions,
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
                max_sessions: DEFAULT_MAX_SESSIONS,
                ..Policies::default()
            }),
            sessions: SharedSessions::default(),
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

    /// The most sessions whose owner is remembered ([`DEFAULT_MAX_SESSIONS`] by default; 0
    /// turns the binding off); see the [module docs](crate::tools#sessions-are-bound-to-their-caller).
    pub fn max_sessions(self, sessions: usize) -> Self {
        self.edit(|p| p.max_sessions = sessions)
    }

    /// How many sessions have a recorded owner now.
    pub fn recorded_sessions(&self) -> usize {
        lock(&self.sessions).len()
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
            sessions: self.sessions.clone(),
        }
    }
}

/// The service of [`ToolGuardLayer`].
#[derive(Clone)]
pub struct ToolGuard<S> {
    inner: S,
    policies: Arc<Policies>,
    sessions: SharedSessions,
}

impl<S> fmt::Debug for ToolGuard<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ToolGuard").finish_non_exhaustive()
    }
}

/// Why a body is refused before rmcp: answered 400 with this JSON-RPC error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadBody {
    /// Not JSON, or an object with a repeated key (-32700).
    Parse,
    /// JSON, but not JSON-RPC messages the layer can check (-32600).
    Invalid(&'static str),
}

impl BadBody {
    fn into_response(self) -> Response {
        let (code, message) = match self {
            Self::Parse => (
                -32700,
                "Parse error: the body is not JSON, or repeats a key",
            ),
            Self::Invalid(why) => (-32600, why),
        };
        let body =
            json!({"jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message}});
        (
            StatusCode::BAD_REQUEST,
            [(http::header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    }
}

/// A JSON value whose objects have no repeated key (serde_json's `Value` keeps the last of
/// them; another parser may keep the first). Nesting is bounded by serde_json's recursion
/// limit (128).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JSON without repeated keys")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom("repeated key"));
            }
            let Strict(value) = map.next_value()?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// The tool names of the `tools/call` messages in a JSON-RPC body (one message or a batch of
/// at most [`MAX_BATCH`]), in order; every other message names none.
fn called_tools(body: &[u8]) -> Result<Vec<String>, BadBody> {
    let Ok(Strict(value)) = serde_json::from_slice::<Strict>(body) else {
        return Err(BadBody::Parse);
    };
    let messages: Vec<&Value> = match &value {
        Value::Array(batch) if batch.len() > MAX_BATCH => {
            return Err(BadBody::Invalid("JSON-RPC batch too large"));
        }
        Value::Array(batch) if batch.is_empty() => {
            return Err(BadBody::Invalid("empty JSON-RPC batch"));
        }
        Value::Array(batch) => batch.iter().collect(),
        single => vec![single],
    };
    let mut tools = Vec::new();
    for message in messages {
        let Value::Object(message) = message else {
            return Err(BadBody::Invalid("a JSON-RPC message is an object"));
        };
        let method = match message.get("method") {
            None => continue, // a response or an error the client sends back
            Some(Value::String(method)) => method,
            Some(_) => return Err(BadBody::Invalid("the method is not a string")),
        };
        if method == "tools/call" {
            let Some(name) = message.get("params").and_then(|p| p.get("name")) else {
                return Err(BadBody::Invalid("tools/call without params.name"));
            };
            let Value::String(name) = name else {
                return Err(BadBody::Invalid(
                    "tools/call whose params.name is not a string",
                ));
            };
            tools.push(name.clone());
        }
    }
    Ok(tools)
}

/// The `Mcp-Session-Id` of a request or response.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers.get(&SESSION_ID).and_then(|v| v.to_str().ok())
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
        let sessions = self.sessions.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let auth = match Authenticated::from_request_parts(&mut parts, &()).await {
                Ok(auth) => auth,
                Err(rejection) => return Ok(rejection.into_response()),
            };
            // A session opened by another caller is, to this one, a session that does not exist.
            let owner = Owner::of(&auth);
            let session = session_id(&parts.headers).map(str::to_owned);
            let foreign = session
                .as_deref()
                .is_some_and(|id| lock(&sessions).owner(id).is_some_and(|o| *o != owner));
            if foreign {
                return Ok(plain(StatusCode::NOT_FOUND, "Not Found: Session not found"));
            }
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
                let tools = match called_tools(&bytes) {
                    Ok(tools) => tools,
                    Err(bad) => return Ok(bad.into_response()),
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
            let is_delete = parts.method == Method::DELETE;
            let response = inner.call(Request::from_parts(parts, body)).await?;
            let response = response.into_response();
            let answered = session_id(response.headers());
            match (&session, answered) {
                (Some(id), _) if is_delete && response.status().is_success() => {
                    lock(&sessions).remove(id);
                }
                (_, Some(new)) if session.as_deref() != Some(new) => {
                    lock(&sessions).record(new, owner, policies.max_sessions);
                }
                _ => {}
            }
            Ok(response)
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
        let batch = br#"[{"method":"tools/list"},{"method":"tools/call","params":{"name":"a"}},{"id":1,"result":{}}]"#;
        assert_eq!(called_tools(batch).unwrap(), ["a"]);
        assert!(
            called_tools(br#"{"method":"initialize"}"#)
                .unwrap()
                .is_empty()
        );
        // Fail closed: what the layer cannot read is refused, not passed on unchecked.
        assert_eq!(called_tools(b"not json"), Err(BadBody::Parse));
        assert_eq!(called_tools(b""), Err(BadBody::Parse));
        assert_eq!(
            called_tools(br#"{"method":"x"} trailing"#),
            Err(BadBody::Parse)
        );
        for invalid in [
            &br#"[{"method":"tools/call","params":{"name":7}}]"#[..],
            br#"{"method":"tools/call","params":{}}"#,
            br#"{"method":"tools/call"}"#,
            br#"{"method":["tools/call"]}"#,
            br#""tools/call""#,
            br#"[1]"#,
            br#"[]"#,
        ] {
            assert!(
                matches!(called_tools(invalid), Err(BadBody::Invalid(_))),
                "{}",
                String::from_utf8_lossy(invalid)
            );
        }
        let huge = format!("[{}]", vec!["{}"; MAX_BATCH + 1].join(","));
        assert!(called_tools(huge.as_bytes()).is_err());
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(called_tools(deep.as_bytes()), Err(BadBody::Parse));
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for body in [
            &br#"{"method":"tools/call","params":{"name":"whoami","name":"transfer"}}"#[..],
            br#"{"method":"tools/list","method":"tools/call","params":{"name":"transfer"}}"#,
            br#"{"method":"tools/call","params":{"name":"whoami","arguments":{"a":1,"a":2}}}"#,
            br#"{"method":"tools/call","params":{"name":"whoami"},"params":{"name":"transfer"}}"#,
            br#"[{"method":"ping"},{"id":1,"id":2,"method":"ping"}]"#,
        ] {
            assert_eq!(
                called_tools(body),
                Err(BadBody::Parse),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // The same key in different objects is fine, and escapes are decoded before comparing.
        let body = br#"{"method":"tools/call","params":{"name":"a","arguments":{"name":"b"}}}"#;
        assert_eq!(called_tools(body).unwrap(), ["a"]);
        let escaped = br#"{"method":"tools/call","params":{"name":"a","n\u0061me":"b"}}"#;
        assert_eq!(called_tools(escaped), Err(BadBody::Parse));
    }

    /// Why the layer refuses repeated keys: rmcp (3.11) does not read them as a plain
    /// `serde_json::Value` does (last one wins). A repeated `params.name` makes its typed
    /// `tools/call` fail and the message fall back to a custom request; repeated top-level keys
    /// are refused. Were rmcp ever to run the first `name` while the layer checked the last,
    /// refusing repeats keeps them from disagreeing.
    #[test]
    fn what_rmcp_makes_of_repeated_keys() {
        let name = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"transfer","name":"whoami"}}"#;
        let parsed = serde_json::from_slice::<rmcp::model::ClientJsonRpcMessage>(name);
        assert!(
            !format!("{parsed:?}").contains("CallToolRequest"),
            "{parsed:?}"
        );
        for body in [
            &br#"{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call","params":{"name":"transfer"}}"#[..],
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"transfer"},"params":{"name":"whoami"}}"#,
        ] {
            assert!(serde_json::from_slice::<rmcp::model::ClientJsonRpcMessage>(body).is_err());
        }
        assert_eq!(called_tools(name), Err(BadBody::Parse));
    }

    #[test]
    fn session_records_are_bounded_oldest_first() {
        let owner = |sub: &str| Owner {
            iss: Some("https://t/".into()),
            sub: Some(sub.into()),
            client: None,
        };
        let mut sessions = Sessions::default();
        sessions.record("s1", owner("a"), 2);
        sessions.record("s1", owner("b"), 2); // never re-owned
        sessions.record("s2", owner("b"), 2);
        assert_eq!(sessions.owner("s1"), Some(&owner("a")));
        sessions.record("s3", owner("c"), 2);
        assert_eq!(sessions.owner("s1"), None);
        assert_eq!(sessions.owner("s3"), Some(&owner("c")));
        sessions.remove("s2");
        sessions.remove("nope");
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions.order.len(), 1);
        sessions.record(&"x".repeat(MAX_SESSION_ID_BYTES + 1), owner("d"), 2);
        sessions.record("s4", owner("d"), 0);
        assert_eq!(sessions.len(), 1);
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
