//! Authorization after authentication: required scopes, Auth0 RBAC permissions and custom claim
//! predicates, answering `403 insufficient_scope` (RFC 6750 section 3.1), and step-up
//! authentication ([`RequireUserAuthentication`]: `acr`, `auth_time`), answering `401
//! insufficient_user_authentication` (RFC 9470 section 3).
//!
//! A [`ClaimsPolicy`] decides from the [`VerifiedRequest`]; closures `Fn(&VerifiedRequest) ->
//! bool` are policies. Each policy works two ways:
//!
//! - as a tower layer inside [`Auth0Layer`](crate::Auth0Layer): [`RequireScopes`] and
//!   [`RequirePermissions`] are layers themselves, any other policy through [`GuardLayer`];
//! - in a handler, through [`Authenticated::require`](crate::Authenticated::require).
//!
//! A refusal is 403 with `WWW-Authenticate: Bearer error="insufficient_scope", scope="<the
//! required scopes>"` (`DPoP error="insufficient_scope", scope="...", algs="..."` for a DPoP
//! request; `resource_metadata` added when configured) and the JSON body `{"error":
//! "insufficient_scope", "error_description": ...}`. A request that reaches a guard without
//! being authenticated (no layer, or the layer in optional mode) gets 401 with the layer's
//! challenge.
//!
//! ## Stacked guards
//!
//! Guards stack (a router-level [`RequireScopes`] around route-level ones). So that a client
//! can accumulate what it needs (the MCP authorization spec's scope step-up), a scope refusal
//! names the *full* set the call needs: the scopes of every guard layer the request already
//! passed on its way in (each records what it relied on, [`ClaimsPolicy::scopes_relied_on`]),
//! then the refusing guard's own, without repeats. An outer guard that passed contributes its
//! scopes (a `RequireScopes::any` only those of its list the token holds); a refusal that
//! names no scope (a closure policy) and step-up refusals are left as they are. A refusal in a
//! handler ([`Authenticated::require`](crate::Authenticated::require)) names them too: the
//! extractor keeps what the guards it passed relied on.
//!
//! ```
//! use auth0_api::{ApiClient, ApiClientOptions, VerifiedRequest};
//! use auth0_api_axum::{Auth0Layer, GuardLayer, RequirePermissions, RequireScopes};
//! use axum::{Router, routing::{delete, get}};
//!
//! # fn main() -> Result<(), auth0_api::Error> {
//! # let client = ApiClient::new(ApiClientOptions::builder().domain("t.auth0.com").audience("https://api").build()?)?;
//! let app: Router = Router::new()
//!     .route("/messages", get(|| async { "messages" }))
//!     .route_layer(RequireScopes::any(["read:messages", "admin"]))
//!     .merge(
//!         Router::new()
//!             .route("/messages/{id}", delete(|| async { "deleted" }))
//!             .route_layer(RequirePermissions::all(["delete:messages"]))
//!             .route_layer(GuardLayer::from_fn(|v: &VerifiedRequest| {
//!                 v.get("https://example.com/org").and_then(|o| o.as_str()) == Some("acme")
//!             })),
//!     )
//!     .layer(Auth0Layer::new(client)); // outermost: runs first
//! # Ok(()) }
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use auth0_api::challenge::Challenges;
use auth0_api::error::StepUpError;
use auth0_api::{AuthScheme, Error, ErrorKind, VerifiedRequest};
use axum_core::body::Body;
use axum_core::response::{IntoResponse, Response};
use http::Request;
use tower_layer::Layer;
use tower_service::Service;

use crate::context::{AuthContext, unauthenticated};
use crate::response::{AuthRejection, BoxableBody};

/// An authorization decision over a verified request.
///
/// Implemented for closures `Fn(&VerifiedRequest) -> bool` (refusing with a generic
/// description); implement it on a type to choose the description and the challenge's `scope`.
pub trait ClaimsPolicy: Send + Sync + 'static {
    /// `Ok(())` to let the request through, or why it is refused.
    ///
    /// # Errors
    /// [`Forbidden`] when the token does not grant access.
    fn check(&self, request: &VerifiedRequest) -> Result<(), Forbidden>;

    /// The scopes this policy relied on when it let `request` through. A guard layer records
    /// them in the request, and a scope refusal by a guard stacked inside it names them along
    /// with its own (see [Stacked guards](crate::guard#stacked-guards)). None by default;
    /// [`RequireScopes`] names its scopes (for `any`, those of its list the token holds).
    fn scopes_relied_on(&self, request: &VerifiedRequest) -> Vec<String> {
        let _ = request;
        Vec::new()
    }
}

impl<F> ClaimsPolicy for F
where
    F: Fn(&VerifiedRequest) -> bool + Send + Sync + 'static,
{
    fn check(&self, request: &VerifiedRequest) -> Result<(), Forbidden> {
        if self(request) {
            Ok(())
        } else {
            Err(Forbidden::new(
                "The access token does not grant access to this resource",
            ))
        }
    }
}

/// Why a [`ClaimsPolicy`] refused a request: the `error_description`, and what to name in the
/// challenge.
///
/// Two kinds of refusal:
/// - [`new`](Self::new): 403 `insufficient_scope` (RFC 6750 section 3.1), naming the required
///   [`scope`](Self::scope);
/// - [`user_authentication`](Self::user_authentication): 401
///   `insufficient_user_authentication` (RFC 9470 section 3, step-up), naming the accepted
///   [`acr_values`](Self::acr_values) and/or the [`max_age`](Self::max_age).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forbidden {
    description: String,
    scope: Option<String>,
    step_up: Option<StepUp>,
}

/// What a step-up refusal asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StepUp {
    reason: StepUpError,
    acr_values: Option<String>,
    max_age: Option<u64>,
}

impl Forbidden {
    /// A 403 `insufficient_scope` refusal with this description (no secrets: it is sent to the
    /// client).
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            scope: None,
            step_up: None,
        }
    }

    /// A 401 `insufficient_user_authentication` refusal (RFC 9470): the token is valid, the
    /// user must authenticate again, more strongly or more recently. The description is the
    /// reason's.
    pub fn user_authentication(reason: StepUpError) -> Self {
        Self {
            description: reason.to_string(),
            scope: None,
            step_up: Some(StepUp {
                reason,
                acr_values: None,
                max_age: None,
            }),
        }
    }

    /// Names the accepted authentication context classes in a step-up challenge
    /// (`acr_values="a b"`, in order of preference). No effect on a scope refusal.
    pub fn acr_values(mut self, acr_values: impl Into<String>) -> Self {
        if let Some(step_up) = &mut self.step_up {
            step_up.acr_values = Some(acr_values.into());
        }
        self
    }

    /// Names the maximum authentication age, in seconds, in a step-up challenge
    /// (`max_age="300"`). No effect on a scope refusal.
    pub fn max_age(mut self, seconds: u64) -> Self {
        if let Some(step_up) = &mut self.step_up {
            step_up.max_age = Some(seconds);
        }
        self
    }

    /// The status this refusal is answered with: 403, or 401 for a step-up refusal.
    pub fn status(&self) -> u16 {
        if self.step_up.is_some() { 401 } else { 403 }
    }

    /// The step-up reason, for a step-up refusal.
    pub fn step_up_reason(&self) -> Option<StepUpError> {
        self.step_up.as_ref().map(|s| s.reason)
    }

    /// The `acr_values` challenge parameter of a step-up refusal, if any.
    pub fn required_acr_values(&self) -> Option<&str> {
        self.step_up.as_ref().and_then(|s| s.acr_values.as_deref())
    }

    /// The `max_age` challenge parameter of a step-up refusal, if any.
    pub fn required_max_age(&self) -> Option<u64> {
        self.step_up.as_ref().and_then(|s| s.max_age)
    }

    /// Names the scopes the resource requires in the challenge (`scope="a b"`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `scope` challenge parameter, if any.
    pub fn required_scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// The rejection (403, or 401 for step-up) for a request that used `scheme`, with
    /// `context`'s settings.
    pub(crate) fn into_rejection(
        self,
        context: Option<&AuthContext>,
        scheme: AuthScheme,
    ) -> AuthRejection {
        let error = self.into_error(context.map(|c| c.client().dpop_algs()), scheme);
        match context {
            Some(context) => context.finish(error).into(),
            None => error.into(),
        }
    }

    /// The error with its challenge (no `resource_metadata`), for a request that used `scheme`;
    /// `algs` are the DPoP algorithms to name in a DPoP challenge.
    pub fn into_error(self, algs: Option<&str>, scheme: AuthScheme) -> Error {
        match self.step_up {
            Some(step_up) => {
                let challenges = Challenges::insufficient_user_authentication(
                    scheme,
                    &self.description,
                    step_up.acr_values.as_deref(),
                    step_up.max_age,
                    algs,
                );
                Error::from(step_up.reason).with_challenges(challenges)
            }
            None => {
                let challenges =
                    Challenges::insufficient_scope(scheme, self.scope.as_deref(), algs);
                Error::new(ErrorKind::InsufficientScope, self.description)
                    .with_challenges(challenges)
            }
        }
    }
}

/// Whether every listed value is required, or one of them suffices.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    All,
    Any,
}

/// A rule over a list of strings in the token: `scope` or `permissions`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Requirement {
    mode: Match,
    values: Vec<String>,
    what: &'static str,
}

impl Requirement {
    fn new<I, T>(mode: Match, values: I, what: &'static str) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self {
            mode,
            values: values.into_iter().map(Into::into).collect(),
            what,
        }
    }

    /// What a token that passed relies on: every value for `all`, the held ones for `any`.
    fn relied_on<'a>(&self, granted: impl Iterator<Item = &'a str>) -> Vec<String> {
        match self.mode {
            Match::All => self.values.clone(),
            Match::Any => {
                let granted: Vec<&str> = granted.collect();
                self.values
                    .iter()
                    .filter(|v| granted.contains(&v.as_str()))
                    .cloned()
                    .collect()
            }
        }
    }

    fn check<'a>(&self, granted: impl Iterator<Item = &'a str>) -> Result<(), Forbidden> {
        let granted: Vec<&str> = granted.collect();
        let has = |v: &String| granted.contains(&v.as_str());
        let scope = self.values.join(" ");
        match self.mode {
            Match::All => {
                let missing: Vec<&str> = self
                    .values
                    .iter()
                    .filter(|v| !has(v))
                    .map(String::as_str)
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(Forbidden::new(format!(
                        "Insufficient {}: missing {}",
                        self.what,
                        missing.join(" ")
                    ))
                    .scope(scope))
                }
            }
            Match::Any => {
                if self.values.is_empty() || self.values.iter().any(has) {
                    Ok(())
                } else {
                    Err(Forbidden::new(format!(
                        "Insufficient {}: requires one of {scope}",
                        self.what
                    ))
                    .scope(scope))
                }
            }
        }
    }
}

/// A [`ClaimsPolicy`] that is also a tower layer, over one list of strings in the token: the
/// struct, its `all` and `any` constructors (taking `$values`, named `$what` in the
/// descriptions), and its impls; `$granted` reads the token's list from the [`VerifiedRequest`].
macro_rules! requirement_policy {
    ($(#[$doc:meta])* $name:ident($values:ident, $what:literal, $granted:ident, $scopes:literal)) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(Requirement);

        impl $name {
            #[doc = concat!("Every one of `", stringify!($values), "` is required.")]
            pub fn all<I, T>($values: I) -> Self
            where
                I: IntoIterator<Item = T>,
                T: Into<String>,
            {
                Self(Requirement::new(Match::All, $values, $what))
            }

            #[doc = concat!(
                "One of `",
                stringify!($values),
                "` suffices (an empty list lets every authenticated request through)."
            )]
            pub fn any<I, T>($values: I) -> Self
            where
                I: IntoIterator<Item = T>,
                T: Into<String>,
            {
                Self(Requirement::new(Match::Any, $values, $what))
            }
        }

        impl ClaimsPolicy for $name {
            fn check(&self, request: &VerifiedRequest) -> Result<(), Forbidden> {
                self.0.check(request.$granted())
            }

            fn scopes_relied_on(&self, request: &VerifiedRequest) -> Vec<String> {
                if $scopes {
                    self.0.relied_on(request.$granted())
                } else {
                    Vec::new()
                }
            }
        }

        impl<S> Layer<S> for $name {
            type Service = Guard<S, $name>;

            fn layer(&self, inner: S) -> Self::Service {
                Guard::new(inner, Arc::new(self.clone()))
            }
        }
    };
}

requirement_policy! {
    /// Requires scopes in the token's `scope` claim: a [`ClaimsPolicy`] and a tower layer.
    ///
    /// ```
    /// use auth0_api_axum::RequireScopes;
    /// let read = RequireScopes::all(["read:messages"]);
    /// let read_or_admin = RequireScopes::any(["read:messages", "admin"]);
    /// ```
    RequireScopes(scopes, "scope", scopes, true)
}

requirement_policy! {
    /// Requires Auth0 RBAC permissions (the token's `permissions` array): a [`ClaimsPolicy`] and a
    /// tower layer. The challenge names them in its `scope` parameter.
    ///
    /// ```
    /// use auth0_api_axum::RequirePermissions;
    /// let delete = RequirePermissions::all(["delete:messages"]);
    /// ```
    RequirePermissions(permissions, "permissions", permissions, false)
}

/// Step-up authentication (RFC 9470): requires the user behind the token to have logged in with
/// one of the accepted authentication context classes (`acr`) and/or recently enough
/// (`auth_time` within `max_age`). A [`ClaimsPolicy`] and a tower layer.
///
/// A refusal is `401` with `WWW-Authenticate: Bearer error="insufficient_user_authentication",
/// error_description="...", acr_values="...", max_age="..."` (every configured requirement
/// named, so the client can meet them in one new authorization request) and the JSON body
/// `{"error": "insufficient_user_authentication", ...}`.
///
/// ```
/// use std::time::Duration;
/// use auth0_api_axum::RequireUserAuthentication;
/// let mfa = RequireUserAuthentication::acr_values(["http://schemas.openid.net/pape/policies/2007/06/multi-factor"]);
/// let recent = RequireUserAuthentication::max_age(Duration::from_secs(300));
/// let both = mfa.clone().and_max_age(Duration::from_secs(300));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequireUserAuthentication {
    acr_values: Vec<String>,
    max_age: Option<u64>,
}

/// How far in the future an `auth_time` may be (clock skew between issuer and resource).
const AUTH_TIME_SKEW_SECS: f64 = 60.0;

impl RequireUserAuthentication {
    /// The token's `acr` must be one of `values` (named in order of preference).
    pub fn acr_values<I, T>(values: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: Into<String>,
    {
        Self {
            acr_values: values.into_iter().map(Into::into).collect(),
            max_age: None,
        }
    }

    /// The user must have authenticated at most `max_age` ago (whole seconds; the token's
    /// `auth_time`).
    pub fn max_age(max_age: std::time::Duration) -> Self {
        Self {
            acr_values: Vec::new(),
            max_age: Some(max_age.as_secs()),
        }
    }

    /// Adds a maximum authentication age to an `acr` requirement.
    pub fn and_max_age(mut self, max_age: std::time::Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// Checks claims read as `acr` and `auth_time` against the requirement at time `now`
    /// (seconds since the epoch).
    fn check_at(
        &self,
        acr: Option<&str>,
        auth_time: Option<f64>,
        now: f64,
    ) -> Result<(), Forbidden> {
        let refuse = |reason| {
            let mut forbidden = Forbidden::user_authentication(reason);
            if !self.acr_values.is_empty() {
                forbidden = forbidden.acr_values(self.acr_values.join(" "));
            }
            if let Some(max_age) = self.max_age {
                forbidden = forbidden.max_age(max_age);
            }
            forbidden
        };
        if !self.acr_values.is_empty()
            && !acr.is_some_and(|a| self.acr_values.iter().any(|v| v == a))
        {
            return Err(refuse(StepUpError::AcrNotAccepted));
        }
        if let Some(max_age) = self.max_age {
            let Some(auth_time) = auth_time else {
                return Err(refuse(StepUpError::AuthTimeMissing));
            };
            let age = now - auth_time;
            // u64 seconds to f64: exact below 2^53, far beyond any sensible age.
            #[allow(clippy::cast_precision_loss)]
            let too_old = age > max_age as f64 || age < -AUTH_TIME_SKEW_SECS;
            if too_old {
                return Err(refuse(StepUpError::AuthenticationTooOld));
            }
        }
        Ok(())
    }
}

impl ClaimsPolicy for RequireUserAuthentication {
    fn check(&self, request: &VerifiedRequest) -> Result<(), Forbidden> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.check_at(request.acr(), request.auth_time(), now)
    }
}

impl<S> Layer<S> for RequireUserAuthentication {
    type Service = Guard<S, RequireUserAuthentication>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard::new(inner, Arc::new(self.clone()))
    }
}

/// A tower layer applying any [`ClaimsPolicy`] (for example a closure).
pub struct GuardLayer<P> {
    policy: Arc<P>,
}

impl<P> Clone for GuardLayer<P> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy.clone(),
        }
    }
}

impl<P> fmt::Debug for GuardLayer<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardLayer").finish_non_exhaustive()
    }
}

impl<P: ClaimsPolicy> GuardLayer<P> {
    /// A layer applying `policy`.
    pub fn new(policy: P) -> Self {
        Self {
            policy: Arc::new(policy),
        }
    }
}

impl<F> GuardLayer<F>
where
    F: Fn(&VerifiedRequest) -> bool + Send + Sync + 'static,
{
    /// A layer letting through the requests for which `predicate` is true (403 otherwise).
    pub fn from_fn(predicate: F) -> Self {
        Self::new(predicate)
    }
}

impl<S, P> Layer<S> for GuardLayer<P> {
    type Service = Guard<S, P>;

    fn layer(&self, inner: S) -> Self::Service {
        Guard::new(inner, self.policy.clone())
    }
}

/// The service of the guard layers: checks a [`ClaimsPolicy`] before calling the inner service.
pub struct Guard<S, P> {
    inner: S,
    policy: Arc<P>,
}

impl<S, P> Guard<S, P> {
    fn new(inner: S, policy: Arc<P>) -> Self {
        Self { inner, policy }
    }
}

impl<S: Clone, P> Clone for Guard<S, P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug, P> fmt::Debug for Guard<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// The scopes relied on by the guard layers a request passed, outermost first (request
/// extension).
#[derive(Debug, Clone, Default)]
pub(crate) struct StackedScopes(Vec<String>);

/// Adds `values` not yet in `list`, in order.
fn push_unique(list: &mut Vec<String>, values: impl IntoIterator<Item = String>) {
    for value in values {
        if !list.contains(&value) {
            list.push(value);
        }
    }
}

/// Checks `policy` against a request's extensions, for a guard layer: a pass records what the policy relied on; a scope refusal
/// names the scopes recorded by the guards already passed, then its own.
fn authorize_stacked(
    extensions: &mut http::Extensions,
    policy: &dyn ClaimsPolicy,
) -> Result<(), AuthRejection> {
    let Some(verified) = extensions.get::<VerifiedRequest>() else {
        return Err(unauthenticated(extensions));
    };
    match policy.check(verified) {
        Ok(()) => {
            let relied = policy.scopes_relied_on(verified);
            if !relied.is_empty() {
                let stacked = extensions.get_or_insert_default::<StackedScopes>();
                push_unique(&mut stacked.0, relied);
            }
            Ok(())
        }
        Err(forbidden) => Err(
            with_stacked_scopes(forbidden, extensions.get::<StackedScopes>())
                .into_rejection(extensions.get::<AuthContext>(), verified.scheme),
        ),
    }
}

/// A scope refusal naming the scopes `outer` (the guards a request already passed) relied on,
/// then its own, once each; a refusal naming no scope, and a step-up refusal, as they are.
pub(crate) fn with_stacked_scopes(
    mut forbidden: Forbidden,
    outer: Option<&StackedScopes>,
) -> Forbidden {
    if let (Some(outer), Some(own), None) = (
        outer,
        forbidden.required_scope(),
        forbidden.step_up_reason(),
    ) {
        let mut all = outer.0.clone();
        push_unique(
            &mut all,
            own.split(' ').filter(|s| !s.is_empty()).map(str::to_owned),
        );
        forbidden = forbidden.scope(all.join(" "));
    }
    forbidden
}

impl<S, P, ReqBody, ResBody> Service<Request<ReqBody>> for Guard<S, P>
where
    S: Service<Request<ReqBody>, Response = http::Response<ResBody>>,
    P: ClaimsPolicy,
    ResBody: BoxableBody,
{
    middleware_service_items!(GuardFuture<S::Future>);

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        match authorize_stacked(request.extensions_mut(), self.policy.as_ref()) {
            Ok(()) => GuardFuture {
                state: State::Inner(Box::pin(self.inner.call(request))),
            },
            Err(rejection) => GuardFuture {
                state: State::Refused(Some(rejection.into_response())),
            },
        }
    }
}

/// The response future of [`Guard`].
pub struct GuardFuture<F> {
    state: State<F>,
}

enum State<F> {
    Inner(Pin<Box<F>>),
    Refused(Option<Response>),
}

impl<F> fmt::Debug for GuardFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for GuardFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: BoxableBody,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Inner(future) => future
                .as_mut()
                .poll(cx)
                .map(|result| result.map(|response| response.map(Body::new))),
            State::Refused(response) => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| {
                    // Polled again after completion: answer something harmless.
                    http::StatusCode::INTERNAL_SERVER_ERROR.into_response()
                })))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirement_messages() {
        let all = Requirement::new(Match::All, ["a", "b", "c"], "scope");
        assert_eq!(all.check(["a", "b", "c", "d"].into_iter()), Ok(()));
        let err = all.check(["b"].into_iter()).unwrap_err();
        assert_eq!(err.description(), "Insufficient scope: missing a c");
        assert_eq!(err.required_scope(), Some("a b c"));
        let any = Requirement::new(Match::Any, ["a", "b"], "permissions");
        assert_eq!(any.check(["b"].into_iter()), Ok(()));
        let err = any.check(["c"].into_iter()).unwrap_err();
        assert_eq!(
            err.description(),
            "Insufficient permissions: requires one of a b"
        );
        let none = Requirement::new(Match::Any, Vec::<String>::new(), "scope");
        assert_eq!(none.check(std::iter::empty()), Ok(()));
    }

    #[test]
    fn step_up_decisions() {
        use std::time::Duration;
        let now = 1_000_000.0;
        let mfa = RequireUserAuthentication::acr_values(["mfa", "hwk"]);
        assert_eq!(mfa.check_at(Some("hwk"), None, now), Ok(()));
        for acr in [None, Some("pwd"), Some("")] {
            let err = mfa.check_at(acr, Some(now), now).unwrap_err();
            assert_eq!(err.step_up_reason(), Some(StepUpError::AcrNotAccepted));
            assert_eq!(err.required_acr_values(), Some("mfa hwk"));
            assert_eq!(err.required_max_age(), None);
            assert_eq!(err.status(), 401);
        }
        let recent = RequireUserAuthentication::max_age(Duration::from_secs(300));
        assert_eq!(recent.check_at(None, Some(now - 300.0), now), Ok(()));
        assert_eq!(recent.check_at(None, Some(now + 30.0), now), Ok(()));
        let cases = [
            (None, StepUpError::AuthTimeMissing),
            (Some(now - 301.0), StepUpError::AuthenticationTooOld),
            (Some(now + 61.0), StepUpError::AuthenticationTooOld),
        ];
        for (auth_time, reason) in cases {
            let err = recent.check_at(None, auth_time, now).unwrap_err();
            assert_eq!(err.step_up_reason(), Some(reason));
            assert_eq!(err.required_max_age(), Some(300));
            assert_eq!(err.required_acr_values(), None);
        }
        // Both requirements are named whichever fails.
        let both = mfa.and_max_age(Duration::from_secs(60));
        let err = both
            .check_at(Some("mfa"), Some(now - 120.0), now)
            .unwrap_err();
        assert_eq!(err.required_acr_values(), Some("mfa hwk"));
        assert_eq!(err.required_max_age(), Some(60));
        assert_eq!(
            err.into_error(None, AuthScheme::Bearer).www_authenticate(),
            Some(
                r#"Bearer error="insufficient_user_authentication", error_description="More recent authentication is required", acr_values="mfa hwk", max_age="60""#
            )
        );
        assert_eq!(Forbidden::new("x").max_age(5).status(), 403);
    }
}
