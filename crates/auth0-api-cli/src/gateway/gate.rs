//! The decision every mode shares: route, verify, required claims, actor, scopes; refusals as
//! the library's answers (status, `WWW-Authenticate`, `DPoP-Nonce`, JSON body), built by
//! [`auth0_api_axum::error_response`] as `serve` answers them.

use std::time::Instant;

use auth0_api::challenge::Challenges;
use auth0_api::error::TokenError;
use auth0_api::{ApiClient, Error, ErrorKind, VerifiedRequest, VerifyRequest};
use axum::response::Response;
use http::{HeaderMap, HeaderName, HeaderValue};

use super::routes::{self, Access, RouteTable};

/// What the gateway decided for a request.
pub(crate) enum Decision {
    /// A public path: no authentication.
    Public,
    /// Verified and authorized.
    Allowed {
        /// The identity headers to pass on.
        identity: Vec<(HeaderName, HeaderValue)>,
        /// The `DPoP-Nonce` to send back, when nonces are on.
        nonce: Option<HeaderValue>,
        /// `sub`, for the log line.
        sub: Option<String>,
    },
    /// Refused: the answer, and its OAuth error code for metrics.
    Refused(Response, String),
}

/// The shared verification state.
pub(crate) struct Gate {
    pub(crate) client: ApiClient,
    pub(crate) routes: RouteTable,
    pub(crate) required_claims: Vec<String>,
    /// (resource path, metadata URL), longest path first: the `resource_metadata` of
    /// challenges for requests under that path.
    pub(crate) resource_metadata: Vec<(String, String)>,
    /// Where a trusted proxy puts the client certificate (RFC 8705), if configured.
    pub(crate) client_certificate_header: Option<HeaderName>,
}

impl Gate {
    /// Decides for a request to `path` (the raw path; route matching) with `method`, `url`
    /// (DPoP `htu`) and `headers` (`Authorization`, `DPoP`, and the client certificate's header
    /// when the peer is a trusted proxy: `trusted_peer`). A path not in normal form
    /// ([`routes::route_path`]) is refused, 400 `invalid_request`, public paths included.
    pub(crate) async fn decide(
        &self,
        method: &str,
        url: Option<String>,
        path: &str,
        headers: &HeaderMap,
        trusted_peer: bool,
    ) -> Decision {
        let path = match routes::route_path(path) {
            Ok(p) => p,
            Err(problem) => {
                return Decision::Refused(
                    own_error(
                        http::StatusCode::BAD_REQUEST,
                        "invalid_request",
                        problem.description(),
                    ),
                    "invalid_request".to_owned(),
                );
            }
        };
        let path = path.as_str();
        let policies = match self.routes.access(path) {
            Some(Access::Public) => return Decision::Public,
            Some(Access::Protected(p)) => p.as_slice(),
            None => &[],
        };
        let certificate = match self.client_certificate(headers, trusted_peer) {
            Ok(c) => c,
            Err(e) => return self.refuse(path, self.client.with_challenge(e, None)),
        };
        let mut request = VerifyRequest::from_headers(headers).method(method);
        if let Some(url) = url {
            request = request.url(url);
        }
        if let Some(der) = certificate {
            request = request.client_certificate(der);
        }
        let verified = match self.client.verify_request(request).await {
            Ok(v) => v,
            Err(e) => return self.refuse(path, e),
        };
        let scheme = Some(verified.scheme);
        for claim in &self.required_claims {
            if verified.claims.get(claim).is_none() {
                let e = Error::from(TokenError::MissingClaim(claim.clone()));
                return self.refuse(path, self.client.with_challenge(e, scheme));
            }
        }
        let actor = match auth0_api::act::current_actor(&verified.claims) {
            Ok(a) => a.map(str::to_owned),
            Err(e) => return self.refuse(path, self.client.with_challenge(e, scheme)),
        };
        if let Err(forbidden) = routes::authorize(policies, &verified) {
            let challenges = Challenges::insufficient_scope(
                verified.scheme,
                forbidden.required_scope(),
                Some(self.client.dpop_algs()),
            );
            let e = Error::new(ErrorKind::InsufficientScope, forbidden.description())
                .with_challenges(challenges);
            return self.refuse(path, e);
        }
        allowed(&verified, actor.as_deref())
    }

    /// The client certificate a trusted proxy passed (RFC 8705): from its header, only when the
    /// peer is trusted; one header line at most.
    fn client_certificate(
        &self,
        headers: &HeaderMap,
        trusted_peer: bool,
    ) -> Result<Option<Vec<u8>>, Error> {
        let Some(name) = self
            .client_certificate_header
            .as_ref()
            .filter(|_| trusted_peer)
        else {
            return Ok(None);
        };
        let mut values = headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(auth0_api::error::RequestError::InvalidClientCertificate(
                auth0_api::error::CertificateProblem::Multiple,
            )
            .into()),
            (Some(v), None) => auth0_api::mtls::certificate_from_header(v.as_bytes()),
        }
    }

    /// The refusal for `error` on `path`, with `resource_metadata` when a resource covers it.
    fn refuse(&self, path: &str, error: Error) -> Decision {
        let error = match (self.metadata_url(path), error.challenges()) {
            (Some(url), Some(challenges)) => {
                let mut challenges = challenges.clone();
                challenges.add_to_each("resource_metadata", url);
                error.with_challenges(challenges)
            }
            _ => error,
        };
        Decision::Refused(
            auth0_api_axum::error_response(&error),
            error.error_code().to_owned(),
        )
    }

    fn metadata_url(&self, path: &str) -> Option<&str> {
        self.resource_metadata
            .iter()
            .find(|(prefix, _)| routes::matches(prefix, path))
            .map(|(_, url)| url.as_str())
    }
}

fn allowed(verified: &VerifiedRequest, actor: Option<&str>) -> Decision {
    Decision::Allowed {
        identity: super::identity::headers(verified, actor),
        nonce: verified
            .next_dpop_nonce()
            .and_then(|n| HeaderValue::from_str(n).ok()),
        sub: verified.claims.sub().map(str::to_owned),
    }
}

/// A JSON answer of the gateway itself (not an authentication error): `{"error",
/// "error_description"}` with `status`.
pub(crate) fn own_error(status: http::StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": code, "error_description": description}).to_string();
    let mut r = Response::new(axum::body::Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// One log line per request: never the query, a token or a proof.
pub(crate) fn log(
    method: &str,
    path: &str,
    status: u16,
    outcome: &str,
    sub: Option<&str>,
    started: Instant,
) {
    tracing::info!(
        method,
        path,
        status,
        outcome,
        sub = sub.unwrap_or(""),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
}
