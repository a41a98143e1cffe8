//! [`DpopVerifier`]: the DPoP checks in the reference's order, from the arguments to the replay
//! store.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::VerifiedProof;
use super::nonce::{self, NonceConfig};
use super::payload::{Expected, ProofPayload};
use super::proof_header::HeaderChecks;
pub(crate) use super::proof_header::PreparedProof;
use super::replay::{InMemoryReplayStore, ReplayStore, ReplayStoreError, replay_key};
use crate::claims::Claims;
use crate::error::{Error, ProofError, RequestError, Result};
use crate::settings::Algorithm;

/// The settings a [`DpopVerifier`] is built from.
pub(crate) struct DpopSettings {
    pub(crate) algorithms: Vec<Algorithm>,
    pub(crate) iat_leeway: Duration,
    pub(crate) iat_offset: Duration,
    pub(crate) replay_protection: bool,
    pub(crate) replay_store: Option<Arc<dyn ReplayStore>>,
    pub(crate) nonce: Option<NonceConfig>,
}

/// Checks DPoP proofs; built once per client from its options.
pub(crate) struct DpopVerifier {
    algs: String,
    iat_leeway: f64,
    iat_offset: f64,
    replay: Option<Arc<dyn ReplayStore>>,
    replay_ttl: Duration,
    nonce: Option<NonceConfig>,
    /// The header checks, and the headers that passed them.
    pub(super) headers: HeaderChecks,
}

impl fmt::Debug for DpopVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DpopVerifier")
            .field("algorithms", &self.headers.algorithms())
            .field("iat_leeway", &self.iat_leeway)
            .field("iat_offset", &self.iat_offset)
            .field("replay_protection", &self.replay.is_some())
            .field("nonce", &self.nonce)
            .finish()
    }
}

impl DpopVerifier {
    /// Builds the verifier: proof algorithms, `iat` window, replay store (the configured one, or
    /// a default [`InMemoryReplayStore`] when replay protection is on) and nonces.
    pub(crate) fn new(settings: DpopSettings) -> Self {
        let replay = settings.replay_protection.then(|| {
            settings
                .replay_store
                .unwrap_or_else(|| Arc::new(InMemoryReplayStore::default()) as Arc<dyn ReplayStore>)
        });
        let algs = settings
            .algorithms
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            algs,
            iat_leeway: settings.iat_leeway.as_secs_f64(),
            iat_offset: settings.iat_offset.as_secs_f64(),
            replay,
            replay_ttl: settings.iat_offset.saturating_add(settings.iat_leeway),
            nonce: settings.nonce,
            headers: HeaderChecks::new(settings.algorithms),
        }
    }

    /// The accepted proof algorithms, space-separated (`"ES256"`), for the challenges' `algs`.
    pub(crate) fn algs(&self) -> &str {
        &self.algs
    }

    /// A fresh server nonce when nonces are configured (for a `DPoP-Nonce` response header).
    pub(crate) fn issue_nonce(&self) -> Option<String> {
        self.nonce.as_ref().map(|n| n.issue(SystemTime::now()))
    }

    /// Checks `proof` for a request with `http_method` to `http_url` carrying `access_token`.
    ///
    /// # Errors
    /// `invalid_request` for an empty argument, `invalid_dpop_proof` for a bad or replayed proof,
    /// `use_dpop_nonce` when a valid server nonce is required, `temporarily_unavailable` when the
    /// replay store cannot record the proof.
    pub(crate) async fn verify(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
    ) -> Result<VerifiedProof> {
        self.verify_at(
            access_token,
            proof,
            http_method,
            http_url,
            SystemTime::now(),
        )
        .await
    }

    pub(super) async fn verify_at(
        &self,
        access_token: &str,
        proof: &str,
        http_method: &str,
        http_url: &str,
        now: SystemTime,
    ) -> Result<VerifiedProof> {
        if proof.is_empty() {
            return Err(RequestError::MissingArgument("dpop_proof".to_owned()).into());
        }
        let prepared = self.prepare_proof(proof)?;
        self.verify_prepared(access_token, prepared, http_method, http_url, None, now)
            .await
    }

    /// Splits `proof` and reads its header: from the checked headers when this header was seen
    /// before, else by decoding it as a JSON object (the checks then run in
    /// [`verify_prepared`](Self::verify_prepared)).
    ///
    /// # Errors
    /// [`ProofError::Malformed`] when `proof` is not three segments within the size cap or its
    /// header is not a base64url JSON object.
    pub(crate) fn prepare_proof<'a>(
        &self,
        proof: &'a str,
    ) -> Result<PreparedProof<'a>, ProofError> {
        self.headers.prepare(proof)
    }

    /// [`verify`](Self::verify) for a proof already [prepared](Self::prepare_proof), at `now`;
    /// `token_digest` is the access token's SHA-256 when the caller has it.
    ///
    /// # Errors
    /// As [`verify`](Self::verify), less those of [`prepare_proof`](Self::prepare_proof).
    pub(crate) async fn verify_prepared(
        &self,
        access_token: &str,
        proof: PreparedProof<'_>,
        http_method: &str,
        http_url: &str,
        token_digest: Option<&[u8; 32]>,
        now: SystemTime,
    ) -> Result<VerifiedProof> {
        // A prepared proof is not empty; the other arguments are checked as `verify` does.
        check_arguments(access_token, http_method, http_url)?;
        let header = self.headers.check(&proof)?;
        let mut text = String::new();
        let claims = ProofPayload::decode_and_verify(&proof.segments, &header.key, &mut text)?;
        claims.check(&Expected {
            access_token,
            token_digest,
            http_method,
            http_url,
            now: nonce::unix_secs(now),
            iat_offset: self.iat_offset,
            iat_leeway: self.iat_leeway,
        })?;

        let next_nonce = match &self.nonce {
            Some(config) => Some(
                claims
                    .check_nonce(config, now)
                    .map_err(|(e, fresh)| Error::from(e).with_dpop_nonce(fresh))?,
            ),
            None => None,
        };

        if let Some(store) = &self.replay {
            let (jkt, ttl) = (header.jkt.as_str(), self.replay_ttl);
            match store
                .check_and_insert(replay_key(jkt, claims.jti()), jkt, ttl)
                .await
            {
                Ok(true) => {}
                Ok(false) => return Err(ProofError::Replayed.into()),
                Err(ReplayStoreError::PerKeyLimit) => return Err(ProofError::TooManyForKey.into()),
                Err(e) => {
                    tracing::warn!(error = %e, "DPoP replay store refused a proof; failing closed");
                    return Err(Error::from(ProofError::ReplayStoreUnavailable).with_source(e));
                }
            }
        }

        Ok(VerifiedProof {
            claims: Claims::from_text(text),
            jkt: header.jkt.clone(),
            next_nonce,
        })
    }
}

/// The reference's empty-argument checks after the proof's: `invalid_request`.
fn check_arguments(
    access_token: &str,
    http_method: &str,
    http_url: &str,
) -> Result<(), RequestError> {
    if access_token.is_empty() {
        return Err(RequestError::MissingArgument("access_token".to_owned()));
    }
    if http_method.is_empty() || http_url.is_empty() {
        return Err(RequestError::MissingArgument(
            "http_method/http_url".to_owned(),
        ));
    }
    Ok(())
}
