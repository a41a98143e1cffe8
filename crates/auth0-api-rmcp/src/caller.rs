//! [`Caller`]: who called a tool, read from what [`Auth0Layer`](auth0_api_axum::Auth0Layer)
//! verified; an rmcp extractor.

use std::fmt;

use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::exchange::OnBehalfOfToken;
use auth0_api::{ApiClient, Error, VerifiedRequest};
use auth0_api_axum::{AccessToken, AuthContext};
use rmcp::ErrorData;
use rmcp::RoleServer;
use rmcp::handler::server::common::{AsRequestContext, FromContextPart};
use rmcp::service::RequestContext;

/// The verified caller of a tool: the claims, the current actor and delegation chain, the raw
/// token (for on-behalf-of exchange) and the [`ApiClient`] that verified it.
///
/// rmcp's streamable-HTTP service hands each handler the request's [`http::request::Parts`]
/// in [`RequestContext::extensions`]; the layer left the [`VerifiedRequest`], the
/// [`AccessToken`] and the [`AuthContext`] in *their* extensions. `Caller` reads them back,
/// as a tool parameter (`caller: Caller`, it is an rmcp [`FromContextPart`] extractor) or with
/// [`Caller::from_context`].
///
/// A tool reached without the layer (a transport other than streamable HTTP, or a router
/// without [`Auth0Layer`](auth0_api_axum::Auth0Layer)) fails with an internal error: the
/// server is wired wrongly, and nothing is trusted.
///
/// ```
/// use auth0_api_rmcp::{Caller, tool_error};
/// use rmcp::model::{CallToolResult, ContentBlock};
/// use rmcp::{ErrorData, tool, tool_router};
///
/// struct Server;
///
/// #[tool_router(server_handler)]
/// impl Server {
///     #[tool(description = "Who am I?")]
///     async fn whoami(&self, caller: Caller) -> Result<CallToolResult, ErrorData> {
///         let actor = caller.actor().map_err(|e| tool_error(&e))?;
///         Ok(CallToolResult::success(vec![ContentBlock::text(format!(
///             "{} (actor {:?})",
///             caller.sub().unwrap_or("?"),
///             actor
///         ))]))
///     }
/// }
/// ```
#[derive(Clone)]
pub struct Caller {
    verified: VerifiedRequest,
    token: AccessToken,
    context: AuthContext,
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("sub", &self.verified.sub())
            .field("scheme", &self.verified.scheme)
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// The caller of the request this context belongs to.
    ///
    /// # Errors
    /// An internal error when the request did not come through the streamable-HTTP service
    /// behind [`Auth0Layer`](auth0_api_axum::Auth0Layer).
    pub fn from_context(context: &RequestContext<RoleServer>) -> Result<Self, ErrorData> {
        let parts = context
            .extensions
            .get::<http::request::Parts>()
            .ok_or_else(|| not_wired("no HTTP request"))?;
        Ok(Self {
            verified: extension(parts, "the request was not authenticated")?,
            token: extension(parts, "no access token")?,
            context: extension(parts, "no authentication context")?,
        })
    }

    /// The verified request: claims (through `Deref`), scheme, DPoP proof.
    pub fn verified(&self) -> &VerifiedRequest {
        &self.verified
    }

    /// The user (`sub`).
    pub fn sub(&self) -> Option<&str> {
        self.verified.sub()
    }

    /// The current actor (RFC 8693 section 4.1: the outermost `act.sub`), `None` for a token
    /// without `act`.
    ///
    /// # Errors
    /// `invalid_token` "Invalid act claim" for a malformed `act`.
    pub fn actor(&self) -> Result<Option<&str>, Error> {
        current_actor(&self.verified)
    }

    /// Every actor, newest first.
    ///
    /// # Errors
    /// As [`actor`](Self::actor).
    pub fn delegation_chain(&self) -> Result<Vec<&str>, Error> {
        delegation_chain(&self.verified)
    }

    /// The raw access token (redacted in `Debug`).
    pub fn token(&self) -> &AccessToken {
        &self.token
    }

    /// The client that verified the token; it exchanges tokens when it has client credentials.
    pub fn client(&self) -> &ApiClient {
        self.context.client()
    }

    /// The layer's settings (for example its `resource_metadata`).
    pub fn auth_context(&self) -> &AuthContext {
        &self.context
    }

    /// Exchanges the caller's token for one of the downstream API `audience`, on behalf of the
    /// same user ([`ApiClient::get_token_on_behalf_of`]); the new token's `act` names this
    /// server's client.
    ///
    /// # Errors
    /// As [`ApiClient::get_token_on_behalf_of`].
    pub async fn on_behalf_of(
        &self,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<OnBehalfOfToken, Error> {
        self.client()
            .get_token_on_behalf_of(self.token.expose(), audience, scope)
            .await
    }
}

/// The internal error of a tool reached without the layer.
fn not_wired(what: &str) -> ErrorData {
    ErrorData::internal_error(
        format!("{what}: serve this tool through rmcp's streamable HTTP service behind Auth0Layer"),
        None,
    )
}

/// A clone of the `T` the layer left in the request's extensions.
fn extension<T: Clone + Send + Sync + 'static>(
    parts: &http::request::Parts,
    missing: &str,
) -> Result<T, ErrorData> {
    parts
        .extensions
        .get::<T>()
        .cloned()
        .ok_or_else(|| not_wired(missing))
}

impl<C: AsRequestContext> FromContextPart<C> for Caller {
    fn from_context_part(context: &mut C) -> Result<Self, ErrorData> {
        Self::from_context(context.as_request_context())
    }
}

/// An [`Error`] as a tool's JSON-RPC error: its code and description (never a token or a
/// secret), `invalid_request` (-32600) for a caller's failure (status 4xx), internal (-32603)
/// otherwise.
pub fn tool_error(error: &Error) -> ErrorData {
    let message = error.to_string();
    let data = Some(serde_json::json!({
        "error": error.error_code(),
        "error_description": error.description(),
        "status": error.status_code(),
    }));
    if (400..500).contains(&error.status_code()) {
        ErrorData::invalid_request(message, data)
    } else {
        ErrorData::internal_error(message, data)
    }
}
