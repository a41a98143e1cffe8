//! Extractors over what [`Auth0Layer`](crate::Auth0Layer) verified: [`Authenticated`],
//! [`MaybeAuthenticated`] (and `Option<Authenticated>`), [`Actor`].
//!
//! They read the request extensions; they never verify anything themselves. Without the layer
//! (or past it in optional mode without credentials), the ones that need authentication answer
//! 401 with the layer's challenge, or `Bearer realm="api"` when no layer ran.
//!
//! ```
//! use auth0_api_axum::{Actor, AuthRejection, Authenticated, MaybeAuthenticated, RequireScopes};
//!
//! async fn profile(auth: Authenticated) -> Result<String, AuthRejection> {
//!     auth.require(&RequireScopes::all(["read:profile"]))?; // 403 insufficient_scope
//!     Ok(format!("user {:?} via {:?}", auth.sub(), auth.scheme))
//! }
//!
//! async fn feed(MaybeAuthenticated(auth): MaybeAuthenticated) -> String {
//!     match auth {
//!         Some(auth) => format!("feed of {:?}", auth.sub()),
//!         None => "public feed".to_owned(),
//!     }
//! }
//!
//! async fn delegated(auth: Authenticated, actor: Actor) -> String {
//!     format!("{:?} acting for {:?} (chain {:?})", actor.current, auth.sub(), actor.chain)
//! }
//! ```

use std::ops::Deref;

use auth0_api::VerifiedRequest;
use auth0_api::act::{current_actor, delegation_chain};
use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use http::request::Parts;

use crate::context::{AuthContext, unauthenticated};
use crate::guard::{ClaimsPolicy, StackedScopes, with_stacked_scopes};
use crate::response::AuthRejection;

/// An authenticated request: the [`VerifiedRequest`] the layer stored (claims, scheme, proof).
/// Dereferences to it, and through it to the [`Claims`](auth0_api::Claims).
///
/// Rejects with 401 and the layer's challenge when the request is not authenticated.
#[derive(Debug, Clone)]
pub struct Authenticated {
    verified: VerifiedRequest,
    context: Option<AuthContext>,
    /// What the guard layers the request passed relied on (named again by a refusal).
    stacked: Option<StackedScopes>,
}

impl Authenticated {
    /// The verified request.
    pub fn verified(&self) -> &VerifiedRequest {
        &self.verified
    }

    /// Consumes the extractor into the verified request.
    pub fn into_inner(self) -> VerifiedRequest {
        self.verified
    }

    /// Checks a [`ClaimsPolicy`] in a handler: the same 403 as the guard layers, naming the
    /// scopes of the guards the request passed before its own (see
    /// [Stacked guards](crate::guard#stacked-guards)).
    ///
    /// # Errors
    /// The 403 `insufficient_scope` rejection when the policy refuses.
    pub fn require(&self, policy: &impl ClaimsPolicy) -> Result<(), AuthRejection> {
        policy.check(&self.verified).map_err(|forbidden| {
            with_stacked_scopes(forbidden, self.stacked.as_ref())
                .into_rejection(self.context.as_ref(), self.verified.scheme)
        })
    }

    fn from_extensions(extensions: &http::Extensions) -> Option<Self> {
        Some(Self {
            verified: extensions.get::<VerifiedRequest>()?.clone(),
            context: extensions.get::<AuthContext>().cloned(),
            stacked: extensions.get::<StackedScopes>().cloned(),
        })
    }
}

impl Deref for Authenticated {
    type Target = VerifiedRequest;

    fn deref(&self) -> &VerifiedRequest {
        &self.verified
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Self::from_extensions(&parts.extensions).ok_or_else(|| unauthenticated(&parts.extensions))
    }
}

/// `Option<Authenticated>`: as [`MaybeAuthenticated`].
impl<S: Send + Sync> OptionalFromRequestParts<S> for Authenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        let MaybeAuthenticated(auth) =
            <MaybeAuthenticated as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        Ok(auth)
    }
}

/// Optional authentication: `Some` for an authenticated request, `None` for an anonymous one.
///
/// Use it behind [`Auth0Layer::optional`](crate::Auth0Layer::optional), which lets requests
/// without credentials through and still refuses invalid ones. Without any layer, a request
/// without `Authorization` and `DPoP` headers is anonymous and one with credentials is refused
/// with 401 (nothing verified them).
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Authenticated>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeAuthenticated {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(auth) = Authenticated::from_extensions(&parts.extensions) {
            return Ok(Self(Some(auth)));
        }
        let layer_ran = parts.extensions.get::<AuthContext>().is_some();
        let has_credentials = parts.headers.contains_key(http::header::AUTHORIZATION)
            || parts.headers.contains_key("dpop");
        if layer_ran || !has_credentials {
            Ok(Self(None))
        } else {
            Err(unauthenticated(&parts.extensions))
        }
    }
}

/// Who acts, for a delegated token (RFC 8693 section 4.1): the current actor (the outermost
/// `act.sub`, the one to authorize) and the whole delegation chain, newest first (for audit).
///
/// `current` is `None` and `chain` empty for a token without `act`. Rejects an unauthenticated
/// request like [`Authenticated`], and a malformed `act` claim with 401 `invalid_token`
/// "Invalid act claim" and the client's challenge for the request's scheme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The current actor ([`current_actor`]).
    pub current: Option<String>,
    /// Every actor, newest first ([`delegation_chain`]).
    pub chain: Vec<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(verified) = parts.extensions.get::<VerifiedRequest>() else {
            return Err(unauthenticated(&parts.extensions));
        };
        let actor = current_actor(verified).and_then(|current| {
            Ok(Actor {
                current: current.map(str::to_owned),
                chain: delegation_chain(verified)?
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            })
        });
        actor.map_err(|e| match parts.extensions.get::<AuthContext>() {
            Some(context) => context.reject(e, Some(verified.scheme)),
            None => e.into(),
        })
    }
}
