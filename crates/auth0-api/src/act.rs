//! The `act` (actor) claim of delegated access tokens (RFC 8693 section 4.1).
//!
//! A token issued through delegation (for example by
//! [`ApiClient::get_token_on_behalf_of`](crate::ApiClient::get_token_on_behalf_of)) names the
//! party now acting in `act.sub`; earlier actors nest inside it, newest outermost:
//!
//! ```json
//! { "sub": "auth0|user123",
//!   "act": { "sub": "mcp_server_2_client_id",
//!            "act": { "sub": "mcp_server_1_client_id",
//!                     "act": { "sub": "spa_client_id" } } } }
//! ```
//!
//! Only the outermost `act.sub` ([`current_actor`]) represents the current actor and should be
//! used for authorization decisions. The nested values ([`delegation_chain`]) represent prior
//! actors and are better suited for logging, audit or attribution.
//!
//! Both helpers read claims that were already verified, and fail with `invalid_token` (401,
//! "Invalid act claim") when `act` is present but malformed: not an object, or without a
//! non-blank string `sub` at some level.
//!
//! ```no_run
//! use auth0_api::act::{current_actor, delegation_chain};
//! use auth0_api::{ApiClient, ApiClientOptions};
//!
//! # async fn inspect_delegated_token(access_token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let api_client = ApiClient::new(
//!     ApiClientOptions::builder()
//!         .domain("your-tenant.auth0.com")
//!         .audience("https://calendar-api.example.com")
//!         .build()?,
//! )?;
//!
//! let claims = api_client.verify_access_token(access_token).await?;
//! let actor = current_actor(&claims)?;
//! if actor != Some("mcp_server_client_id") {
//!     return Err("unexpected actor".into());
//! }
//! let chain = delegation_chain(&claims)?;
//! println!(
//!     "delegated request: user {:?}, current actor {actor:?}, delegation chain {chain:?}",
//!     claims.sub()
//! );
//! # Ok(())
//! # }
//! ```

use serde_json::Value;

use crate::claims::Claims;
use crate::error::{Result, TokenError};

/// Most actors [`delegation_chain`] follows; a deeper chain is refused as `invalid_token`.
///
/// The JSON nesting limit of token payloads (128 levels, serde_json's) already bounds the chain
/// of a verified token, so every token that verifies has its whole chain returned; the bound
/// only matters for [`Claims`] built some other way.
pub const MAX_DELEGATION_DEPTH: usize = 128;

/// The current actor: the outermost `act.sub`.
///
/// `Ok(None)` when the token carries no `act` claim (or `act` is `null`). Fails with
/// `invalid_token` "Invalid act claim" when `act` is not an object or its `sub` is not a
/// non-blank string.
pub fn current_actor(claims: &Claims) -> Result<Option<&str>> {
    match claims.act() {
        None | Some(Value::Null) => Ok(None),
        Some(act) => actor_subject(act).map(Some),
    }
}

/// Every actor of the delegation chain, newest first: the outermost `act.sub`, then each nested
/// `act.sub`.
///
/// Empty when the token carries no `act` claim. Fails with `invalid_token` "Invalid act claim"
/// when any level is not an object or lacks a non-blank string `sub`, and with "Invalid act
/// claim: delegation chain too deep" past [`MAX_DELEGATION_DEPTH`] actors.
pub fn delegation_chain(claims: &Claims) -> Result<Vec<&str>> {
    let mut chain = Vec::new();
    let mut current = claims.act();
    while let Some(act) = current.filter(|v| !v.is_null()) {
        if chain.len() == MAX_DELEGATION_DEPTH {
            return Err(TokenError::DelegationTooDeep.into());
        }
        chain.push(actor_subject(act)?);
        current = act.get("act");
    }
    Ok(chain)
}

/// `sub` of one `act` level, which must be an object with a non-blank string `sub`.
fn actor_subject(act: &Value) -> Result<&str> {
    act.as_object()
        .and_then(|level| level.get("sub"))
        .and_then(Value::as_str)
        .filter(|sub| !sub.trim().is_empty())
        .ok_or_else(|| TokenError::InvalidActor.into())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::Error;

    fn claims(value: Value) -> Claims {
        Claims::from_object(value.as_object().cloned().expect("an object"))
    }

    fn assert_invalid(err: Error, description: &str) {
        assert_eq!(err.error_code(), "invalid_token");
        assert_eq!(err.status_code(), 401);
        assert_eq!(err.description(), description);
    }

    #[test]
    fn no_act_claim_means_no_actor_and_an_empty_chain() {
        let c = claims(json!({"sub": "auth0|user123"}));
        assert_eq!(current_actor(&c).unwrap(), None);
        assert!(delegation_chain(&c).unwrap().is_empty());

        let c = claims(json!({"sub": "auth0|user123", "act": null}));
        assert_eq!(current_actor(&c).unwrap(), None);
        assert!(delegation_chain(&c).unwrap().is_empty());
    }

    #[test]
    fn nested_act_gives_current_actor_and_chain_newest_first() {
        let c = claims(json!({
            "sub": "auth0|user123",
            "act": {
                "sub": "mcp_server_2_client_id",
                "act": {
                    "sub": "mcp_server_1_client_id",
                    "act": {"sub": "spa_client_id"}
                }
            }
        }));
        assert_eq!(current_actor(&c).unwrap(), Some("mcp_server_2_client_id"));
        assert_eq!(
            delegation_chain(&c).unwrap(),
            [
                "mcp_server_2_client_id",
                "mcp_server_1_client_id",
                "spa_client_id"
            ]
        );
    }

    #[test]
    fn current_actor_rejects_a_non_object_act_claim() {
        let c = claims(json!({"sub": "auth0|user123", "act": "not-an-object"}));
        assert_invalid(current_actor(&c).unwrap_err(), "Invalid act claim");
    }

    #[test]
    fn delegation_chain_rejects_a_non_object_act_claim() {
        let c = claims(json!({"sub": "auth0|user123", "act": 12345}));
        assert_invalid(delegation_chain(&c).unwrap_err(), "Invalid act claim");
    }

    #[test]
    fn current_actor_rejects_a_blank_actor_subject() {
        let c = claims(json!({"act": {"sub": "   "}}));
        assert_invalid(current_actor(&c).unwrap_err(), "Invalid act claim");
        assert_invalid(delegation_chain(&c).unwrap_err(), "Invalid act claim");
    }

    #[test]
    fn delegation_chain_rejects_an_invalid_nested_act() {
        let c = claims(json!({"act": {"sub": "mcp_server_client_id", "act": "spa_client_id"}}));
        assert_invalid(delegation_chain(&c).unwrap_err(), "Invalid act claim");
        // Only the outermost level decides the current actor.
        assert_eq!(current_actor(&c).unwrap(), Some("mcp_server_client_id"));
    }

    #[test]
    fn rejects_a_missing_or_non_string_sub() {
        for act in [
            json!({}),
            json!({"sub": 7}),
            json!({"sub": null}),
            json!([{"sub": "x"}]),
        ] {
            let c = claims(json!({"act": act}));
            assert_invalid(current_actor(&c).unwrap_err(), "Invalid act claim");
            assert_invalid(delegation_chain(&c).unwrap_err(), "Invalid act claim");
        }
        let c = claims(json!({"act": {"sub": "a", "act": {"sub": ""}}}));
        assert_invalid(delegation_chain(&c).unwrap_err(), "Invalid act claim");
    }

    #[test]
    fn a_nested_null_act_ends_the_chain() {
        let c = claims(json!({"act": {"sub": "a", "act": null}}));
        assert_eq!(delegation_chain(&c).unwrap(), ["a"]);
    }

    fn nested(depth: usize) -> Value {
        let mut act = Value::Null;
        for i in (0..depth).rev() {
            act = if act.is_null() {
                json!({"sub": format!("actor{i}")})
            } else {
                json!({"sub": format!("actor{i}"), "act": act})
            };
        }
        json!({"act": act})
    }

    #[test]
    fn chain_depth_is_bounded() {
        let chain_of = |depth| claims(nested(depth));
        let c = chain_of(MAX_DELEGATION_DEPTH);
        let chain = delegation_chain(&c).unwrap();
        assert_eq!(chain.len(), MAX_DELEGATION_DEPTH);
        assert_eq!(chain.first(), Some(&"actor0"));
        let last = format!("actor{}", MAX_DELEGATION_DEPTH - 1);
        assert_eq!(chain.last(), Some(&last.as_str()));

        let c = chain_of(MAX_DELEGATION_DEPTH + 1);
        assert_invalid(
            delegation_chain(&c).unwrap_err(),
            "Invalid act claim: delegation chain too deep",
        );
        assert_eq!(current_actor(&c).unwrap(), Some("actor0"));
    }
}
