//! The three grants of a client: on-behalf-of, custom exchange profiles and federated
//! connection tokens. Each validates its input in the reference's order, builds its form, and
//! sends it through [`token_endpoint`](super::token_endpoint).

use std::sync::Arc;
use std::time::Duration;

use super::token_endpoint::{self, Credentials, Flow, TokenResponse};
use super::*;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::discovery::{Discovery, DiscoveryCache, discovery_url};
use crate::fetch::http::HttpClient;
use crate::fetch::loader::DocumentError;

/// Token exchanges of one client: its HTTP client, its discovery cache (for the configured
/// domain's token endpoint) and its credentials.
pub(crate) struct TokenExchange {
    pub(crate) http: HttpClient,
    pub(crate) discovery: DiscoveryCache,
    pub(crate) settings: ExchangeSettings,
}

/// The settings a token exchange reads.
#[derive(Clone)]
pub(crate) struct ExchangeSettings {
    /// The configured domain as an issuer URL (`https://host/`).
    pub(crate) domain: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_auth: Option<ClientAuth>,
    pub(crate) timeout: Duration,
}

impl TokenExchange {
    /// The discovery document of the configured domain (cached).
    pub(crate) async fn discover_configured_domain(&self) -> Result<Arc<Discovery>, DocumentError> {
        let domain = self
            .settings
            .domain
            .as_deref()
            .ok_or(DocumentError::NoDomain)?;
        let entry = self.discovery.get(&discovery_url(domain)).await?;
        Ok(entry.value.clone())
    }

    /// See [`ApiClient::get_token_on_behalf_of`](crate::ApiClient::get_token_on_behalf_of).
    pub(crate) async fn get_token_on_behalf_of(
        &self,
        access_token: &str,
        audience: &str,
        scope: Option<&str>,
    ) -> Result<OnBehalfOfToken> {
        let mut request = OnBehalfOfRequest::new(access_token, audience);
        if let Some(scope) = scope {
            request = request.scope(scope);
        }
        self.get_token_on_behalf_of_with(request).await
    }

    /// See [`ApiClient::get_token_on_behalf_of_with`](crate::ApiClient::get_token_on_behalf_of_with).
    pub(crate) async fn get_token_on_behalf_of_with(
        &self,
        request: OnBehalfOfRequest,
    ) -> Result<OnBehalfOfToken> {
        if request.0.audience.as_deref().is_none_or(str::is_empty) {
            return Err(Error::missing_argument("audience"));
        }
        self.get_token_by_exchange_profile(request.0)
            .await
            .map(OnBehalfOfToken::from)
    }

    /// See [`ApiClient::get_token_by_exchange_profile`](crate::ApiClient::get_token_by_exchange_profile).
    pub(crate) async fn get_token_by_exchange_profile(
        &self,
        request: ExchangeProfileRequest,
    ) -> Result<ExchangeProfileToken> {
        validate_subject(&request)?;
        let credentials = credentials(&self.settings)
            .ok_or_else(|| Error::new(ErrorKind::ExchangeProfile, NO_CREDENTIALS_EXCHANGE))?;
        let form = exchange_form(&request)?;
        let flow = Flow::Exchange {
            subject_token_type: &request.subject_token_type,
            audience: non_empty(request.audience.as_deref()),
        };
        let response = token_endpoint::request(self, flow, &form, credentials).await?;
        exchange_token(response)
    }

    /// See [`ApiClient::get_access_token_for_connection`](crate::ApiClient::get_access_token_for_connection).
    pub(crate) async fn get_access_token_for_connection(
        &self,
        request: ConnectionTokenRequest,
    ) -> Result<ConnectionToken> {
        if request.connection.is_empty() {
            return Err(Error::missing_argument("connection"));
        }
        if request.access_token.is_empty() {
            return Err(Error::missing_argument("access_token"));
        }
        let credentials = credentials(&self.settings)
            .ok_or_else(|| Error::new(ErrorKind::ConnectionToken, NO_CREDENTIALS_CONNECTION))?;
        let form = connection_form(&request, credentials.client_id);
        let mut response =
            token_endpoint::request(self, Flow::Connection, &form, credentials).await?;
        Ok(ConnectionToken {
            scope: response.take_string("scope")?.unwrap_or_default(),
            access_token: SecretToken(response.access_token),
            expires_at: response.expires_at,
        })
    }
}

/// The configured client id and authentication, when both are set.
fn credentials(settings: &ExchangeSettings) -> Option<Credentials<'_>> {
    Some(Credentials {
        client_id: settings.client_id.as_deref().filter(|id| !id.is_empty())?,
        auth: settings.client_auth.as_ref()?,
    })
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|v| !v.is_empty())
}

/// The reference's checks of the subject token, in its order.
fn validate_subject(request: &ExchangeProfileRequest) -> Result<()> {
    let token = request.subject_token.as_str();
    if token.is_empty() {
        return Err(Error::missing_argument("subject_token"));
    }
    if request.subject_token_type.is_empty() {
        return Err(Error::missing_argument("subject_token_type"));
    }
    let invalid = |description: &str| Err(Error::new(ErrorKind::ExchangeProfile, description));
    if token.trim().is_empty() {
        return invalid("subject_token cannot be blank or whitespace");
    }
    if token.trim() != token {
        return invalid("subject_token must not include leading or trailing whitespace");
    }
    if token
        .get(..7)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case("bearer "))
    {
        return invalid(
            "subject_token must not include the 'Bearer ' prefix (case-insensitive check)",
        );
    }
    Ok(())
}

/// The exchange form, without client credentials (the reference sends `client_id` via HTTP
/// Basic only).
fn exchange_form(request: &ExchangeProfileRequest) -> Result<Vec<(&str, &str)>> {
    let mut form = vec![
        ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
        ("subject_token", request.subject_token.as_str()),
        ("subject_token_type", request.subject_token_type.as_str()),
    ];
    if let Some(audience) = non_empty(request.audience.as_deref()) {
        form.push(("audience", audience));
    }
    if let Some(scope) = non_empty(request.scope.as_deref()) {
        form.push(("scope", scope));
    }
    if let Some(token_type) = non_empty(request.requested_token_type.as_deref()) {
        form.push(("requested_token_type", token_type));
    }
    if let Some((token, token_type)) = &request.actor {
        let invalid = |description: &str| Error::new(ErrorKind::ExchangeProfile, description);
        if token.trim().is_empty() {
            return Err(invalid("actor_token cannot be blank or whitespace"));
        }
        if token_type.trim().is_empty() {
            return Err(invalid(
                "actor_token_type is required when actor_token is given (RFC 8693 section 2.1)",
            ));
        }
        form.push(("actor_token", token));
        form.push(("actor_token_type", token_type));
    }
    if let Some(organization) = non_empty(request.organization.as_deref()) {
        form.push(("organization", organization));
    }
    apply_extra(&mut form, &request.extra)?;
    Ok(form)
}

/// Appends the extra parameters, refusing reserved names (case-insensitive) and oversized
/// lists.
fn apply_extra<'a>(
    form: &mut Vec<(&'a str, &'a str)>,
    extra: &'a [(String, ExtraValue)],
) -> Result<()> {
    for (key, value) in extra {
        let lower = key.to_lowercase();
        if RESERVED_PARAMS.contains(&lower.as_str()) {
            return Err(Error::new(
                ErrorKind::ExchangeProfile,
                format!("Parameter '{key}' is reserved and cannot be overridden"),
            ));
        }
        match value {
            ExtraValue::Omitted => {}
            ExtraValue::Unsupported(why) => {
                return Err(Error::new(
                    ErrorKind::ExchangeProfile,
                    format!("Parameter '{key}' {why}"),
                ));
            }
            ExtraValue::One(v) => form.push((key, v)),
            ExtraValue::Many(values) => {
                if values.len() > MAX_EXTRA_VALUES {
                    return Err(Error::new(
                        ErrorKind::ExchangeProfile,
                        format!(
                            "Parameter '{key}' exceeds maximum array size of {MAX_EXTRA_VALUES}"
                        ),
                    ));
                }
                form.extend(values.iter().map(|v| (key.as_str(), v.as_str())));
            }
        }
    }
    Ok(())
}

/// The federated connection form (the reference sends `client_id` in it as well).
fn connection_form<'a>(
    request: &'a ConnectionTokenRequest,
    client_id: &'a str,
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("connection", request.connection.as_str()),
        (
            "requested_token_type",
            TOKEN_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN,
        ),
        ("grant_type", GRANT_TYPE_FEDERATED_CONNECTION_ACCESS_TOKEN),
        ("client_id", client_id),
        ("subject_token", request.access_token.as_str()),
        ("subject_token_type", TOKEN_TYPE_ACCESS_TOKEN),
    ];
    if let Some(hint) = non_empty(request.login_hint.as_deref()) {
        form.push(("login_hint", hint));
    }
    form
}

fn exchange_token(mut response: TokenResponse) -> Result<ExchangeProfileToken> {
    Ok(ExchangeProfileToken {
        id_token: response.take_string("id_token")?.map(SecretToken),
        refresh_token: response.take_string("refresh_token")?.map(SecretToken),
        scope: response.take_string("scope")?,
        token_type: response.take_string("token_type")?,
        issued_token_type: response.take_string("issued_token_type")?,
        access_token: SecretToken(response.access_token),
        expires_in: response.expires_in,
        expires_at: response.expires_at,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fetch::http::FetchedBody;

    fn req(token: &str, token_type: &str) -> ExchangeProfileRequest {
        ExchangeProfileRequest::new(token, token_type)
    }

    fn exchange_err(e: Error, description: &str) {
        assert_eq!(
            e.error_code(),
            "get_token_by_exchange_profile_error",
            "{e:?}"
        );
        assert_eq!(e.status_code(), 400);
        assert_eq!(e.description(), description);
    }

    #[test]
    fn subject_validation_follows_the_reference_order_and_words() {
        let e = validate_subject(&req("", "urn:x")).unwrap_err();
        assert_eq!(e.error_code(), "invalid_request");
        assert_eq!(e.status_code(), 400);
        assert_eq!(
            e.description(),
            "The argument 'subject_token' is required but was not provided."
        );
        let e = validate_subject(&req("t", "")).unwrap_err();
        assert_eq!(
            e.description(),
            "The argument 'subject_token_type' is required but was not provided."
        );
        // A missing token wins over a missing type.
        let e = validate_subject(&req("", "")).unwrap_err();
        assert!(e.description().contains("'subject_token'"));

        for blank in ["   ", "\t", "\n \r"] {
            exchange_err(
                validate_subject(&req(blank, "urn:x")).unwrap_err(),
                "subject_token cannot be blank or whitespace",
            );
        }
        for padded in [" token ", "token ", " token", "token\n"] {
            exchange_err(
                validate_subject(&req(padded, "urn:x")).unwrap_err(),
                "subject_token must not include leading or trailing whitespace",
            );
        }
        for bearer in ["Bearer abc", "bearer abc", "BEARER abc", "bEaReR abc"] {
            exchange_err(
                validate_subject(&req(bearer, "urn:x")).unwrap_err(),
                "subject_token must not include the 'Bearer ' prefix (case-insensitive check)",
            );
        }
        for fine in [
            "t",
            "Bearerabc",
            "bearer",
            "Bearer\tabc",
            "éééééééé",
            "a.b.c",
        ] {
            validate_subject(&req(fine, "urn:x")).unwrap();
        }
    }

    #[test]
    fn exchange_form_carries_only_what_was_given() {
        let r = req("t", "urn:x");
        assert_eq!(
            exchange_form(&r).unwrap(),
            [
                ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
                ("subject_token", "t"),
                ("subject_token_type", "urn:x")
            ]
        );
        let r = req("t", "urn:x")
            .audience("https://api.example.com")
            .scope("openid profile")
            .requested_token_type(TOKEN_TYPE_ACCESS_TOKEN)
            .extra("device_id", "dev123")
            .extra("roles", ["admin", "user"]);
        let form = exchange_form(&r).unwrap();
        assert_eq!(
            form,
            [
                ("grant_type", GRANT_TYPE_TOKEN_EXCHANGE),
                ("subject_token", "t"),
                ("subject_token_type", "urn:x"),
                ("audience", "https://api.example.com"),
                ("scope", "openid profile"),
                ("requested_token_type", TOKEN_TYPE_ACCESS_TOKEN),
                ("device_id", "dev123"),
                ("roles", "admin"),
                ("roles", "user"),
            ]
        );
        assert!(
            !form
                .iter()
                .any(|(k, _)| *k == "client_id" || *k == "client_secret")
        );

        // Empty optional values are not sent (the reference tests truthiness).
        let r = req("t", "urn:x")
            .audience("")
            .scope("")
            .requested_token_type("");
        assert_eq!(exchange_form(&r).unwrap().len(), 3);
    }

    #[test]
    fn extra_refuses_reserved_names_in_any_case() {
        for name in RESERVED_PARAMS {
            let e = exchange_form(&req("t", "urn:x").extra(name, "should_fail")).unwrap_err();
            exchange_err(
                e,
                &format!("Parameter '{name}' is reserved and cannot be overridden"),
            );
        }
        for name in [
            "Scope",
            "RESOURCE",
            "Audience",
            "GRANT_TYPE",
            "Subject_Token",
            "Client_ID",
        ] {
            let e = exchange_form(&req("t", "urn:x").extra(name, "value")).unwrap_err();
            exchange_err(
                e,
                &format!("Parameter '{name}' is reserved and cannot be overridden"),
            );
        }
        // Unicode case folding too (KELVIN SIGN lower-cases to 'k'), as Python's str.lower().
        let e = exchange_form(&req("t", "urn:x").extra("subject_to\u{212A}en", "v")).unwrap_err();
        assert!(e.description().contains("is reserved"));
        // Reserved names are refused even in list form and whatever comes first.
        let e =
            exchange_form(&req("t", "urn:x").extra("ok", "v").extra("scope", ["a"])).unwrap_err();
        assert!(e.description().contains("'scope'"));
    }

    #[test]
    fn extra_lists_are_capped_at_twenty_values() {
        let twenty: Vec<String> = (0..MAX_EXTRA_VALUES).map(|i| i.to_string()).collect();
        let r = req("t", "urn:x").extra("roles", twenty.clone());
        let form = exchange_form(&r).unwrap();
        assert_eq!(
            form.iter().filter(|(k, _)| *k == "roles").count(),
            MAX_EXTRA_VALUES
        );

        let mut big = twenty;
        big.push("20".into());
        let e = exchange_form(&req("t", "urn:x").extra("roles", big)).unwrap_err();
        exchange_err(e, "Parameter 'roles' exceeds maximum array size of 20");

        // An empty list sends nothing; setting a key again replaces it.
        let r = req("t", "urn:x")
            .extra("ids", Vec::<String>::new())
            .extra("k", "1")
            .extra("k", vec!["2", "3"]);
        let form = exchange_form(&r).unwrap();
        assert_eq!(&form[3..], [("k", "2"), ("k", "3")]);
    }

    #[test]
    fn connection_form_matches_the_reference() {
        let r = ConnectionTokenRequest::new("google-oauth2", "user-token");
        assert_eq!(
            connection_form(&r, "cid"),
            [
                ("connection", "google-oauth2"),
                (
                    "requested_token_type",
                    "http://auth0.com/oauth/token-type/federated-connection-access-token"
                ),
                (
                    "grant_type",
                    "urn:auth0:params:oauth:grant-type:token-exchange:federated-connection-access-token"
                ),
                ("client_id", "cid"),
                ("subject_token", "user-token"),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:access_token"
                ),
            ]
        );
        let hinted = r.clone().login_hint("user@example.com");
        let form = connection_form(&hinted, "cid");
        assert_eq!(form.last(), Some(&("login_hint", "user@example.com")));
        assert_eq!(connection_form(&r.login_hint(""), "cid").len(), 6);
    }

    fn response(body: serde_json::Value) -> TokenResponse {
        let answer = FetchedBody {
            status: 200,
            headers: http::HeaderMap::new(),
            body: body.to_string().into_bytes(),
        };
        token_endpoint::parse_response(Flow::Connection, &answer, 1_000).unwrap()
    }

    #[test]
    fn exchange_token_keeps_fields_and_obo_drops_id_and_refresh_tokens() {
        let token = exchange_token(response(json!({
            "access_token": "exchanged_token", "expires_in": 3600, "scope": "openid profile",
            "id_token": "id_token_value", "refresh_token": "refresh_token_value",
            "token_type": "Bearer", "issued_token_type": TOKEN_TYPE_ACCESS_TOKEN
        })))
        .unwrap();
        assert_eq!(token.access_token.expose(), "exchanged_token");
        assert_eq!(token.expires_in, 3600);
        assert_eq!(token.expires_at, 4_600);
        assert_eq!(
            token.id_token.as_ref().map(SecretToken::expose),
            Some("id_token_value")
        );
        assert_eq!(
            token.refresh_token.as_ref().map(SecretToken::expose),
            Some("refresh_token_value")
        );
        assert_eq!(token.scope.as_deref(), Some("openid profile"));
        assert_eq!(token.token_type.as_deref(), Some("Bearer"));
        assert_eq!(
            token.issued_token_type.as_deref(),
            Some(TOKEN_TYPE_ACCESS_TOKEN)
        );
        let shown = format!("{token:?}");
        for secret in ["exchanged_token", "id_token_value", "refresh_token_value"] {
            assert!(!shown.contains(secret), "{shown}");
        }

        let obo = OnBehalfOfToken::from(token);
        assert_eq!(obo.access_token.expose(), "exchanged_token");
        assert_eq!(obo.expires_at, 4_600);
        assert_eq!(obo.scope.as_deref(), Some("openid profile"));

        // Empty but present optional values are preserved; absent ones stay absent.
        let token = exchange_token(response(
            json!({"access_token": "t", "id_token": "", "refresh_token": "", "scope": ""}),
        ))
        .unwrap();
        assert_eq!(token.id_token.as_ref().map(SecretToken::expose), Some(""));
        assert_eq!(
            token.refresh_token.as_ref().map(SecretToken::expose),
            Some("")
        );
        assert_eq!(token.scope.as_deref(), Some(""));
        assert_eq!(token.token_type, None);

        let e = exchange_token(response(json!({"access_token": "t", "id_token": 5}))).unwrap_err();
        assert_eq!(e.error_code(), "invalid_response");
        assert_eq!(e.status_code(), 502);
    }

    #[test]
    fn requests_and_tokens_never_print_secrets() {
        let r = req("subject-secret", "urn:x").extra("device", "extra-secret");
        let shown = format!("{r:?}");
        assert!(
            !shown.contains("subject-secret") && !shown.contains("extra-secret"),
            "{shown}"
        );
        assert!(shown.contains("device"));
        let c = ConnectionTokenRequest::new("conn", "user-secret");
        assert!(!format!("{c:?}").contains("user-secret"));
        assert_eq!(format!("{:?}", SecretToken("x".into())), "[redacted]");
        assert_eq!(SecretToken("x".into()).into_inner(), "x");
    }

    #[test]
    fn extra_value_conversions() {
        assert_eq!(ExtraValue::from("a"), ExtraValue::One("a".into()));
        assert_eq!(
            ExtraValue::from(String::from("a")),
            ExtraValue::One("a".into())
        );
        assert_eq!(
            ExtraValue::from(vec!["a", "b"]),
            ExtraValue::Many(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            ExtraValue::from(vec![String::from("a")]),
            ExtraValue::Many(vec!["a".into()])
        );
        assert_eq!(ExtraValue::from(["a"]), ExtraValue::Many(vec!["a".into()]));
    }
}
