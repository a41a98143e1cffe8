//! [`ProtectedResource`]: one protected resource of a process (its Auth0 API, its RFC 9728
//! document, its layer), so that several resources live side by side.
//!
//! Each resource has its own resource identifier, which is the Auth0 API identifier and so the
//! audience of its tokens (RFC 8707: a client asks for a token *for this resource*), its own
//! scopes, and its own metadata document at its path-specific address
//! (`/.well-known/oauth-protected-resource/<path>`, RFC 9728 section 3.1). Its layer points every
//! challenge at that document (`resource_metadata`), so a client that is refused by `/calendar`
//! learns about `/calendar`, not about `/mcp`.
//!
//! ```
//! use auth0_api::{ApiClient, ApiClientOptions};
//! use auth0_api_axum::{ProtectedResource, ProtectedResourceMetadata, RequireScopes};
//! use axum::{Router, routing::get};
//!
//! # fn main() -> Result<(), auth0_api::Error> {
//! let resource = |id: &str, scopes: &[&str]| -> Result<ProtectedResource, auth0_api::Error> {
//!     let client = ApiClient::new(
//!         ApiClientOptions::builder().domain("your-tenant.auth0.com").audience(id).build()?,
//!     )?;
//!     let metadata = ProtectedResourceMetadata::new(id)?.scopes_supported(scopes.iter().copied());
//!     ProtectedResource::new(client, metadata) // names https://your-tenant.auth0.com/ as issuer
//! };
//! let mcp = resource("https://api.example.com/mcp", &["mcp:read"])?;
//! let calendar = resource("https://api.example.com/calendar", &["calendar:read"])?;
//! assert_eq!(
//!     calendar.metadata().metadata_url(),
//!     "https://api.example.com/.well-known/oauth-protected-resource/calendar"
//! );
//!
//! let app: Router = Router::new()
//!     .merge(Router::new().route("/mcp", get(|| async { "mcp" })).layer(mcp.layer()))
//!     .merge(
//!         Router::new()
//!             .route("/calendar", get(|| async { "events" }))
//!             .route_layer(RequireScopes::all(["calendar:read"]))
//!             .layer(calendar.layer()),
//!     )
//!     .route_service(mcp.metadata().well_known_path(), mcp.metadata_service())
//!     .route_service(calendar.metadata().well_known_path(), calendar.metadata_service());
//! # let _ = app;
//! # Ok(()) }
//! ```

use auth0_api::{ApiClient, Error};

use crate::layer::Auth0Layer;
use crate::metadata::{MetadataService, ProtectedResourceMetadata};
use crate::url::UrlSource;

/// One protected resource: the client that verifies its tokens, its RFC 9728 document and the
/// [`Auth0Layer`] whose challenges point at that document. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ProtectedResource {
    metadata: ProtectedResourceMetadata,
    layer: Auth0Layer,
}

impl ProtectedResource {
    /// The resource verified by `client` and described by `metadata`.
    ///
    /// - The resource identifier must be one of the client's audiences (the Auth0 API
    ///   identifier): a token for another API is never accepted here, and the document never
    ///   names an identifier that tokens do not carry.
    /// - When `metadata` names no authorization server, the client's domain is named.
    /// - DPoP proofs are checked against the resource's origin
    ///   ([`UrlSource::PublicUrl`]); use [`with_url_source`](Self::with_url_source) behind a
    ///   proxy that rewrites paths.
    ///
    /// # Errors
    /// `invalid_configuration` when the identifier is not an audience of the client.
    pub fn new(client: ApiClient, metadata: ProtectedResourceMetadata) -> Result<Self, Error> {
        let url = UrlSource::public_url(metadata.origin())?;
        Self::with_url_source(client, metadata, url)
    }

    /// [`new`](Self::new) with an explicit URL source for DPoP's `htu`.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn with_url_source(
        client: ApiClient,
        mut metadata: ProtectedResourceMetadata,
        url: UrlSource,
    ) -> Result<Self, Error> {
        if !client.audiences().iter().any(|a| a == metadata.resource()) {
            return Err(Error::configuration(format!(
                "The resource identifier {:?} is not an audience of its client (the Auth0 API identifier must equal the resource URL)",
                metadata.resource()
            )));
        }
        if metadata.authorization_servers().is_empty() {
            if let Some(domain) = client.domain() {
                metadata = metadata.authorization_server(domain);
            }
        }
        let layer = Auth0Layer::builder(client)
            .url_source(url)
            .resource_metadata(metadata.metadata_url())
            .build()?;
        Ok(Self { metadata, layer })
    }

    /// The resource's RFC 9728 document.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.metadata
    }

    /// The service answering with the document; mount it at
    /// [`well_known_path`](ProtectedResourceMetadata::well_known_path), outside the layer.
    pub fn metadata_service(&self) -> MetadataService {
        self.metadata.service()
    }

    /// The layer protecting this resource's routes; its challenges carry
    /// `resource_metadata="<this resource's document>"`.
    pub fn layer(&self) -> Auth0Layer {
        self.layer.clone()
    }

    /// The client that verifies this resource's tokens (and exchanges them on behalf of users).
    pub fn client(&self) -> &ApiClient {
        self.layer.context().client()
    }
}
