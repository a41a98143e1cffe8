//! [`TokenError`]: why an access token was refused (`401 invalid_token`).

use std::fmt;

/// The part of a compact JWS that could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenPart {
    /// The JOSE header (also reported for a token that does not split into three segments).
    Header,
    /// The claims.
    Payload,
}

/// Why an access token was refused. The `Display` text is the error's description, byte for
/// byte the reference's.
///
/// The variants follow the order of the checks: decoding, the unverified issuer, discovery, the
/// key set, the signature, the claims, then the DPoP binding and the `act` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The token does not split into segments, or a segment is not base64url JSON.
    Malformed {
        /// Which segment.
        part: TokenPart,
        /// What the decoder said.
        detail: String,
    },
    /// The header names an HMAC (`HS*`) algorithm, never accepted for an access token.
    SymmetricAlgorithm(String),
    /// No truthy `iss` claim.
    MissingIssuer,
    /// The `iss` claim is not an `https://host[:port]/` issuer; the detail says why.
    InvalidIssuer(String),
    /// The issuer is not one of the allowed domains.
    IssuerNotAllowed,
    /// The issuer's discovery document could not be fetched or parsed.
    Discovery(String),
    /// The discovery document has no `issuer`.
    DiscoveryMissingIssuer,
    /// The discovery document's `issuer` is not a valid issuer; the detail says why.
    InvalidDiscoveryIssuer(String),
    /// The token's issuer differs from the discovery document's (after normalisation).
    DiscoveryIssuerMismatch,
    /// The discovery document has no `jwks_uri`.
    MissingJwksUri,
    /// The key set could not be fetched or parsed (or its URI is not `https`).
    Jwks(String),
    /// The header has no truthy `kid`.
    MissingKid,
    /// No key of the key set has the token's `kid`.
    UnknownKey,
    /// The header has a `crit` member naming this extension (none is understood).
    CriticalHeader(String),
    /// The header's `crit` member is not an array of strings.
    InvalidCriticalHeader,
    /// The signature segment is not base64url.
    SignatureEncoding,
    /// The header has no `alg`.
    MissingAlgorithm,
    /// The header's `alg` is not one of the allowed algorithms.
    UnsupportedAlgorithm,
    /// The key found cannot verify with the token's algorithm; the detail says why.
    InvalidKey(String),
    /// The signature does not verify.
    BadSignature,
    /// The verified `iss` is not exactly the discovery document's `issuer`.
    IssuerMismatch,
    /// The audience is not the configured one.
    AudienceMismatch {
        /// The token's `aud` is an array (none of its members matched).
        array: bool,
    },
    /// `exp` is not in the future.
    Expired,
    /// A time claim (`exp`, `iat`, `nbf`) is not a number.
    InvalidTimeClaim(String),
    /// No `iat` claim.
    MissingIssuedAt,
    /// `nbf` is in the future.
    NotYetValid,
    /// A claim required by the caller is absent.
    MissingClaim(String),
    /// A DPoP request's token has no `cnf` claim.
    NoConfirmation,
    /// A DPoP request's token has a `cnf` claim that is not an object.
    InvalidConfirmation,
    /// A DPoP request's token has a `cnf` object without `jkt`.
    MissingJkt,
    /// The token's `cnf.jkt` is not the thumbprint of the proof's key.
    ConfirmationMismatch,
    /// A DPoP-bound token was presented with the `Bearer` scheme.
    BoundToDpop,
    /// The `act` claim is not an object with a non-blank string `sub` (at some level).
    InvalidActor,
    /// The `act` chain is deeper than [`MAX_DELEGATION_DEPTH`](crate::act::MAX_DELEGATION_DEPTH).
    DelegationTooDeep,
    /// An organization is required and the token's claim for it is absent or not a string
    /// ([`crate::organization`]).
    OrganizationMissing(OrganizationClaim),
    /// An organization is required and the token names another one.
    OrganizationMismatch(OrganizationClaim),
    /// The token is bound to a client certificate (`cnf.x5t#S256`, RFC 8705 section 3) and
    /// the request came with none ([`crate::mtls`]).
    CertificateRequired,
    /// The token is bound to another client certificate than the request's (or its
    /// `cnf.x5t#S256` is not a string).
    CertificateMismatch,
    /// An encrypted access token (JWE) could not be decrypted: any algorithm but
    /// `RSA-OAEP-256` + `A256GCM`, any malformed segment, a wrong key, any tampering. One
    /// reason and one text for all of them, on purpose ([`crate::ApiClientOptionsBuilder::access_token_decryption_key_pem`]).
    Undecryptable,
    /// A decryption key is configured and the access token is not encrypted (a plain JWS),
    /// while [`accept_unencrypted_access_tokens`](crate::ApiClientOptionsBuilder::accept_unencrypted_access_tokens)
    /// is off.
    NotEncrypted,
}

/// Which claim an organization check read: `org_id` for IDs (`org_...`), `org_name` for names,
/// either when the accepted organizations mix the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OrganizationClaim {
    /// `org_id`.
    Id,
    /// `org_name`.
    Name,
    /// `org_id` or `org_name`.
    Either,
}

impl OrganizationClaim {
    fn label(self) -> &'static str {
        match self {
            Self::Id => "Organization ID (org_id)",
            Self::Name => "Organization Name (org_name)",
            Self::Either => "Organization (org_id or org_name)",
        }
    }
}

fn signature(f: &mut fmt::Formatter<'_>, detail: fmt::Arguments<'_>) -> fmt::Result {
    write!(f, "Signature verification failed: {detail}")
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { part, detail } => {
                let part = match part {
                    TokenPart::Header => "header",
                    TokenPart::Payload => "payload",
                };
                write!(f, "Failed to parse token {part}: {detail}")
            }
            Self::SymmetricAlgorithm(alg) => write!(
                f,
                "Symmetric algorithm '{alg}' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed."
            ),
            Self::MissingIssuer => f.write_str("Token missing 'iss' claim"),
            Self::InvalidIssuer(e) => write!(f, "Invalid token issuer format: {e}"),
            Self::IssuerNotAllowed => {
                f.write_str("Token issuer is not in the list of allowed domains")
            }
            Self::Discovery(e) => write!(f, "Failed to fetch OIDC discovery metadata: {e}"),
            Self::DiscoveryMissingIssuer => {
                f.write_str("Discovery metadata missing 'issuer' field")
            }
            Self::InvalidDiscoveryIssuer(e) => write!(f, "Invalid discovery issuer format: {e}"),
            Self::DiscoveryIssuerMismatch => {
                f.write_str("Token issuer does not match the discovery issuer")
            }
            Self::MissingJwksUri => f.write_str("Discovery metadata missing 'jwks_uri' field"),
            Self::Jwks(e) => write!(f, "Failed to fetch JWKS: {e}"),
            Self::MissingKid => f.write_str("Token header missing 'kid' claim"),
            Self::UnknownKey => f.write_str("No matching key found in JWKS"),
            Self::CriticalHeader(name) => signature(
                f,
                format_args!(
                    "invalid_crit_header_parameter_name: Invalid Header Parameter Name: {name}"
                ),
            ),
            Self::InvalidCriticalHeader => signature(
                f,
                format_args!("invalid_header_parameter_name: Invalid Header Parameter Name: crit"),
            ),
            Self::SignatureEncoding => {
                signature(f, format_args!("decode_error: Invalid signature padding"))
            }
            Self::MissingAlgorithm => signature(f, format_args!("missing_algorithm: ")),
            Self::UnsupportedAlgorithm => signature(f, format_args!("unsupported_algorithm: ")),
            Self::InvalidKey(e) => signature(f, format_args!("invalid_key: {e}")),
            Self::BadSignature => signature(f, format_args!("bad_signature: ")),
            Self::IssuerMismatch => {
                f.write_str("Verified Token issuer does not match the discovery issuer")
            }
            Self::AudienceMismatch { array: true } => {
                f.write_str("Audience mismatch (not in token's aud array)")
            }
            Self::AudienceMismatch { array: false } => {
                f.write_str("Audience mismatch (single aud)")
            }
            Self::Expired => f.write_str("Token is expired"),
            Self::InvalidTimeClaim(name) => write!(f, "Invalid '{name}' claim (must be a number)"),
            Self::MissingIssuedAt => f.write_str("Missing 'iat' claim in token"),
            Self::NotYetValid => f.write_str("Token is not yet valid (nbf)"),
            Self::MissingClaim(claim) => write!(f, "Missing required claim: {claim}"),
            Self::NoConfirmation => f.write_str("JWT Access Token has no jkt confirmation claim"),
            Self::InvalidConfirmation => {
                f.write_str("JWT Access Token has invalid confirmation claim format")
            }
            Self::MissingJkt => f.write_str("Access token 'cnf' claim missing 'jkt'"),
            Self::ConfirmationMismatch => f.write_str("JWT Access Token confirmation mismatch"),
            Self::BoundToDpop => {
                f.write_str("DPoP-bound token requires the DPoP authentication scheme, not Bearer")
            }
            Self::InvalidActor => f.write_str("Invalid act claim"),
            Self::DelegationTooDeep => f.write_str("Invalid act claim: delegation chain too deep"),
            Self::OrganizationMissing(claim) => write!(
                f,
                "{} claim must be a string present in the access token",
                claim.label()
            ),
            Self::OrganizationMismatch(claim) => write!(
                f,
                "{} claim does not match an accepted organization",
                claim.label()
            ),
            Self::CertificateRequired => {
                f.write_str("Certificate-bound token requires a mutual-TLS client certificate")
            }
            Self::CertificateMismatch => f.write_str(
                "Certificate-bound token does not match the client certificate (x5t#S256)",
            ),
            Self::Undecryptable => f.write_str("Access token could not be decrypted"),
            Self::NotEncrypted => f.write_str("Access token must be encrypted (JWE)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant's text, pinned: these are the reference's descriptions (and challenges).
    #[test]
    fn every_variant_renders_the_reference_text() {
        let s = |v: &str| v.to_owned();
        let table = [
            (
                TokenError::Malformed {
                    part: TokenPart::Header,
                    detail: s("x"),
                },
                "Failed to parse token header: x",
            ),
            (
                TokenError::Malformed {
                    part: TokenPart::Payload,
                    detail: s("y"),
                },
                "Failed to parse token payload: y",
            ),
            (
                TokenError::SymmetricAlgorithm(s("HS256")),
                "Symmetric algorithm 'HS256' is not supported. Only asymmetric algorithms (e.g., RS256) are allowed.",
            ),
            (TokenError::MissingIssuer, "Token missing 'iss' claim"),
            (
                TokenError::InvalidIssuer(s("d")),
                "Invalid token issuer format: d",
            ),
            (
                TokenError::IssuerNotAllowed,
                "Token issuer is not in the list of allowed domains",
            ),
            (
                TokenError::Discovery(s("d")),
                "Failed to fetch OIDC discovery metadata: d",
            ),
            (
                TokenError::DiscoveryMissingIssuer,
                "Discovery metadata missing 'issuer' field",
            ),
            (
                TokenError::InvalidDiscoveryIssuer(s("d")),
                "Invalid discovery issuer format: d",
            ),
            (
                TokenError::DiscoveryIssuerMismatch,
                "Token issuer does not match the discovery issuer",
            ),
            (
                TokenError::MissingJwksUri,
                "Discovery metadata missing 'jwks_uri' field",
            ),
            (TokenError::Jwks(s("d")), "Failed to fetch JWKS: d"),
            (TokenError::MissingKid, "Token header missing 'kid' claim"),
            (TokenError::UnknownKey, "No matching key found in JWKS"),
            (
                TokenError::CriticalHeader(s("b64")),
                "Signature verification failed: invalid_crit_header_parameter_name: Invalid Header Parameter Name: b64",
            ),
            (
                TokenError::InvalidCriticalHeader,
                "Signature verification failed: invalid_header_parameter_name: Invalid Header Parameter Name: crit",
            ),
            (
                TokenError::SignatureEncoding,
                "Signature verification failed: decode_error: Invalid signature padding",
            ),
            (
                TokenError::MissingAlgorithm,
                "Signature verification failed: missing_algorithm: ",
            ),
            (
                TokenError::UnsupportedAlgorithm,
                "Signature verification failed: unsupported_algorithm: ",
            ),
            (
                TokenError::InvalidKey(s("d")),
                "Signature verification failed: invalid_key: d",
            ),
            (
                TokenError::BadSignature,
                "Signature verification failed: bad_signature: ",
            ),
            (
                TokenError::IssuerMismatch,
                "Verified Token issuer does not match the discovery issuer",
            ),
            (
                TokenError::AudienceMismatch { array: true },
                "Audience mismatch (not in token's aud array)",
            ),
            (
                TokenError::AudienceMismatch { array: false },
                "Audience mismatch (single aud)",
            ),
            (TokenError::Expired, "Token is expired"),
            (
                TokenError::InvalidTimeClaim(s("exp")),
                "Invalid 'exp' claim (must be a number)",
            ),
            (TokenError::MissingIssuedAt, "Missing 'iat' claim in token"),
            (TokenError::NotYetValid, "Token is not yet valid (nbf)"),
            (
                TokenError::MissingClaim(s("scope")),
                "Missing required claim: scope",
            ),
            (
                TokenError::NoConfirmation,
                "JWT Access Token has no jkt confirmation claim",
            ),
            (
                TokenError::InvalidConfirmation,
                "JWT Access Token has invalid confirmation claim format",
            ),
            (
                TokenError::MissingJkt,
                "Access token 'cnf' claim missing 'jkt'",
            ),
            (
                TokenError::ConfirmationMismatch,
                "JWT Access Token confirmation mismatch",
            ),
            (
                TokenError::BoundToDpop,
                "DPoP-bound token requires the DPoP authentication scheme, not Bearer",
            ),
            (TokenError::InvalidActor, "Invalid act claim"),
            (
                TokenError::DelegationTooDeep,
                "Invalid act claim: delegation chain too deep",
            ),
            (
                TokenError::OrganizationMissing(OrganizationClaim::Id),
                "Organization ID (org_id) claim must be a string present in the access token",
            ),
            (
                TokenError::OrganizationMissing(OrganizationClaim::Name),
                "Organization Name (org_name) claim must be a string present in the access token",
            ),
            (
                TokenError::OrganizationMissing(OrganizationClaim::Either),
                "Organization (org_id or org_name) claim must be a string present in the access token",
            ),
            (
                TokenError::OrganizationMismatch(OrganizationClaim::Id),
                "Organization ID (org_id) claim does not match an accepted organization",
            ),
            (
                TokenError::OrganizationMismatch(OrganizationClaim::Name),
                "Organization Name (org_name) claim does not match an accepted organization",
            ),
            (
                TokenError::CertificateRequired,
                "Certificate-bound token requires a mutual-TLS client certificate",
            ),
            (
                TokenError::CertificateMismatch,
                "Certificate-bound token does not match the client certificate (x5t#S256)",
            ),
            (
                TokenError::Undecryptable,
                "Access token could not be decrypted",
            ),
            (
                TokenError::NotEncrypted,
                "Access token must be encrypted (JWE)",
            ),
        ];
        for (error, text) in table {
            assert_eq!(error.to_string(), text, "{error:?}");
            let err = crate::Error::from(error.clone());
            assert_eq!(err.description(), text);
            assert_eq!(err.status_code(), 401);
            assert_eq!(err.token_error(), Some(&error));
        }
    }
}
