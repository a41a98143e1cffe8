//! [`ApiClient::verify_request`]: one entry point per request. Reads the `Authorization` scheme
//! (Bearer or DPoP) in the reference's order, verifies the token, and for DPoP the proof and its
//! `cnf.jkt` binding; every failure carries the challenges of this client's DPoP mode.

use std::sync::OnceLock;
use std::time::SystemTime;

use super::{ApiClient, DPOP_HEADER, VerifiedRequest};
use crate::challenge::AuthScheme;
use crate::claims::Confirmation;
use crate::error::{Error, ErrorKind, NoCredentials, ProofError, RequestError, Result, TokenError};
use crate::jose::jws::MAX_PROOF_BYTES;
use crate::mtls::{self, CertificateBinding};
use crate::request::VerifyRequest;
use crate::settings::DpopMode;
use crate::token_location::TokenSource;
use crate::verify::RequestContext;
use crate::verify::token_cache::TokenCache;

impl ApiClient {
    /// [`verify_request`](Self::verify_request)'s work, unobserved.
    pub(super) async fn authenticate(&self, request: VerifyRequest<'_>) -> Result<VerifiedRequest> {
        let mode = self.inner.options.dpop_mode;
        let prepare = |e: Error, scheme: Option<AuthScheme>| self.with_challenge(e, scheme);
        let refuse = |e: RequestError, scheme: Option<AuthScheme>| prepare(e.into(), scheme);
        let no_credentials =
            |why: NoCredentials, scheme| refuse(RequestError::MissingCredentials(why), scheme);
        // Errors from below keep their challenge unless they are of a kind the reference leaves
        // bare (resolver failures, store outages).
        let prepare_token_error = |e: Error, scheme: AuthScheme| -> Error {
            match e.kind() {
                ErrorKind::DomainsResolver
                | ErrorKind::OrganizationResolver
                | ErrorKind::ReplayStoreUnavailable
                | ErrorKind::Configuration => e,
                _ => prepare(e, Some(scheme)),
            }
        };

        let mut authorizations = request.headers.get_all(http::header::AUTHORIZATION).iter();
        let mut authorization = match (authorizations.next(), authorizations.next()) {
            (None, _) => "",
            (Some(_), Some(_)) => {
                return Err(refuse(RequestError::MultipleAuthorization, None));
            }
            // A token over the size cap is refused as a token (401 invalid_token), below.
            (Some(v), None) => v.to_str().unwrap_or_default(),
        };
        // A token elsewhere (opt-in): one method per request, verified as a Bearer token.
        let elsewhere;
        let mut token_source = TokenSource::Authorization;
        if let Some(locations) = &self.inner.options.token_locations {
            let header_present = request.headers.contains_key(http::header::AUTHORIZATION);
            match locations.find(&request) {
                Err(e) => return Err(refuse(e, None)),
                Ok(Some(_)) if header_present => {
                    return Err(refuse(RequestError::SeveralTokenMethods, None));
                }
                Ok(Some((source, token))) => {
                    elsewhere = format!("Bearer {token}");
                    authorization = &elsewhere;
                    token_source = source;
                }
                Ok(None) => {}
            }
        }
        if authorization.is_empty() {
            return Err(no_credentials(
                if mode == DpopMode::Required {
                    NoCredentials::DpopRequired
                } else {
                    NoCredentials::NoAuthorization
                },
                None,
            ));
        }
        let Some((scheme_raw, token)) = split_authorization(authorization) else {
            return Err(no_credentials(NoCredentials::MalformedAuthorization, None));
        };
        let scheme = if scheme_raw.eq_ignore_ascii_case("dpop") {
            Some(AuthScheme::Dpop)
        } else if scheme_raw.eq_ignore_ascii_case("bearer") {
            Some(AuthScheme::Bearer)
        } else {
            None
        };
        if mode == DpopMode::Required && scheme != Some(AuthScheme::Dpop) {
            return Err(no_credentials(NoCredentials::DpopRequired, scheme));
        }

        let mut proofs = request
            .headers
            .get_all(DPOP_HEADER)
            .iter()
            .filter(|v| !v.is_empty());
        let proof = proofs.next();
        let several_proofs = proofs.next().is_some();
        let url = request.url.as_deref().filter(|u| !u.is_empty());
        let method = request.method.as_deref().filter(|m| !m.is_empty());

        match scheme {
            Some(AuthScheme::Dpop) => {
                let s = Some(AuthScheme::Dpop);
                if mode == DpopMode::Disabled {
                    return Err(no_credentials(NoCredentials::DpopDisabled, None));
                }
                let Some(proof) = proof else {
                    return Err(no_credentials(NoCredentials::NoProof, s));
                };
                if several_proofs || memchr::memchr(b',', proof.as_bytes()).is_some() {
                    return Err(prepare(ProofError::Multiple.into(), s));
                }
                // The reference's first check: the proof's header decodes as a JSON object. The
                // prepared proof keeps what was read, so the header is not decoded again below.
                let prepared = proof
                    .to_str()
                    .ok()
                    .filter(|p| p.len() <= MAX_PROOF_BYTES)
                    .and_then(|p| self.inner.dpop.prepare_proof(p).ok());
                let Some(proof) = prepared else {
                    return Err(prepare(ProofError::Malformed.into(), s));
                };
                let (Some(method), Some(url)) = (method, url) else {
                    let missing: Vec<&str> = [
                        ("http_method", method.is_none()),
                        ("http_url", url.is_none()),
                    ]
                    .into_iter()
                    .filter_map(|(name, absent)| absent.then_some(name))
                    .collect();
                    // The reference passes this text as the *argument name* of its
                    // MissingRequiredArgumentError, so clients see it inside the usual sentence.
                    return Err(refuse(
                        RequestError::MissingArgument(format!(
                            "DPoP authentication requires {}",
                            missing.join(" and ")
                        )),
                        s,
                    ));
                };
                // The proof's expected `ath`: the token's SHA-256, which the signature check
                // computes on the way when it hashes with SHA-256; hashed here otherwise (a
                // cached token, say), once the token verified (so within the size cap).
                let token_digest = OnceLock::new();
                let context = RequestContext {
                    url: Some(url),
                    headers: Some(&request.headers),
                    token_digest: Some(&token_digest),
                };
                let claims = self
                    .verify_token(token, &[], context)
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Dpop))?;
                let digest = match token_digest.get() {
                    Some(digest) => *digest,
                    None => TokenCache::sha256(token),
                };
                let expected = match claims.confirmation() {
                    Confirmation::None => {
                        return Err(prepare(TokenError::NoConfirmation.into(), s));
                    }
                    Confirmation::NotObject => {
                        return Err(prepare(TokenError::InvalidConfirmation.into(), s));
                    }
                    Confirmation::Object { jkt } => jkt,
                };
                let verified = self
                    .inner
                    .dpop
                    .verify_prepared(token, proof, method, url, Some(&digest), SystemTime::now())
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Dpop))?;
                let Some(expected) = expected else {
                    return Err(prepare(TokenError::MissingJkt.into(), s));
                };
                if !expected.is(&verified.jkt) {
                    return Err(prepare(TokenError::ConfirmationMismatch.into(), s));
                }
                // RFC 8705: every confirmation in `cnf` must hold, the certificate's too.
                self.check_certificate(&claims, &request)
                    .map_err(|e| prepare(e.into(), s))?;
                Ok(VerifiedRequest {
                    claims,
                    scheme: AuthScheme::Dpop,
                    proof: Some(verified),
                    token_source,
                })
            }
            Some(AuthScheme::Bearer) => {
                let s = Some(AuthScheme::Bearer);
                let context = RequestContext {
                    url,
                    headers: Some(&request.headers),
                    token_digest: None,
                };
                let claims = self
                    .verify_token(token, &[], context)
                    .await
                    .map_err(|e| prepare_token_error(e, AuthScheme::Bearer))?;
                if mode != DpopMode::Disabled {
                    if matches!(claims.confirmation(), Confirmation::Object { jkt: Some(_) }) {
                        return Err(prepare(TokenError::BoundToDpop.into(), s));
                    }
                    if proof.is_some() {
                        return Err(refuse(RequestError::ProofWithBearer, s));
                    }
                }
                self.check_certificate(&claims, &request)
                    .map_err(|e| prepare(e.into(), s))?;
                Ok(VerifiedRequest {
                    claims,
                    scheme: AuthScheme::Bearer,
                    proof: None,
                    token_source,
                })
            }
            None => Err(no_credentials(NoCredentials::UnsupportedScheme, None)),
        }
    }
}

impl ApiClient {
    /// The certificate binding (RFC 8705 section 3), when this client enforces it.
    fn check_certificate(
        &self,
        claims: &crate::Claims,
        request: &VerifyRequest<'_>,
    ) -> Result<(), TokenError> {
        match self.inner.options.certificate_binding {
            CertificateBinding::Enforced => {
                mtls::check_binding(claims, request.client_certificate.as_deref())
            }
            _ => Ok(()),
        }
    }
}

/// Python's `str.split(None, 1)`: the scheme, then the rest after the first whitespace run.
fn split_authorization(value: &str) -> Option<(&str, &str)> {
    let value = value.trim_start();
    let end = value.find(char::is_whitespace)?;
    let scheme = &value[..end];
    let rest = value[end..].trim_start();
    (!rest.is_empty()).then_some((scheme, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_splits_like_python() {
        assert_eq!(split_authorization("Bearer abc"), Some(("Bearer", "abc")));
        assert_eq!(
            split_authorization("Bearer \t  abc"),
            Some(("Bearer", "abc"))
        );
        assert_eq!(
            split_authorization("  DPoP abc def"),
            Some(("DPoP", "abc def"))
        );
        assert_eq!(
            split_authorization("Bearer\tabc  "),
            Some(("Bearer", "abc  "))
        );
        assert_eq!(split_authorization("Bearer"), None);
        assert_eq!(split_authorization("Bearer   "), None);
        assert_eq!(split_authorization(""), None);
    }
}
