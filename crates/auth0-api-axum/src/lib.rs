//! # auth0-api-axum
//!
//! axum and tower integration for [`auth0_api`]: protect routes with Auth0 access tokens, Bearer
//! (RFC 6750) and DPoP (RFC 9449), check scopes and permissions, read the delegation chain of
//! exchanged tokens, and publish RFC 9728 protected-resource metadata for MCP clients.
//!
//! | piece | what it does |
//! |---|---|
//! | [`Auth0Layer`] | runs [`ApiClient::verify_request`](auth0_api::ApiClient::verify_request) on every request; answers failures with the status, `WWW-Authenticate`, `DPoP-Nonce` and a JSON body; [`optional`](Auth0Layer::optional) mode |
//! | [`UrlSource`] | the URL for DPoP's `htu`: a public base URL, the request, or a trusted proxy's `Forwarded` / `X-Forwarded-*` |
//! | [`Authenticated`], [`MaybeAuthenticated`] | the verified request (claims, scheme, proof) in handlers |
//! | [`Actor`] | the current actor and the delegation chain (RFC 8693 `act`) |
//! | [`AccessToken`] | the raw token, for on-behalf-of exchange; `Debug` prints `[redacted]` |
//! | [`RequireScopes`], [`RequirePermissions`], [`GuardLayer`] | 403 `insufficient_scope` guards, as layers or in handlers ([`Authenticated::require`]) |
//! | [`RequireUserAuthentication`] | step-up (RFC 9470): accepted `acr` values, maximum `auth_time` age; 401 `insufficient_user_authentication` |
//! | [`ProtectedResourceMetadata`] | the `/.well-known/oauth-protected-resource` document and the `resource_metadata` challenge parameter |
//! | [`ProtectedResource`] | one of several resources in a process: identifier = audience, its own document at its path-specific address, its own layer |
//! | [`AuthRejection`] | every refusal, as a response |
//!
//! The crate depends on `axum-core` and the tower traits only; any `http` service stack works.
//!
//! ## A protected API
//!
//! ```
//! use auth0_api::{ApiClient, ApiClientOptions};
//! use auth0_api_axum::{Auth0Layer, Authenticated, ProtectedResourceMetadata, RequireScopes};
//! use axum::{Router, routing::get};
//!
//! async fn messages(auth: Authenticated) -> String {
//!     format!("messages of {}", auth.sub().unwrap_or("?"))
//! }
//!
//! # fn main() -> Result<(), auth0_api::Error> {
//! let client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://api.example.com")
//!         .build()?,
//! )?;
//! let metadata = ProtectedResourceMetadata::new("https://api.example.com")?
//!     .authorization_server("https://your-tenant.auth0.com/")
//!     .scopes_supported(["read:messages"])
//!     .dpop_from(&client);
//! let auth = Auth0Layer::builder(client)
//!     .public_url("https://api.example.com") // what DPoP proofs are checked against
//!     .resource_metadata(metadata.metadata_url()) // where 401s point MCP clients
//!     .build()?;
//!
//! let app: Router = Router::new()
//!     .route("/messages", get(messages))
//!     .route_layer(RequireScopes::all(["read:messages"])) // inner: runs after authentication
//!     .layer(auth) // outer: runs first
//!     .route_service(metadata.well_known_path(), metadata.service()); // public
//! # let _ = app;
//! // axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```
//!
//! A request without a token gets
//!
//! ```text
//! HTTP/1.1 401 Unauthorized
//! www-authenticate: Bearer realm="api", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource", DPoP algs="ES256", resource_metadata="https://api.example.com/.well-known/oauth-protected-resource"
//! content-type: application/json
//!
//! {"error":"invalid_request","error_description":""}
//! ```
//!
//! and one whose token lacks the scope gets `403` with
//! `www-authenticate: Bearer error="insufficient_scope", scope="read:messages", resource_metadata="..."`.
//!
//! ## Acting on behalf of the user
//!
//! The layer keeps the caller's token as an [`AccessToken`]; exchange it for a downstream API's
//! token with [`ApiClient::get_token_on_behalf_of`](auth0_api::ApiClient::get_token_on_behalf_of)
//! (see [`AccessToken`]; the crate `auth0-api-rmcp` does this for MCP servers written with the
//! rmcp SDK, and its example is a complete MCP server and downstream API on a local dev tenant:
//! `cargo run -p auth0-api-rmcp --example mcp_rmcp`). The downstream API checks who acts with
//! the [`Actor`] extractor.
//!
//! ## Several resources, step-up
//!
//! [`ProtectedResource`] gives each API of a process its own identifier (= audience), scopes and
//! metadata document at its path-specific address, with challenges pointing there;
//! [`RequireUserAuthentication`] asks for a stronger or more recent login (RFC 9470).

#![forbid(unsafe_code)]

/// The items every middleware service of this crate shares in its `Service` impl: it answers
/// axum [`Response`](axum_core::response::Response)s, fails as its inner service `self.inner`
/// fails and is ready when that service is; `$future` is its future type.
macro_rules! middleware_service_items {
    ($future:ty) => {
        type Response = Response;
        type Error = S::Error;
        type Future = $future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }
    };
}

mod context;
pub mod extract;
pub mod guard;
mod layer;
pub mod metadata;
pub mod resource;
mod response;
mod token;
mod url;

pub use context::AuthContext;
pub use extract::{Actor, Authenticated, MaybeAuthenticated};
pub use guard::{
    ClaimsPolicy, Forbidden, Guard, GuardFuture, GuardLayer, RequirePermissions, RequireScopes,
    RequireUserAuthentication,
};
pub use layer::{Auth0Layer, Auth0LayerBuilder, Auth0Service, ResponseFuture};
pub use metadata::{MetadataService, ProtectedResourceMetadata, WELL_KNOWN_PREFIX};
pub use resource::ProtectedResource;
pub use response::{AuthRejection, DPOP_NONCE, error_response};
pub use token::AccessToken;
pub use url::UrlSource;
