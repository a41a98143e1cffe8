//! [`TokenError`]: why an access token was refused (`401 invalid_token`).

use std::fmt;

/// Why an access token was refused. The `Display` text is the error's description, byte for
/// byte the reference's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// `exp` is not in the future.
    Expired,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Expired => f.write_str("Token is expired"),
        }
    }
}
