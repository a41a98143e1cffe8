//! [`ProofError`]: why a DPoP proof was refused (RFC 9449 section 4.3).

use std::fmt;

use super::ErrorKind;

/// Why a DPoP proof was refused. The `Display` text is the error's description, byte for byte
/// the reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProofError {
    /// More than one proof (several `DPoP` headers, or a comma in one).
    Multiple,
}

impl ProofError {
    /// The [`ErrorKind`] this failure is reported as.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Multiple => ErrorKind::InvalidDpopProof,
        }
    }
}

impl fmt::Display for ProofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Multiple => f.write_str("Multiple DPoP proofs are not allowed"),
        }
    }
}
