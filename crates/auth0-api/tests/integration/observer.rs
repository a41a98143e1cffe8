//! The observer (`auth0_api::observe`): what it is told of verifications, fetches, cache
//! lookups, replays and nonce challenges, against the dev tenant. `cargo test observer`.

use std::sync::{Arc, Mutex};

use auth0_api::dpop::nonce::NonceConfig;
use auth0_api::error::{Reason, TokenError};
use auth0_api::observe::{CacheLookup, EntryPoint, Fetch, Observer, Source, Verification};
use auth0_api::{AuthScheme, VerifyRequest};
use auth0_api_dev_tenant::dpop::DpopKey;
use auth0_api_dev_tenant::{Endpoint, Fault};
use serde_json::json;

use super::{AUD, client, options, tenant};

const URL: &str = "https://api.example.com/observed";

/// What an observer saw, as short lines (no token material can be in them: the events have none).
#[derive(Default)]
struct Seen(Mutex<Vec<String>>);

impl Seen {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    /// Everything seen so far, emptied.
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Observer for Seen {
    fn verification(&self, e: &Verification<'_>) {
        assert!(e.elapsed.as_secs() < 60);
        let reason = match e.error.map(|e| e.reason()) {
            Some(Reason::Token(t)) => format!(" token:{t:?}"),
            Some(Reason::Proof(p)) => format!(" proof:{p:?}"),
            Some(Reason::Request(r)) => format!(" request:{r:?}"),
            Some(_) => " other".to_owned(),
            None => String::new(),
        };
        let scheme = match e.scheme {
            Some(AuthScheme::Bearer) => " bearer",
            Some(AuthScheme::Dpop) => " dpop",
            _ => "",
        };
        self.push(format!(
            "verify {} {}{scheme}{reason}",
            e.entry.as_str(),
            e.outcome()
        ));
    }

    fn fetch(&self, e: &Fetch<'_>) {
        assert!(e.url.starts_with("https://"), "{}", e.url);
        let source = match e.source {
            Source::Network => "network",
            Source::Adapter => "adapter",
            _ => "other",
        };
        let outcome = if e.error.is_some() { "failed" } else { "ok" };
        self.push(format!("fetch {} {source} {outcome}", e.document.as_str()));
    }

    fn cache(&self, e: &CacheLookup) {
        let hit = if e.hit { "hit" } else { "miss" };
        self.push(format!("cache {} {hit}", e.cache.as_str()));
    }

    fn replay_rejected(&self) {
        self.push("replay rejected".to_owned());
    }

    fn nonce_challenge(&self) {
        self.push("nonce challenge".to_owned());
    }
}

fn lines(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn observer_sees_fetches_cache_lookups_and_outcomes() {
    let t = tenant().await;
    let seen = Arc::new(Seen::default());
    let c = client(options(&t).observer(seen.clone()));
    let token = t.mint().sub("user_1").aud(json!(AUD)).sign();

    // First verification: both caches miss, both documents come from the network.
    c.verify_access_token(&token).await.unwrap();
    assert_eq!(
        seen.take(),
        lines(&[
            "cache verified_token miss",
            "cache discovery miss",
            "fetch discovery network ok",
            "cache jwks miss",
            "fetch jwks network ok",
            "verify access_token ok",
        ])
    );

    // Second: the issuer is remembered (both documents read at once); the token is admitted.
    c.verify_access_token(&token).await.unwrap();
    assert_eq!(
        seen.take(),
        lines(&[
            "cache verified_token miss",
            "cache discovery hit",
            "cache jwks hit",
            "verify access_token ok",
        ])
    );

    // Third: a verified-token cache hit (its key is looked up: still published?).
    c.verify_access_token(&token).await.unwrap();
    assert_eq!(
        seen.take(),
        lines(&[
            "cache jwks hit",
            "cache verified_token hit",
            "verify access_token ok"
        ])
    );

    // A refusal carries its typed reason; verify_request reports once, with its entry point.
    let expired = t.mint().sub("user_1").aud(json!(AUD)).expired().sign();
    let e = c.verify_access_token(&expired).await.unwrap_err();
    assert_eq!(e.token_error(), Some(&TokenError::Expired));
    assert_eq!(
        seen.take().last().map(String::as_str),
        Some("verify access_token invalid_token token:Expired")
    );
    let request =
        VerifyRequest::from_pairs([("authorization", format!("Bearer {token}").as_str())])
            .method("GET")
            .url(URL);
    c.verify_request(request).await.unwrap();
    assert_eq!(
        seen.take(),
        lines(&[
            "cache jwks hit",
            "cache verified_token hit",
            "verify request ok bearer"
        ])
    );
    let none = VerifyRequest::from_pairs([("accept", "*/*")])
        .method("GET")
        .url(URL);
    c.verify_request(none).await.unwrap_err();
    assert_eq!(
        seen.take(),
        lines(&["verify request invalid_request request:MissingCredentials(NoAuthorization)"])
    );
}

#[tokio::test]
async fn observer_sees_failed_fetches() {
    let t = tenant().await;
    let seen = Arc::new(Seen::default());
    let c = client(options(&t).observer(seen.clone()));
    let token = t.mint().sub("user_1").aud(json!(AUD)).sign();
    t.set_fault(Endpoint::Discovery, Some(Fault::Status(503)));
    c.verify_access_token(&token).await.unwrap_err();
    let got = seen.take();
    assert!(
        got.contains(&"fetch discovery network failed".to_owned()),
        "{got:?}"
    );
    assert!(
        got.last()
            .unwrap()
            .starts_with("verify access_token invalid_token"),
        "{got:?}"
    );
}

#[tokio::test]
async fn observer_sees_replays_and_nonce_challenges() {
    let t = tenant().await;
    let seen = Arc::new(Seen::default());
    let c = client(
        options(&t)
            .dpop_nonce(NonceConfig::new().unwrap())
            .observer(seen.clone()),
    );
    let key = DpopKey::generate();
    let token = t
        .mint()
        .sub("user_1")
        .aud(json!(AUD))
        .cnf_jkt(key.thumbprint())
        .sign();
    let dpop = |proof: &str| {
        VerifyRequest::from_pairs([
            ("authorization", format!("DPoP {token}").as_str()),
            ("dpop", proof),
        ])
        .method("GET")
        .url(URL)
    };

    let e = c
        .verify_request(dpop(&key.proof("GET", URL, Some(&token)).sign()))
        .await
        .unwrap_err();
    let got = seen.take();
    assert_eq!(
        got.last().map(String::as_str),
        Some("nonce challenge"),
        "{got:?}"
    );
    assert!(got.contains(&"verify request use_dpop_nonce proof:NonceRequired".to_owned()));

    let nonce = e.dpop_nonce().unwrap().to_owned();
    let proof = key.proof("GET", URL, Some(&token)).nonce(&nonce).sign();
    c.verify_request(dpop(&proof)).await.unwrap();
    assert_eq!(
        seen.take().last().map(String::as_str),
        Some("verify request ok dpop")
    );
    c.verify_request(dpop(&proof)).await.unwrap_err();
    let got = seen.take();
    assert_eq!(
        got[got.len() - 2..],
        lines(&[
            "verify request invalid_dpop_proof proof:Replayed",
            "replay rejected"
        ]),
    );

    // verify_dpop_proof on its own is observed too.
    let fresh = key.proof("GET", URL, Some(&token)).nonce(&nonce).sign();
    let _ = c.verify_dpop_proof(&token, &fresh, "GET", URL).await;
    assert!(
        seen.take()
            .iter()
            .any(|l| l.starts_with(&format!("verify {} ", EntryPoint::DpopProof.as_str())))
    );
}
