//! [`RequestError`]: what is wrong with the request itself, before or around its token.

use std::fmt;

use super::ErrorKind;

/// Why a request presented no usable credentials (RFC 6750 section 3.1: answered 401 with a
/// challenge that names no error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NoCredentials {
    /// No `Authorization` header, or an empty one.
    NoAuthorization,
    /// An `Authorization` value that is not a scheme followed by a token.
    MalformedAuthorization,
    /// A scheme that is neither `Bearer` nor `DPoP`.
    UnsupportedScheme,
    /// DPoP is required and the request did not use the `DPoP` scheme (or no header at all).
    DpopRequired,
    /// The `DPoP` scheme while DPoP is disabled.
    DpopDisabled,
    /// The `DPoP` scheme without a `DPoP` proof header.
    NoProof,
}

/// Why a client-certificate header value was refused
/// ([`mtls::certificate_from_header`](crate::mtls::certificate_from_header)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateProblem {
    /// Longer than the header or certificate size cap.
    TooLarge,
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// No `-----BEGIN CERTIFICATE-----` ... `-----END CERTIFICATE-----` block.
    NotPem,
    /// The block is not base64.
    BadBase64,
    /// The decoded bytes are not one DER sequence.
    NotCertificate,
    /// The header came in more than one line (a proxy that appends instead of overwriting).
    Multiple,
}

impl fmt::Display for CertificateProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "too large",
            Self::BadEscape => "bad percent-encoding",
            Self::NotPem => "not a PEM certificate",
            Self::BadBase64 => "bad base64",
            Self::NotCertificate => "not a DER certificate",
            Self::Multiple => "more than one header line",
        })
    }
}

/// What is wrong with the request: its `Authorization` scheme, missing credentials, or a
/// missing argument. The `Display` text is the error's description, byte for byte the
/// reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// No usable credentials (401, empty description).
    MissingCredentials(NoCredentials),
    /// More than one `Authorization` header.
    MultipleAuthorization,
    /// A `DPoP` proof header with the `Bearer` scheme.
    ProofWithBearer,
    /// A required argument was empty or absent; the name as the reference words it.
    MissingArgument(String),
    /// The client-certificate header a trusted proxy set could not be read
    /// ([`crate::mtls`]; 400).
    InvalidClientCertificate(CertificateProblem),
    /// The token came by more than one method (RFC 6750 section 2), with
    /// [`TokenLocations`](crate::TokenLocations) on.
    SeveralTokenMethods,
    /// The token's parameter, cookie or header was repeated.
    RepeatedToken,
    /// A form body too large to be searched for its token
    /// ([`MAX_FORM_BODY_BYTES`](crate::token_location::MAX_FORM_BODY_BYTES)).
    FormBodyTooLarge,
}

impl RequestError {
    /// The [`ErrorKind`] this failure is reported as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::MissingCredentials(NoCredentials::DpopRequired | NoCredentials::NoProof)
            | Self::MultipleAuthorization
            | Self::ProofWithBearer
            | Self::InvalidClientCertificate(_)
            | Self::SeveralTokenMethods
            | Self::RepeatedToken
            | Self::FormBodyTooLarge => ErrorKind::InvalidAuthScheme,
            Self::MissingCredentials(_) => ErrorKind::MissingAuthorization,
            Self::MissingArgument(_) => ErrorKind::MissingRequiredArgument,
        }
    }

    /// Whether the request presented no usable credentials.
    pub fn is_missing_credentials(&self) -> bool {
        matches!(self, Self::MissingCredentials(_))
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingCredentials(_) => Ok(()),
            Self::MultipleAuthorization => {
                f.write_str("Multiple Authorization headers are not allowed")
            }
            Self::ProofWithBearer => {
                f.write_str("DPoP proof requires DPoP authentication scheme, not Bearer")
            }
            Self::MissingArgument(name) => {
                write!(f, "The argument '{name}' is required but was not provided.")
            }
            Self::InvalidClientCertificate(problem) => {
                write!(f, "Invalid client certificate: {problem}")
            }
            Self::SeveralTokenMethods => {
                f.write_str("The access token must be sent by one method only")
            }
            Self::RepeatedToken => f.write_str("The access token must be sent once"),
            Self::FormBodyTooLarge => {
                f.write_str("The form body is too large to carry an access token")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, Reason};

    /// Every request failure: its kind, status, code and description (the reference's words).
    #[test]
    fn every_request_error_maps_to_its_answer() {
        use NoCredentials::*;
        let none = |why| RequestError::MissingCredentials(why);
        let table: Vec<(RequestError, ErrorKind, u16, &str)> = vec![
            (
                none(NoAuthorization),
                ErrorKind::MissingAuthorization,
                401,
                "",
            ),
            (
                none(MalformedAuthorization),
                ErrorKind::MissingAuthorization,
                401,
                "",
            ),
            (
                none(UnsupportedScheme),
                ErrorKind::MissingAuthorization,
                401,
                "",
            ),
            (none(DpopDisabled), ErrorKind::MissingAuthorization, 401, ""),
            (none(DpopRequired), ErrorKind::InvalidAuthScheme, 401, ""),
            (none(NoProof), ErrorKind::InvalidAuthScheme, 401, ""),
            (
                RequestError::MultipleAuthorization,
                ErrorKind::InvalidAuthScheme,
                400,
                "Multiple Authorization headers are not allowed",
            ),
            (
                RequestError::ProofWithBearer,
                ErrorKind::InvalidAuthScheme,
                400,
                "DPoP proof requires DPoP authentication scheme, not Bearer",
            ),
            (
                RequestError::SeveralTokenMethods,
                ErrorKind::InvalidAuthScheme,
                400,
                "The access token must be sent by one method only",
            ),
            (
                RequestError::RepeatedToken,
                ErrorKind::InvalidAuthScheme,
                400,
                "The access token must be sent once",
            ),
            (
                RequestError::FormBodyTooLarge,
                ErrorKind::InvalidAuthScheme,
                400,
                "The form body is too large to carry an access token",
            ),
            (
                RequestError::MissingArgument("http_method".into()),
                ErrorKind::MissingRequiredArgument,
                400,
                "The argument 'http_method' is required but was not provided.",
            ),
            (
                RequestError::InvalidClientCertificate(CertificateProblem::NotPem),
                ErrorKind::InvalidAuthScheme,
                400,
                "Invalid client certificate: not a PEM certificate",
            ),
        ];
        for (reason, kind, status, description) in table {
            let err = Error::from(reason.clone());
            assert_eq!(err.kind(), &kind, "{reason:?}");
            assert_eq!(err.status_code(), status, "{reason:?}");
            assert_eq!(err.error_code(), "invalid_request", "{reason:?}");
            assert_eq!(err.description(), description, "{reason:?}");
            assert_eq!(err.reason(), &Reason::Request(reason.clone()));
            assert_eq!(err.request_error(), Some(&reason));
            assert_eq!(err.is_missing_credentials(), description.is_empty());
            // A request without credentials is challenged without an error code.
            assert_eq!(err.challenge_details().is_none(), description.is_empty());
        }
    }
}
