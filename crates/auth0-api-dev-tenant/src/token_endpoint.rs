//! `POST /oauth/token`: client credentials, RFC 8693 token exchange and
//! Auth0's federated connection access token exchange, with DPoP binding.

use std::collections::HashSet;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::Full;
use serde_json::{Map, Value, json};

use crate::jwt::{b64e, sign_rs256, validate_own_token};
use crate::server::{json_response, oauth_error};
use crate::tenant::{ClientConfig, State, TokenRequestRecord, lock, read};
use crate::{
    Error, GRANT_FEDERATED, GRANT_TOKEN_EXCHANGE, TOKEN_LIFETIME_SECS, TOKEN_TYPE_ACCESS_TOKEN,
    TOKEN_TYPE_FEDERATED, TOKEN_TYPE_REFRESH_TOKEN, client_auth, proofs,
};

/// A ready HTTP response.
pub(crate) type Reply = http::Response<Full<Bytes>>;

/// An OAuth error answer: `{"error", "error_description"}` with a status.
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    basic_challenge: bool,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        OAuthError {
            status,
            error,
            description: description.into(),
            basic_challenge: false,
        }
    }

    /// 400 `invalid_request`.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// 401 `invalid_client`.
    pub(crate) fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn invalid_target(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_target", description)
    }

    fn access_denied(description: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "access_denied", description)
    }

    fn server_error(err: &Error) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            err.to_string(),
        )
    }

    /// Adds `WWW-Authenticate: Basic` (RFC 6749 section 5.2).
    pub(crate) fn with_basic_challenge(mut self) -> Self {
        self.basic_challenge = true;
        self
    }

    fn into_response(self) -> Reply {
        let mut response = oauth_error(self.status, self.error, &self.description);
        if self.basic_challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\""),
            );
        }
        response
    }
}

/// Decoded form parameters of a token request (each name at most once).
pub(crate) struct Form(Vec<(String, String)>);

impl Form {
    /// The value of `name`; empty values count as absent (RFC 6749 section 3.2).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }
}

/// Records a token request as received.
pub(crate) fn record(state: &State, headers: &HeaderMap, body: &[u8]) {
    let text = |name: &str| {
        headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let record = TokenRequestRecord {
        form: form_urlencoded::parse(body).into_owned().collect(),
        authorization: text(header::AUTHORIZATION.as_str()),
        dpop: text("dpop"),
    };
    *lock(&state.last_token_request) = Some(record);
}

/// Handles a token request whose body has been read.
pub(crate) fn handle(state: &State, headers: &HeaderMap, body: &[u8]) -> Reply {
    match process(state, headers, body) {
        Ok(reply) => reply,
        Err(err) => err.into_response(),
    }
}

/// Parameters defined by RFC 6749, RFC 7523, RFC 8693 and Auth0's grants: never repeated.
const STANDARD_PARAMETERS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "audience",
    "resource",
    "scope",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
    "connection",
    "login_hint",
    "refresh_token",
    "acr",
    "auth_time",
];

fn process(state: &State, headers: &HeaderMap, body: &[u8]) -> Result<Reply, OAuthError> {
    let form_content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_content_type {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    // RFC 6749 section 3.2: the protocol's parameters appear at most once. Extension
    // parameters may repeat (list values, as SDKs send them).
    let mut seen = HashSet::new();
    for (name, _) in &pairs {
        if STANDARD_PARAMETERS.contains(&name.as_str()) && !seen.insert(name.as_str()) {
            return Err(OAuthError::invalid_request(format!(
                "parameter {name} is repeated"
            )));
        }
    }
    let form = Form(pairs);

    let client = client_auth::authenticate(state, headers, &form)?;
    let jkt = dpop_binding(state, headers)?;

    let grantee = Grantee(state, client, &form, jkt.as_deref());
    match form.get("grant_type") {
        None => Err(OAuthError::invalid_request("missing grant_type")),
        Some("client_credentials") => client_credentials(grantee),
        Some(GRANT_TOKEN_EXCHANGE) => token_exchange(grantee),
        Some(GRANT_FEDERATED) => federated_connection(state, &form),
        Some(other) => Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            format!("grant type {other} is not supported"),
        )),
    }
}

/// The thumbprint of a valid `DPoP` proof, if the request carries one.
fn dpop_binding(state: &State, headers: &HeaderMap) -> Result<Option<String>, OAuthError> {
    let invalid = |why: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_dpop_proof", why);
    let proofs: Vec<&HeaderValue> = headers.get_all("dpop").iter().collect();
    match proofs.as_slice() {
        [] => Ok(None),
        [proof] => {
            let proof = proof
                .to_str()
                .map_err(|_| invalid("DPoP header is not ASCII"))?;
            proofs::verify_token_endpoint_proof(proof, &state.token_endpoint, crate::now())
                .map(Some)
                .map_err(invalid)
        }
        _ => Err(invalid("more than one DPoP header")),
    }
}

/// What goes into an issued access token.
struct Grant<'a> {
    sub: &'a str,
    aud: &'a str,
    scope: Option<&'a str>,
    azp: &'a str,
    extra: Map<String, Value>,
}

fn scope_has(scope: Option<&str>, wanted: &str) -> bool {
    scope.is_some_and(|s| s.split(' ').any(|item| item == wanted))
}

/// Signs an access token with the active key.
fn mint_access_token(state: &State, grant: Grant<'_>, jkt: Option<&str>) -> Result<String, Error> {
    let now = crate::now();
    let aud = if scope_has(grant.scope, "openid") {
        json!([grant.aud, format!("{}userinfo", state.issuer)])
    } else {
        json!(grant.aud)
    };
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(state.issuer));
    claims.insert("sub".into(), json!(grant.sub));
    claims.insert("aud".into(), aud);
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + TOKEN_LIFETIME_SECS));
    if let Some(scope) = grant.scope {
        claims.insert("scope".into(), json!(scope));
    }
    claims.insert("azp".into(), json!(grant.azp));
    claims.insert("jti".into(), json!(crate::random_uuid()?));
    claims.extend(grant.extra);
    if let Some(jkt) = jkt {
        claims.insert("cnf".into(), json!({ "jkt": jkt }));
    }
    let keys = read(&state.keys);
    let key = keys
        .active()
        .ok_or_else(|| Error::UnknownKid(keys.active_kid().to_owned()))?;
    let mut header = Map::new();
    header.insert("alg".into(), json!("RS256"));
    header.insert("typ".into(), json!("JWT"));
    header.insert("kid".into(), json!(key.kid));
    sign_rs256(key, &header, &claims)
}

/// A successful token response (`Cache-Control: no-store`).
fn token_response(mut body: Map<String, Value>) -> Reply {
    body.insert("expires_in".into(), json!(TOKEN_LIFETIME_SECS));
    let mut response = json_response(StatusCode::OK, &Value::Object(body));
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// Issues an access token; returns the token response members.
fn issue(
    state: &State,
    grant: Grant<'_>,
    jkt: Option<&str>,
    issued_token_type: Option<&str>,
) -> Result<Map<String, Value>, OAuthError> {
    let scope = grant.scope.map(str::to_owned);
    let access_token =
        mint_access_token(state, grant, jkt).map_err(|e| OAuthError::server_error(&e))?;
    let mut body = Map::new();
    body.insert("access_token".into(), json!(access_token));
    let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
    body.insert("token_type".into(), json!(token_type));
    if let Some(scope) = scope {
        body.insert("scope".into(), json!(scope));
    }
    if let Some(kind) = issued_token_type {
        body.insert("issued_token_type".into(), json!(kind));
    }
    Ok(body)
}

/// The requested audience: Auth0's `audience` or RFC 8707's `resource` (the same value when
/// both are given, else `invalid_target`); required (`invalid_request`), and one the client may
/// get tokens for (else the error made by `denied`).
fn requested_audience<'f>(
    client: &ClientConfig,
    form: &'f Form,
    denied: fn(String) -> OAuthError,
) -> Result<&'f str, OAuthError> {
    let aud = match (form.get("audience"), form.get("resource")) {
        (Some(audience), Some(resource)) if audience != resource => {
            return Err(OAuthError::invalid_target(
                "audience and resource name different APIs",
            ));
        }
        (Some(aud), _) | (None, Some(aud)) => aud,
        (None, None) => return Err(OAuthError::invalid_request("audience is required")),
    };
    if client.audiences.iter().any(|a| a == aud) {
        Ok(aud)
    } else {
        Err(denied(format!(
            "Client \"{}\" is not authorized to access \"{aud}\"",
            client.id
        )))
    }
}

/// The user-authentication claims of an issued token (RFC 9470 section 4): the request's
/// `acr` and `auth_time` parameters (a development hook standing in for how the user logged
/// in), else those of the subject token, if any.
fn authentication_claims(
    form: &Form,
    subject: Option<&Map<String, Value>>,
) -> Result<Map<String, Value>, OAuthError> {
    let mut claims = Map::new();
    let inherited = |name: &str| subject.and_then(|s| s.get(name)).cloned();
    match form.get("acr") {
        Some(acr) => {
            claims.insert("acr".into(), json!(acr));
        }
        None => {
            if let Some(acr @ Value::String(_)) = inherited("acr") {
                claims.insert("acr".into(), acr);
            }
        }
    }
    match form.get("auth_time") {
        Some(text) => {
            let time: i64 = text.parse().map_err(|_| {
                OAuthError::invalid_request("auth_time must be an integer (seconds since 1970)")
            })?;
            claims.insert("auth_time".into(), json!(time));
        }
        None => {
            if let Some(time @ Value::Number(_)) = inherited("auth_time") {
                claims.insert("auth_time".into(), time);
            }
        }
    }
    Ok(claims)
}

/// What the client grants read: the tenant, the authenticated client, the form and the
/// thumbprint of the request's DPoP proof, if any.
#[derive(Clone, Copy)]
struct Grantee<'a>(&'a State, &'a ClientConfig, &'a Form, Option<&'a str>);

fn client_credentials(Grantee(state, client, form, jkt): Grantee<'_>) -> Result<Reply, OAuthError> {
    let aud = requested_audience(client, form, OAuthError::access_denied)?;
    let sub = format!("{}@clients", client.id);
    let mut extra = authentication_claims(form, None)?;
    extra.insert("gty".into(), json!("client-credentials"));
    organization_claims(state, form, &mut extra)?;
    let grant = Grant {
        sub: &sub,
        aud,
        scope: form.get("scope"),
        azp: &client.id,
        extra,
    };
    Ok(token_response(issue(state, grant, jkt, None)?))
}

/// `org_id` and `org_name` for the request's `organization` (an ID or a name, as Auth0 takes
/// it), if it names one.
fn organization_claims(
    state: &State,
    form: &Form,
    extra: &mut Map<String, Value>,
) -> Result<(), OAuthError> {
    let Some(wanted) = form.get("organization") else {
        return Ok(());
    };
    let (id, name) = state
        .organizations
        .iter()
        .find(|(id, name)| id == wanted || name.eq_ignore_ascii_case(wanted))
        .ok_or_else(|| OAuthError::invalid_request("unknown organization"))?;
    extra.insert("org_id".into(), json!(id));
    extra.insert("org_name".into(), json!(name));
    Ok(())
}

/// The two parameters every token exchange needs.
fn subject(form: &Form) -> Result<(&str, &str), OAuthError> {
    match (form.get("subject_token"), form.get("subject_token_type")) {
        (Some(token), Some(kind)) => Ok((token, kind)),
        _ => Err(OAuthError::invalid_request(
            "subject_token and subject_token_type are required",
        )),
    }
}

/// Claims of a valid access token issued by this tenant.
fn own_token_claims(state: &State, token: &str) -> Option<Map<String, Value>> {
    let keys = read(&state.keys);
    validate_own_token(&keys, &state.issuer, token, crate::now())
}

fn token_exchange(Grantee(state, client, form, jkt): Grantee<'_>) -> Result<Reply, OAuthError> {
    let (subject_token, subject_token_type) = subject(form)?;
    if form
        .get("requested_token_type")
        .is_some_and(|t| t != TOKEN_TYPE_ACCESS_TOKEN)
    {
        return Err(OAuthError::invalid_request(
            "requested_token_type must be an access token",
        ));
    }
    let scope = form.get("scope");
    if subject_token_type == TOKEN_TYPE_ACCESS_TOKEN {
        // On-behalf-of: the subject token must be one of ours.
        let claims = own_token_claims(state, subject_token)
            .ok_or_else(|| OAuthError::invalid_grant("Invalid subject token"))?;
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .ok_or_else(|| OAuthError::invalid_grant("Invalid subject token: no sub"))?;
        let aud = requested_audience(client, form, OAuthError::invalid_target)?;
        // The actor: the `sub` of an actor token (RFC 8693 section 2.1) if one is given, else
        // the client making the exchange.
        let actor = match (form.get("actor_token"), form.get("actor_token_type")) {
            (None, None) => client.id.clone(),
            (Some(token), Some(TOKEN_TYPE_ACCESS_TOKEN)) => own_token_claims(state, token)
                .and_then(|c| c.get("sub").and_then(Value::as_str).map(str::to_owned))
                .ok_or_else(|| OAuthError::invalid_grant("Invalid actor token"))?,
            _ => {
                return Err(OAuthError::invalid_request(
                    "actor_token and actor_token_type go together; only access tokens are accepted",
                ));
            }
        };
        let mut act = Map::new();
        act.insert("sub".into(), json!(actor));
        if let Some(previous @ Value::Object(_)) = claims.get("act") {
            act.insert("act".into(), previous.clone());
        }
        let mut extra = authentication_claims(form, Some(&claims))?;
        extra.insert("act".into(), Value::Object(act));
        organization_claims(state, form, &mut extra)?;
        let grant = Grant {
            sub,
            aud,
            scope,
            azp: &client.id,
            extra,
        };
        return Ok(token_response(issue(
            state,
            grant,
            jkt,
            Some(TOKEN_TYPE_ACCESS_TOKEN),
        )?));
    }
    let Some((_, profile)) = state.profiles.iter().find(|(t, _)| t == subject_token_type) else {
        return Err(OAuthError::invalid_request(format!(
            "Unsupported subject_token_type {subject_token_type}"
        )));
    };
    // Custom token exchange: the profile maps the external token to a user.
    let sub =
        profile(subject_token).ok_or_else(|| OAuthError::invalid_grant("Invalid subject token"))?;
    let aud = requested_audience(client, form, OAuthError::invalid_target)?;
    let grant = Grant {
        sub: &sub,
        aud,
        scope,
        azp: &client.id,
        extra: authentication_claims(form, None)?,
    };
    let mut body = issue(state, grant, jkt, Some(TOKEN_TYPE_ACCESS_TOKEN))?;
    if scope_has(scope, "offline_access") {
        let refresh = b64e(&crate::random_bytes::<32>().map_err(|e| OAuthError::server_error(&e))?);
        lock(&state.refresh_tokens).insert(refresh.clone(), sub);
        body.insert("refresh_token".into(), json!(refresh));
    }
    Ok(token_response(body))
}

fn federated_connection(state: &State, form: &Form) -> Result<Reply, OAuthError> {
    let (subject_token, subject_token_type) = subject(form)?;
    if subject_token_type != TOKEN_TYPE_ACCESS_TOKEN
        && subject_token_type != TOKEN_TYPE_REFRESH_TOKEN
    {
        return Err(OAuthError::invalid_request(format!(
            "Unsupported subject_token_type {subject_token_type}"
        )));
    }
    if form.get("requested_token_type") != Some(TOKEN_TYPE_FEDERATED) {
        return Err(OAuthError::invalid_request(format!(
            "requested_token_type must be {TOKEN_TYPE_FEDERATED}"
        )));
    }
    let connection = form
        .get("connection")
        .ok_or_else(|| OAuthError::invalid_request("connection is required"))?;
    let (_, upstream) = state
        .connections
        .iter()
        .find(|(name, _)| name == connection)
        .ok_or_else(|| OAuthError::invalid_request(format!("Unknown connection {connection}")))?;
    let valid = if subject_token_type == TOKEN_TYPE_ACCESS_TOKEN {
        own_token_claims(state, subject_token).is_some()
    } else {
        lock(&state.refresh_tokens).contains_key(subject_token)
    };
    if !valid {
        return Err(OAuthError::invalid_grant("Invalid subject token"));
    }
    let mut body = Map::new();
    body.insert("access_token".into(), json!(upstream));
    body.insert("scope".into(), json!(""));
    body.insert("token_type".into(), json!("Bearer"));
    body.insert("issued_token_type".into(), json!(TOKEN_TYPE_FEDERATED));
    Ok(token_response(body))
}
