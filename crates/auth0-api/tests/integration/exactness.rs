//! The two exactness fixes of issue #14, found by an independent differential run against the
//! reference: tokens with deep delegation chains verify and their whole chain is returned; an
//! oversized token is an `invalid_token` like any other unusable token (in `request.rs`:
//! `oversized_authorization_is_refused_before_decoding`).

use auth0_api::act::{current_actor, delegation_chain};
use auth0_api::{DpopMode, VerifyRequest};
use serde_json::{Value, json};

use crate::{AUD, client, options, tenant};

/// `{"sub": "actor-0", "act": {"sub": "actor-1", ...}}`, `depth` levels.
fn act_chain(depth: usize) -> Value {
    let mut act = Value::Null;
    for i in (0..depth).rev() {
        let mut level = json!({ "sub": format!("actor-{i}") });
        if !act.is_null() {
            level["act"] = act;
        }
        act = level;
    }
    act
}

#[tokio::test]
async fn a_hundred_deep_delegation_chain_verifies_and_is_returned_whole() {
    let t = tenant().await;
    let c = client(options(&t).dpop_mode(DpopMode::Allowed));
    for depth in [1, 32, 33, 100, 120] {
        let token = t
            .mint()
            .sub("user")
            .aud(json!(AUD))
            .act(act_chain(depth))
            .sign();
        let claims = c.verify_access_token(&token).await.expect("verifies");
        assert_eq!(current_actor(&claims).unwrap(), Some("actor-0"));
        let chain = delegation_chain(&claims).expect("whole chain");
        assert_eq!(chain.len(), depth);
        assert_eq!(
            chain.last().copied(),
            Some(format!("actor-{}", depth - 1).as_str())
        );
        let header = format!("Bearer {token}");
        let request = VerifyRequest::from_pairs([("authorization", header.as_str())]);
        assert!(c.verify_request(request).await.is_ok(), "depth {depth}");
    }
}

#[tokio::test]
async fn a_token_nested_past_the_json_limit_is_an_invalid_token() {
    let t = tenant().await;
    let c = client(options(&t));
    let token = t
        .mint()
        .sub("user")
        .aud(json!(AUD))
        .act(act_chain(130))
        .sign();
    let e = c.verify_access_token(&token).await.unwrap_err();
    assert_eq!(e.status_code(), 401);
    assert_eq!(e.error_code(), "invalid_token");
    assert!(
        e.description()
            .starts_with("Failed to parse token payload:"),
        "{}",
        e.description()
    );
}
