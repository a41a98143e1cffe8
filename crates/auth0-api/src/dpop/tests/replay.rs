//! Replay protection through the verifier.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

// --- replay --------------------------------------------------------------------------------

#[tokio::test]
async fn a_proof_is_accepted_once() {
    let v = verifier();
    let key = TestKey::es256();
    let proof = key.proof(&claims());
    assert!(check(&v, &proof).await.is_ok());
    assert_eq!(
        refused(&v, &proof).await,
        "DPoP proof has already been used"
    );
    // Same jti, another key: a different proof identity.
    let jti = json!("shared-jti");
    assert!(
        check(&v, &key.proof(&set(claims(), "jti", jti.clone())))
            .await
            .is_ok()
    );
    assert!(
        check(
            &v,
            &TestKey::es256().proof(&set(claims(), "jti", jti.clone()))
        )
        .await
        .is_ok()
    );
    // Same key, same jti, otherwise a new proof: still a replay of the jti.
    let again = key.proof(&set(set(claims(), "jti", jti), "iat", json!(NOW - 1)));
    assert_eq!(
        refused(&v, &again).await,
        "DPoP proof has already been used"
    );
}

#[tokio::test]
async fn failed_proofs_do_not_consume_their_jti() {
    let v = verifier();
    let key = TestKey::es256();
    let claims = claims();
    let wrong_url = key.proof(&set(
        claims.clone(),
        "htu",
        json!("https://api.example.com/other"),
    ));
    assert_eq!(refused(&v, &wrong_url).await, "DPoP Proof htu mismatch");
    assert!(check(&v, &key.proof(&claims)).await.is_ok());
}

#[tokio::test]
async fn replay_protection_can_be_turned_off() {
    let v = verifier_with(|b| b.replay_protection(false));
    let proof = TestKey::es256().proof(&claims());
    assert!(check(&v, &proof).await.is_ok());
    assert!(check(&v, &proof).await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_uses_of_one_proof_accept_exactly_one() {
    let v = Arc::new(verifier());
    let proof = Arc::new(TestKey::es256().proof(&claims()));
    let barrier = Arc::new(tokio::sync::Barrier::new(50));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (v, proof, barrier) = (Arc::clone(&v), Arc::clone(&proof), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                v.verify_at(TOKEN, &proof, "GET", URL, at(NOW)).await
            })
        })
        .collect();
    let (mut accepted, mut replays) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(e) => {
                assert_eq!(e.description(), "DPoP proof has already been used");
                replays += 1;
            }
        }
    }
    assert_eq!((accepted, replays), (1, 49));
}

/// Records what the verifier asks of its store.
#[derive(Default)]
struct RecordingStore {
    calls: Mutex<Vec<([u8; 32], String, Duration)>>,
}

#[async_trait::async_trait]
impl ReplayStore for RecordingStore {
    async fn check_and_insert(
        &self,
        key: [u8; 32],
        jkt: &str,
        ttl: Duration,
    ) -> Result<bool, ReplayStoreError> {
        self.calls.lock().unwrap().push((key, jkt.to_owned(), ttl));
        Ok(true)
    }
}

struct FailingStore(ReplayStoreError);

#[async_trait::async_trait]
impl ReplayStore for FailingStore {
    async fn check_and_insert(
        &self,
        _: [u8; 32],
        _: &str,
        _: Duration,
    ) -> Result<bool, ReplayStoreError> {
        Err(self.0.clone())
    }
}

#[tokio::test]
async fn custom_store_gets_hashed_key_jkt_and_window_ttl() {
    let store = Arc::new(RecordingStore::default());
    let shared: Arc<dyn ReplayStore> = store.clone();
    let v = verifier_with(|b| b.replay_store(shared));
    let key = TestKey::es256();
    let claims = set(claims(), "jti", json!("abc"));
    check(&v, &key.proof(&claims)).await.unwrap();

    let calls = store.calls.lock().unwrap();
    let (hashed, jkt, ttl) = calls.first().unwrap();
    assert_eq!(jkt, &key.thumbprint());
    assert_eq!(
        hashed.as_slice(),
        sha256(format!("{}\0abc", key.thumbprint()).as_bytes()).as_slice()
    );
    assert_eq!(*ttl, Duration::from_secs(330));
}

#[tokio::test]
async fn custom_store_is_not_used_when_protection_is_off() {
    let store = Arc::new(RecordingStore::default());
    let shared: Arc<dyn ReplayStore> = store.clone();
    let v = verifier_with(|b| b.replay_store(shared).replay_protection(false));
    check(&v, &TestKey::es256().proof(&claims())).await.unwrap();
    assert!(store.calls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn store_failures_fail_closed() {
    let key = TestKey::es256();
    for failure in [
        ReplayStoreError::Full,
        ReplayStoreError::Unavailable("connection refused".into()),
    ] {
        let v = verifier_with(|b| b.replay_store(Arc::new(FailingStore(failure))));
        let err = check(&v, &key.proof(&claims())).await.unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::ReplayStoreUnavailable);
        assert_eq!(err.status_code(), 503);
        assert_eq!(err.description(), "DPoP replay store unavailable");
    }
    let v =
        verifier_with(|b| b.replay_store(Arc::new(FailingStore(ReplayStoreError::PerKeyLimit))));
    assert_eq!(
        refused(&v, &key.proof(&claims())).await,
        "Too many DPoP proofs for this key"
    );
}

#[tokio::test]
async fn per_key_limit_of_the_default_store_shape() {
    let v = verifier_with(|b| b.replay_store(Arc::new(InMemoryReplayStore::new(100, 2))));
    let key = TestKey::es256();
    assert!(check(&v, &key.proof(&claims())).await.is_ok());
    assert!(check(&v, &key.proof(&claims())).await.is_ok());
    assert_eq!(
        refused(&v, &key.proof(&claims())).await,
        "Too many DPoP proofs for this key"
    );
    assert!(check(&v, &TestKey::es256().proof(&claims())).await.is_ok());
}
