//! The token-exchange entry points of [`ApiClient`]; the work is done in [`crate::exchange`].

use super::ApiClient;
use crate::error::Result;
use crate::exchange::TokenExchange;
#[allow(unused_imports)] // named in the docs
use crate::exchange::{
    ConnectionToken, ConnectionTokenRequest, ExchangeProfileRequest, ExchangeProfileToken,
    GRANT_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN, OnBehalfOfRequest, OnBehalfOfToken,
    TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN,
};

impl ApiClient {
    /// The token-exchange half of the client, which every entry point here hands its work to.
    fn exchange(&self) -> &TokenExchange {
        &self.inner.exchange
    }

    /// Exchanges an Auth0 access token received by this API for one targeting a downstream API,
    /// on behalf of the same user (RFC 8693 with both token types
    /// [`TOKEN_TYPE_ACCESS_TOKEN`]).
    ///
    /// Pass the raw token (not the `Authorization` header), ideally after verifying it with
    /// [`verify_access_token`](Self::verify_access_token). `audience` must be an API identifier
    /// of the tenant; `scope` is optional.
    ///
    /// # Errors
    /// `invalid_request` when `audience` or `access_token` is empty; otherwise as
    /// [`get_token_by_exchange_profile`](Self::get_token_by_exchange_profile).
    pub async fn get_token_on_behalf_of(
        &self,
        access_token: &str,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<OnBehalfOfToken> {
        self.exchange()
            .get_token_on_behalf_of(access_token, audience, scope)
            .await
    }

    /// [`get_token_on_behalf_of`](Self::get_token_on_behalf_of) with everything an exchange
    /// may carry: scope, `organization`, an actor token (RFC 8693 section 2.1) and extra
    /// parameters.
    ///
    /// ```no_run
    /// use auth0_api::exchange::OnBehalfOfRequest;
    /// # async fn run(client: auth0_api::ApiClient, users_token: &str) -> Result<(), auth0_api::Error> {
    /// let token = client
    ///     .get_token_on_behalf_of_with(
    ///         OnBehalfOfRequest::new(users_token, "https://calendar.example.com")
    ///             .scope("calendar:read")
    ///             .organization("org_9ybsU1dN2dKfDkBi"),
    ///     )
    ///     .await?;
    /// println!("expires in {} s", token.expires_in);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`get_token_on_behalf_of`](Self::get_token_on_behalf_of); an actor token without its
    /// type, or an extra value with no form encoding, is 400
    /// `get_token_by_exchange_profile_error` before anything is sent.
    pub async fn get_token_on_behalf_of_with(
        &self,
        request: OnBehalfOfRequest,
    ) -> Result<OnBehalfOfToken> {
        self.exchange().get_token_on_behalf_of_with(request).await
    }

    /// Exchanges a subject token through a Custom Token Exchange profile (RFC 8693).
    ///
    /// The form carries `grant_type`, `subject_token`, `subject_token_type`, the optional
    /// `audience`, `scope`, `requested_token_type` and the extra parameters; the client
    /// authenticates with HTTP Basic (`client_id` is not a form field) or `private_key_jwt`.
    ///
    /// # Errors
    /// - 400 `invalid_request`: empty `subject_token` or `subject_token_type`;
    /// - 400 `get_token_by_exchange_profile_error`: a blank subject token, one with surrounding
    ///   whitespace or a `Bearer ` prefix, no client credentials configured, a reserved or
    ///   oversized extra parameter, no (or no https) token endpoint in the discovery document;
    /// - 502 `discovery_error`: discovery failed;
    /// - the endpoint's `error`, `error_description` and status when it refuses (default
    ///   `token_exchange_error`); 504 `timeout_error`; 502 `network_error`, `invalid_json` or
    ///   `invalid_response`.
    pub async fn get_token_by_exchange_profile(
        &self,
        request: ExchangeProfileRequest,
    ) -> Result<ExchangeProfileToken> {
        self.exchange().get_token_by_exchange_profile(request).await
    }

    /// Gets the user's access token at a federated connection (Auth0 Token Vault), proving the
    /// user with their Auth0 access token.
    ///
    /// The form carries `connection`, `requested_token_type`
    /// ([`TOKEN_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN`]), `grant_type`
    /// ([`GRANT_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN`]), `client_id`, `subject_token`,
    /// `subject_token_type` ([`TOKEN_TYPE_ACCESS_TOKEN`]) and `login_hint` when given.
    ///
    /// # Errors
    /// - 400 `invalid_request`: empty `connection` or `access_token`;
    /// - 400 `get_access_token_for_connection_error`: no client credentials configured, no (or
    ///   no https) token endpoint in the discovery document;
    /// - 502 `discovery_error`: discovery failed;
    /// - the endpoint's `error`, `error_description` and status when it refuses (default
    ///   `connection_token_error`); 504 `timeout_error`; 502 `network_error`, `invalid_json` or
    ///   `invalid_response`.
    pub async fn get_access_token_for_connection(
        &self,
        request: ConnectionTokenRequest,
    ) -> Result<ConnectionToken> {
        self.exchange()
            .get_access_token_for_connection(request)
            .await
    }
}
