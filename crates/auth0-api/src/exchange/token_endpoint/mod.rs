//! One token request: find the endpoint, POST the form, read the answer.
//!
//! Shared by every grant. Stricter than the reference: the endpoint must be https (the client's
//! credentials never travel in clear), redirects are never followed (a 3xx is an error status),
//! the body is capped at [`MAX_BODY_BYTES`], a JSON answer that is not an object is an invalid
//! response, and `expires_in` must be a non-negative integer or a string of ASCII digits.
//! No error built here contains the subject token or a client credential.

use serde_json::Value;
use url::{Url, form_urlencoded};

use super::{ClientAuth, TokenExchange};
use crate::clock::unix_now;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::http::{FetchError, FetchedBody, MAX_BODY_BYTES, send};
use crate::jose::jws::JsonObject;

/// `expires_in` assumed when the response has none (the reference's default).
const DEFAULT_EXPIRES_IN: u64 = 3600;

/// Which grant a request belongs to: decides the kind of input errors and the default error of
/// a failed answer.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flow<'a> {
    /// RFC 8693 token exchange (custom exchange profile or on-behalf-of).
    Exchange {
        subject_token_type: &'a str,
        audience: Option<&'a str>,
    },
    /// Auth0's federated connection access token grant.
    Connection,
}

impl Flow<'_> {
    /// A 400 input error of this flow's kind.
    pub(crate) fn input_error(&self, description: impl Into<String>) -> Error {
        let kind = match self {
            Self::Exchange { .. } => ErrorKind::ExchangeProfile,
            Self::Connection => ErrorKind::ConnectionToken,
        };
        Error::new(kind, description)
    }

    /// Code and description of a failed answer that does not say what went wrong.
    fn default_error(&self, status: u16) -> (&'static str, String) {
        match self {
            Self::Exchange {
                subject_token_type,
                audience,
            } => {
                let mut description =
                    format!("Failed to exchange token of type '{subject_token_type}'");
                if let Some(audience) = audience {
                    description.push_str(&format!(" for audience '{audience}'"));
                }
                ("token_exchange_error", description)
            }
            Self::Connection => (
                "connection_token_error",
                format!("Failed to get token for connection: {status}"),
            ),
        }
    }
}

/// The client's identity and how it proves it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Credentials<'a> {
    pub(crate) client_id: &'a str,
    pub(crate) auth: &'a ClientAuth,
}

/// A successful answer: the checked required fields and every member for the optional ones.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) expires_in: u64,
    pub(crate) expires_at: u64,
    fields: JsonObject,
}

impl TokenResponse {
    /// An optional string member, taken out as given (empty strings included); `null` counts
    /// as absent, any other type is an invalid response.
    pub(crate) fn take_string(&mut self, name: &str) -> Result<Option<String>> {
        match self.fields.remove(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid_response(format!("{name} is not a string."))),
        }
    }
}

/// Sends `form` to the configured domain's token endpoint and reads the answer.
///
/// `form` must not carry client credentials: they are added here (HTTP Basic, or
/// `private_key_jwt` form fields).
pub(crate) async fn request(
    client: &TokenExchange,
    flow: Flow<'_>,
    form: &[(&str, &str)],
    credentials: Credentials<'_>,
) -> Result<TokenResponse> {
    let (endpoint_text, endpoint) = resolve_endpoint(client, flow).await?;
    let client_id_in_form = form.iter().any(|(k, _)| *k == "client_id");
    let auth = credentials.auth.prepare(
        credentials.client_id,
        client_id_in_form,
        &endpoint_text,
        unix_now(),
    )?;

    // Built in its own scope: the serializer is not `Send` and must not live across an await.
    let body = {
        let mut body = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form {
            body.append_pair(k, v);
        }
        for (k, v) in &auth.fields {
            body.append_pair(k, v);
        }
        body.finish()
    };

    let mut req = client
        .http
        .inner()
        .post(endpoint)
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(http::header::ACCEPT, "application/json")
        .timeout(client.settings.timeout)
        .body(body);
    if let Some(authorization) = auth.authorization {
        req = req.header(http::header::AUTHORIZATION, authorization);
    }
    let answer = send(req, MAX_BODY_BYTES).await.map_err(fetch_error)?;
    parse_response(flow, &answer, unix_now())
}

/// The token endpoint from the configured domain's discovery document, as written there and
/// parsed; it must be an https URL.
async fn resolve_endpoint(client: &TokenExchange, flow: Flow<'_>) -> Result<(String, Url)> {
    let discovery = client.discover_configured_domain().await.map_err(|e| {
        Error::token_endpoint(
            "discovery_error",
            format!("Failed to fetch OIDC discovery metadata: {e}"),
            502,
        )
    })?;
    let endpoint = match discovery.token_endpoint.as_deref() {
        Some(e) if !e.is_empty() => e.to_owned(),
        _ => {
            let host = domain_host(client.settings.domain.as_deref().unwrap_or_default());
            return Err(flow.input_error(format!(
                "Token endpoint missing in OIDC metadata. Verify your domain configuration and that the OIDC discovery endpoint (https://{host}/.well-known/openid-configuration) is accessible"
            )));
        }
    };
    let url = check_endpoint(&endpoint).map_err(|msg| flow.input_error(msg))?;
    Ok((endpoint, url))
}

/// Parses the endpoint and refuses anything but an https URL.
fn check_endpoint(endpoint: &str) -> Result<Url, &'static str> {
    let url =
        Url::parse(endpoint).map_err(|_| "Token endpoint in OIDC metadata is not a valid URL")?;
    if url.scheme() != "https" {
        return Err("Token endpoint must use https");
    }
    Ok(url)
}

/// `host[:port]` of a normalised `https://host[:port]/` domain.
fn domain_host(domain: &str) -> &str {
    let host = domain.strip_prefix("https://").unwrap_or(domain);
    host.strip_suffix('/').unwrap_or(host)
}

fn fetch_error(e: FetchError) -> Error {
    match e {
        FetchError::Timeout => {
            Error::token_endpoint("timeout_error", "Request to token endpoint timed out", 504)
        }
        FetchError::Network(reason) => Error::token_endpoint(
            "network_error",
            format!("Network error occurred: {reason}"),
            502,
        ),
        FetchError::TooLarge(_) => invalid_response("Token endpoint response too large"),
        FetchError::Status(status) => invalid_response(format!("Unexpected HTTP status {status}")),
        FetchError::Redirected => {
            invalid_response("Token endpoint redirected; redirects are not followed")
        }
    }
}

fn invalid_response(description: impl Into<String>) -> Error {
    Error::token_endpoint("invalid_response", description, 502)
}

fn invalid_json() -> Error {
    Error::token_endpoint("invalid_json", "Token endpoint returned invalid JSON.", 502)
}

/// Turns an answer into a token or an error; `now` is the current time in seconds.
pub(crate) fn parse_response(
    flow: Flow<'_>,
    answer: &FetchedBody,
    now: u64,
) -> Result<TokenResponse> {
    if answer.status != 200 {
        return Err(error_response(flow, answer));
    }
    let Ok(Value::Object(mut fields)) = serde_json::from_slice::<Value>(&answer.body) else {
        return Err(invalid_json());
    };
    let access_token = match fields.remove("access_token") {
        Some(Value::String(token)) if !token.is_empty() => token,
        _ => {
            return Err(invalid_response(
                "Missing or invalid access_token in response.",
            ));
        }
    };
    let expires_in = expires_in(fields.get("expires_in"))?;
    Ok(TokenResponse {
        access_token,
        expires_in,
        expires_at: now.saturating_add(expires_in),
        fields,
    })
}

/// The error of a non-200 answer: the endpoint's own `error` and `error_description` when it
/// sent a JSON object (any content type containing "json"), else the flow's defaults.
fn error_response(flow: Flow<'_>, answer: &FetchedBody) -> Error {
    let is_json = answer
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().contains("json"));
    let object = is_json
        .then(|| serde_json::from_slice::<JsonObject>(&answer.body).ok())
        .flatten()
        .unwrap_or_default();
    let text = |name: &str| object.get(name).and_then(Value::as_str);
    let (default_code, default_description) = flow.default_error(answer.status);
    Error::token_endpoint(
        text("error").unwrap_or(default_code),
        text("error_description").map_or(default_description, str::to_owned),
        answer.status,
    )
}

/// `expires_in`: absent -> 3600; a non-negative JSON integer or a string of ASCII digits;
/// anything else is an invalid response.
fn expires_in(value: Option<&Value>) -> Result<u64> {
    let not_integer = || invalid_response("expires_in is not an integer.");
    let negative = || invalid_response("expires_in cannot be negative.");
    match value {
        None => Ok(DEFAULT_EXPIRES_IN),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_i64()) {
            (Some(secs), _) => Ok(secs),
            (None, Some(_)) => Err(negative()),
            (None, None) => Err(not_integer()),
        },
        Some(Value::String(s)) => {
            let (is_negative, digits) = match s.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, s.as_str()),
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(not_integer());
            }
            if is_negative {
                return if digits.bytes().all(|b| b == b'0') {
                    Ok(0)
                } else {
                    Err(negative())
                };
            }
            digits.parse::<u64>().map_err(|_| not_integer())
        }
        Some(_) => Err(not_integer()),
    }
}

#[cfg(test)]
mod tests;
