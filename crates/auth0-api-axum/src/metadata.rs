//! RFC 9728 OAuth 2.0 Protected Resource Metadata: the document that tells clients (MCP clients
//! among them) which authorization server issues tokens for this API, and how to present them.
//!
//! Serve it at [`well_known_path`](ProtectedResourceMetadata::well_known_path), outside the
//! authentication layer, and point challenges at it with
//! [`Auth0LayerBuilder::resource_metadata`](crate::Auth0LayerBuilder::resource_metadata): a
//! client that gets a 401 reads `resource_metadata="<url>"` from `WWW-Authenticate`, fetches the
//! document, and finds the authorization server there.

use std::convert::Infallible;
use std::fmt;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use auth0_api::{ApiClient, DpopMode, Error};
use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, StatusCode, Uri};
use serde_json::{Map, Value};
use tower_service::Service;

/// The well-known path prefix of RFC 9728 section 3.
pub const WELL_KNOWN_PREFIX: &str = "/.well-known/oauth-protected-resource";

/// An RFC 9728 protected-resource metadata document, built once and served as JSON.
///
/// ```
/// use auth0_api_axum::ProtectedResourceMetadata;
/// use axum::Router;
///
/// # fn main() -> Result<(), auth0_api::Error> {
/// let metadata = ProtectedResourceMetadata::new("https://api.example.com/mcp")?
///     .authorization_server("https://your-tenant.auth0.com/")
///     .scopes_supported(["tools:call"])
///     .dpop_signing_alg_values_supported(["ES256"]);
/// assert_eq!(metadata.well_known_path(), "/.well-known/oauth-protected-resource/mcp");
/// assert_eq!(
///     metadata.metadata_url(),
///     "https://api.example.com/.well-known/oauth-protected-resource/mcp"
/// );
/// let doc = metadata.to_json();
/// assert_eq!(doc["resource"], "https://api.example.com/mcp");
/// assert_eq!(doc["bearer_methods_supported"], serde_json::json!(["header"]));
///
/// let app: Router = Router::new().route_service(metadata.well_known_path(), metadata.service());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ProtectedResourceMetadata {
    resource: String,
    origin: String,
    path: String,
    authorization_servers: Vec<String>,
    scopes_supported: Vec<String>,
    bearer_methods_supported: Vec<String>,
    dpop_signing_alg_values_supported: Vec<String>,
    dpop_bound_access_tokens_required: bool,
    resource_name: Option<String>,
    resource_documentation: Option<String>,
    extra: Map<String, Value>,
}

/// Setters of the metadata's string lists: each replaces the field of its name with the given
/// values, and has its doc comment.
macro_rules! string_list_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name<I, T>(mut self, values: I) -> Self
        where
            I: IntoIterator<Item = T>,
            T: Into<String>,
        {
            self.$name = values.into_iter().map(Into::into).collect();
            self
        }
    )*};
}

impl ProtectedResourceMetadata {
    /// Metadata for the resource identifier `resource` (RFC 9728 section 2: an `https` URL
    /// without query or fragment; `http` is accepted for development on loopback). Clients
    /// compare it with the URL they called, so give the URL they use, such as
    /// `https://api.example.com/mcp`. `bearer_methods_supported` starts as `["header"]`.
    ///
    /// # Errors
    /// `invalid_configuration` when `resource` is not such a URL.
    pub fn new(resource: impl Into<String>) -> Result<Self, Error> {
        let resource = resource.into();
        let invalid = |why: &str| {
            Error::configuration(format!("Invalid resource identifier {resource:?}: {why}"))
        };
        if resource.contains('#') {
            return Err(invalid("a fragment is not allowed"));
        }
        let uri: Uri = resource
            .parse()
            .map_err(|_| invalid("not an absolute URL"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("http") => {
                s.to_ascii_lowercase()
            }
            _ => return Err(invalid("the scheme must be https")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid("user information is not allowed"));
        }
        if uri.query().is_some() {
            return Err(invalid("a query is not allowed"));
        }
        let path = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            origin: format!("{scheme}://{}", authority.as_str()),
            path: format!("{WELL_KNOWN_PREFIX}{path}"),
            resource,
            authorization_servers: Vec::new(),
            scopes_supported: Vec::new(),
            bearer_methods_supported: vec!["header".to_owned()],
            dpop_signing_alg_values_supported: Vec::new(),
            dpop_bound_access_tokens_required: false,
            resource_name: None,
            resource_documentation: None,
            extra: Map::new(),
        })
    }

    /// Adds an authorization server's issuer identifier (for Auth0, `https://<domain>/`).
    pub fn authorization_server(mut self, issuer: impl Into<String>) -> Self {
        self.authorization_servers.push(issuer.into());
        self
    }

    string_list_setters! {
        /// The scopes this resource uses (`scopes_supported`).
        scopes_supported;
        /// How tokens may be presented (`bearer_methods_supported`; `["header"]` by default, the only
        /// method the layer reads).
        bearer_methods_supported;
        /// The accepted DPoP proof algorithms (`dpop_signing_alg_values_supported`).
        dpop_signing_alg_values_supported;
    }

    /// Whether every access token must be DPoP-bound (`dpop_bound_access_tokens_required`).
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.dpop_bound_access_tokens_required = required;
        self
    }

    /// The DPoP fields from a client's settings: its proof algorithms (none when DPoP is
    /// disabled) and whether it requires DPoP.
    pub fn dpop_from(self, client: &ApiClient) -> Self {
        let algs: Vec<String> = match client.dpop_mode() {
            DpopMode::Disabled => Vec::new(),
            _ => client
                .dpop_algs()
                .split_ascii_whitespace()
                .map(str::to_owned)
                .collect(),
        };
        self.dpop_signing_alg_values_supported(algs)
            .dpop_bound_access_tokens_required(client.is_dpop_required())
    }

    /// A human-readable name (`resource_name`).
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A URL of human-readable documentation (`resource_documentation`).
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.resource_documentation = Some(url.into());
        self
    }

    /// Any other member (RFC 9728 section 2 lists more; extensions may add their own). The
    /// members above win over one of the same name.
    pub fn member(mut self, name: impl Into<String>, value: Value) -> Self {
        self.extra.insert(name.into(), value);
        self
    }

    /// The resource identifier.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The authorization servers' issuer identifiers named so far.
    pub fn authorization_servers(&self) -> &[String] {
        &self.authorization_servers
    }

    /// The resource's origin (`scheme://host[:port]`), where its document is served.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The path to serve the document at: the well-known prefix followed by the resource's path
    /// (RFC 9728 section 3.1), such as `/.well-known/oauth-protected-resource/mcp`.
    pub fn well_known_path(&self) -> &str {
        &self.path
    }

    /// The document's URL, for the `resource_metadata` challenge parameter.
    pub fn metadata_url(&self) -> String {
        format!("{}{}", self.origin, self.path)
    }

    /// The document as JSON. Empty lists and absent values are left out.
    pub fn to_json(&self) -> Value {
        let mut doc = self.extra.clone();
        doc.insert("resource".into(), Value::from(self.resource.as_str()));
        let lists = [
            ("authorization_servers", &self.authorization_servers),
            ("scopes_supported", &self.scopes_supported),
            ("bearer_methods_supported", &self.bearer_methods_supported),
            (
                "dpop_signing_alg_values_supported",
                &self.dpop_signing_alg_values_supported,
            ),
        ];
        for (name, list) in lists {
            if !list.is_empty() {
                doc.insert(name.into(), Value::from(list.clone()));
            }
        }
        doc.insert(
            "dpop_bound_access_tokens_required".into(),
            Value::Bool(self.dpop_bound_access_tokens_required),
        );
        for (name, value) in [
            ("resource_name", &self.resource_name),
            ("resource_documentation", &self.resource_documentation),
        ] {
            if let Some(value) = value {
                doc.insert(name.into(), Value::from(value.as_str()));
            }
        }
        Value::Object(doc)
    }

    /// A tower service answering `GET` and `HEAD` with the document (200, `application/json`)
    /// and other methods with 405; for `Router::route_service`.
    pub fn service(&self) -> MetadataService {
        MetadataService {
            body: Bytes::from(self.to_json().to_string()),
        }
    }
}

/// The document as a `200 application/json` response, so that a handler can return it.
impl IntoResponse for ProtectedResourceMetadata {
    fn into_response(self) -> Response {
        document_response(Bytes::from(self.to_json().to_string()))
    }
}

fn document_response(body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

/// Serves a [`ProtectedResourceMetadata`] document; see
/// [`ProtectedResourceMetadata::service`]. Cheap to clone.
#[derive(Clone)]
pub struct MetadataService {
    body: Bytes,
}

impl fmt::Debug for MetadataService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataService")
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl<B> Service<Request<B>> for MetadataService {
    type Response = Response;
    type Error = Infallible;
    type Future = Ready<Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let response = match *request.method() {
            Method::GET => document_response(self.body.clone()),
            Method::HEAD => {
                let mut response = document_response(Bytes::new());
                if let Ok(len) = HeaderValue::from_str(&self.body.len().to_string()) {
                    response
                        .headers_mut()
                        .insert(http::header::CONTENT_LENGTH, len);
                }
                response
            }
            _ => {
                let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
                response
                    .headers_mut()
                    .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                response
            }
        };
        ready(Ok(response))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn well_known_location_follows_rfc_9728_section_3_1() {
        let cases = [
            (
                "https://api.example.com",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com/",
                "/.well-known/oauth-protected-resource",
            ),
            (
                "https://api.example.com:8443/a/b",
                "/.well-known/oauth-protected-resource/a/b",
            ),
        ];
        for (resource, path) in cases {
            let m = ProtectedResourceMetadata::new(resource).unwrap();
            assert_eq!(m.well_known_path(), path);
            assert!(m.metadata_url().ends_with(path));
        }
        assert_eq!(
            ProtectedResourceMetadata::new("https://api.example.com:8443/a")
                .unwrap()
                .metadata_url(),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/a"
        );
        for bad in [
            "",
            "api.example.com",
            "ftp://x",
            "https://x/?q=1",
            "https://x/#f",
            "https://u@x/",
        ] {
            assert!(ProtectedResourceMetadata::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn document_members() {
        let doc = ProtectedResourceMetadata::new("https://api.example.com")
            .unwrap()
            .authorization_server("https://t.auth0.com/")
            .member("resource", Value::from("ignored"))
            .member("x_custom", Value::from(1))
            .resource_name("API")
            .to_json();
        assert_eq!(doc["resource"], "https://api.example.com");
        assert_eq!(doc["authorization_servers"][0], "https://t.auth0.com/");
        assert_eq!(doc["x_custom"], 1);
        assert_eq!(doc["resource_name"], "API");
        assert_eq!(doc["dpop_bound_access_tokens_required"], false);
        assert!(doc.get("scopes_supported").is_none());
    }
}
