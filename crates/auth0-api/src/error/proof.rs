//! [`ProofError`]: why a DPoP proof was refused (RFC 9449 section 4.3).

use std::fmt;

use super::ErrorKind;

/// How the reference prefixes the errors of its JWS library (authlib).
const JWS_FAILED: &str = "JWT signature verification failed: ";

/// Why a DPoP proof was refused. The `Display` text is the error's description, byte for byte
/// the reference's.
///
/// Every variant is `400 invalid_dpop_proof`, except [`NonceRequired`](Self::NonceRequired) and
/// [`NonceInvalid`](Self::NonceInvalid) (`401 use_dpop_nonce`, with a fresh nonce) and
/// [`ReplayStoreUnavailable`](Self::ReplayStoreUnavailable) (`503 temporarily_unavailable`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// More than one proof (several `DPoP` headers, or a comma in one).
    Multiple,
    /// Not a compact JWS within the size cap, or a header that is not a base64url JSON object.
    Malformed,
    /// The header's `typ` is not `dpop+jwt`.
    WrongType,
    /// The header's `alg` is not one of the configured proof algorithms.
    UnsupportedAlgorithm,
    /// The header has no `jwk` object (or an empty one).
    MissingJwk,
    /// The `jwk` has a private member (`d`, `p`, `k`, ...).
    PrivateKey,
    /// The `jwk`'s `kty` is not the one the algorithm needs (`"EC"`, `"RSA"` or `"OKP"`).
    WrongKeyType {
        /// The key type the algorithm needs.
        expected: &'static str,
    },
    /// The `jwk`'s `crv` is not the one the algorithm needs (`"P-256"`, `"P-384"`, `"Ed25519"`).
    WrongCurve {
        /// The curve the algorithm needs.
        expected: &'static str,
    },
    /// The `jwk` has the right shape but is not a usable key (a point off the curve, say).
    InvalidJwk,
    /// The header has a `crit` member naming this parameter; no extension is understood.
    UnsupportedCritical(String),
    /// The header has a `crit` member that is not a non-empty list of names.
    InvalidCritical,
    /// The payload segment is not base64url.
    PayloadEncoding,
    /// The payload is not UTF-8 JSON.
    PayloadNotJson,
    /// The payload is JSON but not an object.
    PayloadNotObject,
    /// The signature segment is not base64url.
    SignatureEncoding,
    /// The signature does not verify with the header's `jwk`.
    BadSignature,
    /// Required claims are absent, in the order `iat`, `ath`, `htm`, `htu`, `jti`.
    MissingClaims(Vec<&'static str>),
    /// `jti` is not a string.
    JtiNotString,
    /// `jti` is empty or only white space.
    JtiEmpty,
    /// `iat` is not a number.
    IatNotNumber,
    /// `iat` is older than the configured offset allows.
    IatTooOld,
    /// `iat` is further ahead than the configured leeway allows.
    IatInFuture,
    /// `htm` is not the request's method.
    MethodMismatch,
    /// `htu` is not the request's URL (after normalisation).
    UrlMismatch,
    /// `ath` is not the hash of the presented access token.
    AccessTokenHashMismatch,
    /// Server nonces are configured and the proof has no `nonce` (`401 use_dpop_nonce`).
    NonceRequired,
    /// The proof's `nonce` was not issued here, or has expired (`401 use_dpop_nonce`).
    NonceInvalid,
    /// The proof was seen before.
    Replayed,
    /// The proof's key has as many live proofs as one key may have.
    TooManyForKey,
    /// The replay store could not record the proof, so it is refused (`503`).
    ReplayStoreUnavailable,
}

impl ProofError {
    /// The [`ErrorKind`] this failure is reported as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::NonceRequired | Self::NonceInvalid => ErrorKind::UseDpopNonce,
            Self::ReplayStoreUnavailable => ErrorKind::ReplayStoreUnavailable,
            _ => ErrorKind::InvalidDpopProof,
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Multiple => "Multiple DPoP proofs are not allowed",
            Self::Malformed => "Failed to verify DPoP proof",
            Self::WrongType => "Unexpected JWT 'typ' header parameter value",
            Self::UnsupportedAlgorithm => "Unsupported algorithm in DPoP proof",
            Self::MissingJwk => "Missing or invalid jwk in header",
            Self::PrivateKey => "Private key material found in jwk header",
            Self::WrongKeyType { expected } => {
                return write!(f, "Only {expected} keys are supported for DPoP");
            }
            Self::WrongCurve { expected } => {
                return write!(f, "Only {expected} curve is supported");
            }
            Self::InvalidJwk => "Invalid jwk in DPoP proof header",
            Self::UnsupportedCritical(name) => {
                return write!(
                    f,
                    "{JWS_FAILED}invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
                );
            }
            Self::InvalidCritical => {
                return write!(
                    f,
                    "{JWS_FAILED}invalid_header_parameter_name: Invalid Header Parameter Name: crit"
                );
            }
            Self::PayloadEncoding => {
                return write!(f, "{JWS_FAILED}decode_error: Invalid payload padding");
            }
            Self::PayloadNotJson => {
                return write!(f, "{JWS_FAILED}decode_error: Invalid payload value");
            }
            Self::PayloadNotObject => {
                return write!(f, "{JWS_FAILED}decode_error: Invalid payload type");
            }
            Self::SignatureEncoding => {
                return write!(f, "{JWS_FAILED}decode_error: Invalid signature padding");
            }
            Self::BadSignature => return write!(f, "{JWS_FAILED}bad_signature: "),
            Self::MissingClaims(missing) => {
                return match missing.as_slice() {
                    [one] => write!(f, "Missing required claim: {one}"),
                    many => write!(f, "Missing required claims: {}", many.join(", ")),
                };
            }
            Self::JtiNotString => "jti claim must be a string",
            Self::JtiEmpty => "jti claim must not be empty",
            Self::IatNotNumber => "Invalid iat claim (must be integer or float)",
            Self::IatTooOld => "DPoP Proof iat is too old",
            Self::IatInFuture => "DPoP Proof iat is from the future",
            Self::MethodMismatch => "DPoP Proof htm mismatch",
            Self::UrlMismatch => "DPoP Proof htu mismatch",
            Self::AccessTokenHashMismatch => "DPoP Proof ath mismatch",
            Self::NonceRequired => "Resource server requires nonce in DPoP proof",
            Self::NonceInvalid => "DPoP proof nonce is invalid or expired",
            Self::Replayed => "DPoP proof has already been used",
            Self::TooManyForKey => "Too many DPoP proofs for this key",
            Self::ReplayStoreUnavailable => "DPoP replay store unavailable",
        };
        f.write_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins every description: they are the contract with the reference.
    #[test]
    fn every_description_and_kind() {
        use ErrorKind::{
            InvalidDpopProof as Bad, ReplayStoreUnavailable as Down, UseDpopNonce as Nonce,
        };
        let jws = "JWT signature verification failed: ";
        let table: Vec<(ProofError, ErrorKind, String)> = vec![
            (
                ProofError::Multiple,
                Bad,
                "Multiple DPoP proofs are not allowed".into(),
            ),
            (
                ProofError::Malformed,
                Bad,
                "Failed to verify DPoP proof".into(),
            ),
            (
                ProofError::WrongType,
                Bad,
                "Unexpected JWT 'typ' header parameter value".into(),
            ),
            (
                ProofError::UnsupportedAlgorithm,
                Bad,
                "Unsupported algorithm in DPoP proof".into(),
            ),
            (
                ProofError::MissingJwk,
                Bad,
                "Missing or invalid jwk in header".into(),
            ),
            (
                ProofError::PrivateKey,
                Bad,
                "Private key material found in jwk header".into(),
            ),
            (
                ProofError::WrongKeyType { expected: "EC" },
                Bad,
                "Only EC keys are supported for DPoP".into(),
            ),
            (
                ProofError::WrongKeyType { expected: "RSA" },
                Bad,
                "Only RSA keys are supported for DPoP".into(),
            ),
            (
                ProofError::WrongKeyType { expected: "OKP" },
                Bad,
                "Only OKP keys are supported for DPoP".into(),
            ),
            (
                ProofError::WrongCurve { expected: "P-256" },
                Bad,
                "Only P-256 curve is supported".into(),
            ),
            (
                ProofError::WrongCurve {
                    expected: "Ed25519",
                },
                Bad,
                "Only Ed25519 curve is supported".into(),
            ),
            (
                ProofError::InvalidJwk,
                Bad,
                "Invalid jwk in DPoP proof header".into(),
            ),
            (
                ProofError::UnsupportedCritical("exp".into()),
                Bad,
                format!(
                    "{jws}invalid_crit_header_parameter_name: Invalid Header Parameter Name: exp"
                ),
            ),
            (
                ProofError::InvalidCritical,
                Bad,
                format!("{jws}invalid_header_parameter_name: Invalid Header Parameter Name: crit"),
            ),
            (
                ProofError::PayloadEncoding,
                Bad,
                format!("{jws}decode_error: Invalid payload padding"),
            ),
            (
                ProofError::PayloadNotJson,
                Bad,
                format!("{jws}decode_error: Invalid payload value"),
            ),
            (
                ProofError::PayloadNotObject,
                Bad,
                format!("{jws}decode_error: Invalid payload type"),
            ),
            (
                ProofError::SignatureEncoding,
                Bad,
                format!("{jws}decode_error: Invalid signature padding"),
            ),
            (
                ProofError::BadSignature,
                Bad,
                format!("{jws}bad_signature: "),
            ),
            (
                ProofError::MissingClaims(vec!["jti"]),
                Bad,
                "Missing required claim: jti".into(),
            ),
            (
                ProofError::MissingClaims(vec!["iat", "htu"]),
                Bad,
                "Missing required claims: iat, htu".into(),
            ),
            (
                ProofError::JtiNotString,
                Bad,
                "jti claim must be a string".into(),
            ),
            (
                ProofError::JtiEmpty,
                Bad,
                "jti claim must not be empty".into(),
            ),
            (
                ProofError::IatNotNumber,
                Bad,
                "Invalid iat claim (must be integer or float)".into(),
            ),
            (
                ProofError::IatTooOld,
                Bad,
                "DPoP Proof iat is too old".into(),
            ),
            (
                ProofError::IatInFuture,
                Bad,
                "DPoP Proof iat is from the future".into(),
            ),
            (
                ProofError::MethodMismatch,
                Bad,
                "DPoP Proof htm mismatch".into(),
            ),
            (
                ProofError::UrlMismatch,
                Bad,
                "DPoP Proof htu mismatch".into(),
            ),
            (
                ProofError::AccessTokenHashMismatch,
                Bad,
                "DPoP Proof ath mismatch".into(),
            ),
            (
                ProofError::NonceRequired,
                Nonce,
                "Resource server requires nonce in DPoP proof".into(),
            ),
            (
                ProofError::NonceInvalid,
                Nonce,
                "DPoP proof nonce is invalid or expired".into(),
            ),
            (
                ProofError::Replayed,
                Bad,
                "DPoP proof has already been used".into(),
            ),
            (
                ProofError::TooManyForKey,
                Bad,
                "Too many DPoP proofs for this key".into(),
            ),
            (
                ProofError::ReplayStoreUnavailable,
                Down,
                "DPoP replay store unavailable".into(),
            ),
        ];
        for (reason, kind, text) in table {
            assert_eq!(reason.to_string(), text);
            assert_eq!(reason.kind(), kind, "{reason:?}");
            let err = crate::Error::from(reason.clone());
            assert_eq!(err.description(), text);
            assert_eq!(err.proof_error(), Some(&reason));
        }
    }
}
