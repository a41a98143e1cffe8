//! [`StepUpError`]: why a valid token's user authentication does not meet a resource's
//! requirement (RFC 9470: `401 insufficient_user_authentication`).

use std::fmt;

/// Why the user's authentication behind a valid token is not enough for a resource (RFC 9470
/// section 3). The `Display` text is the error's description (RFC 9470's own examples).
///
/// The answer is 401 `insufficient_user_authentication` with a challenge naming what the
/// resource needs: `acr_values` and/or `max_age`
/// ([`Challenges::insufficient_user_authentication`](crate::challenge::Challenges::insufficient_user_authentication)).
///
/// ```
/// use auth0_api::Error;
/// use auth0_api::error::{Reason, StepUpError};
/// let err = Error::from(StepUpError::AuthenticationTooOld);
/// assert_eq!(err.status_code(), 401);
/// assert_eq!(err.error_code(), "insufficient_user_authentication");
/// assert_eq!(err.description(), "More recent authentication is required");
/// assert_eq!(err.reason(), &Reason::UserAuthentication(StepUpError::AuthenticationTooOld));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StepUpError {
    /// The token has no `acr` claim, or one that is not among the accepted values.
    AcrNotAccepted,
    /// A maximum authentication age is required and the token has no numeric `auth_time`.
    AuthTimeMissing,
    /// The user authenticated longer ago than the maximum age allows (`auth_time` too old, or
    /// in the future).
    AuthenticationTooOld,
}

impl fmt::Display for StepUpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::AcrNotAccepted => "A different authentication level is required",
            Self::AuthTimeMissing | Self::AuthenticationTooOld => {
                "More recent authentication is required"
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind, Reason};

    #[test]
    fn every_step_up_error_maps_to_its_answer() {
        let table = [
            (
                StepUpError::AcrNotAccepted,
                "A different authentication level is required",
            ),
            (
                StepUpError::AuthTimeMissing,
                "More recent authentication is required",
            ),
            (
                StepUpError::AuthenticationTooOld,
                "More recent authentication is required",
            ),
        ];
        for (reason, description) in table {
            let err = Error::from(reason);
            assert_eq!(err.kind(), &ErrorKind::InsufficientUserAuthentication);
            assert_eq!(err.status_code(), 401);
            assert_eq!(err.error_code(), "insufficient_user_authentication");
            assert_eq!(err.description(), description);
            assert_eq!(err.reason(), &Reason::UserAuthentication(reason));
            assert_eq!(err.step_up_error(), Some(&reason));
            assert!(!err.is_missing_credentials());
        }
    }
}
