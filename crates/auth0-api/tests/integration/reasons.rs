//! Matching on typed reasons instead of descriptions: the request-level ones of
//! `verify_request` (the token and proof ones live beside their checks).

use auth0_api::error::{NoCredentials, Reason, RequestError};
use auth0_api::{DpopMode, VerifyRequest};

use crate::{client, options, tenant};

/// A client, the request's headers, and the reason it must be refused for.
type Case<'a> = (
    &'a auth0_api::ApiClient,
    Vec<(&'a str, &'a str)>,
    RequestError,
);

#[tokio::test]
async fn verify_request_failures_carry_their_request_reason() {
    let t = tenant().await;
    let allowed = client(options(&t));
    let required = client(options(&t).dpop_mode(DpopMode::Required));
    let disabled = client(options(&t).dpop_mode(DpopMode::Disabled));
    use NoCredentials::*;
    let cases: Vec<Case<'_>> = vec![
        (
            &allowed,
            vec![],
            RequestError::MissingCredentials(NoAuthorization),
        ),
        (
            &required,
            vec![],
            RequestError::MissingCredentials(DpopRequired),
        ),
        (
            &allowed,
            vec![("authorization", "Bearer")],
            RequestError::MissingCredentials(MalformedAuthorization),
        ),
        (
            &allowed,
            vec![("authorization", "Basic abc")],
            RequestError::MissingCredentials(UnsupportedScheme),
        ),
        (
            &required,
            vec![("authorization", "Bearer abc")],
            RequestError::MissingCredentials(DpopRequired),
        ),
        (
            &disabled,
            vec![("authorization", "DPoP abc")],
            RequestError::MissingCredentials(DpopDisabled),
        ),
        (
            &allowed,
            vec![("authorization", "DPoP abc")],
            RequestError::MissingCredentials(NoProof),
        ),
        (
            &allowed,
            vec![("authorization", "Bearer a"), ("authorization", "Bearer b")],
            RequestError::MultipleAuthorization,
        ),
    ];
    for (c, headers, want) in cases {
        let e = c
            .verify_request(VerifyRequest::from_pairs(headers.clone()))
            .await
            .unwrap_err();
        match e.reason() {
            Reason::Request(got) => assert_eq!(got, &want, "{headers:?}"),
            other => panic!("{headers:?}: {other:?}"),
        }
        assert_eq!(e.is_missing_credentials(), want.is_missing_credentials());
        assert_eq!(
            e.status_code(),
            if want.is_missing_credentials() {
                401
            } else {
                400
            }
        );
    }
}
