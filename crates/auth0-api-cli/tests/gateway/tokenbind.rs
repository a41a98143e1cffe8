//! The gateway with certificate-bound tokens (RFC 8705: the client certificate from a trusted
//! TLS-terminating proxy's header) and encrypted access tokens (JWE).

use auth0_api_dev_tenant::jwe::{EncryptionKeyPair, JweEncrypter};
use auth0_api_dev_tenant::mtls::ClientCertificate;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_mtls_certificate_header_from_trusted_proxies_only() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-mtls");
    let g = proxy_to(
        &t,
        &up,
        &dir,
        "mtls",
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--client-certificate-header",
            "x-client-cert",
            "--certificate-bound-tokens",
        ],
    )
    .await;

    let cert = ClientCertificate::generate("client-1").unwrap();
    let other = ClientCertificate::generate("client-2").unwrap();
    let token = t
        .mint()
        .sub("user_1")
        .bound_to_certificate(cert.der())
        .sign();
    let auth = bearer(&token);
    let url = format!("{}/orders", g.base);
    let escaped = cert.escaped_pem();

    // The proxy passed the client's certificate: through, and the header reached upstream.
    let a = request_from(
        [127, 0, 0, 1],
        &url,
        &[("authorization", &auth), ("x-client-cert", &escaped)],
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_1"]);

    // Another certificate, or none: 401 invalid_token; the upstream never sees them.
    let hits = up.hits.load(std::sync::atomic::Ordering::SeqCst);
    let a = request_from(
        [127, 0, 0, 1],
        &url,
        &[
            ("authorization", &auth),
            ("x-client-cert", &other.escaped_pem()),
        ],
    )
    .await;
    assert_eq!(a.status, 401);
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let a = request_from([127, 0, 0, 1], &url, &[("authorization", &auth)]).await;
    assert_eq!(a.status, 401);

    // The right certificate's header from a peer that is not a trusted proxy is ignored.
    let a = request_from(
        [127, 0, 0, 2],
        &url,
        &[("authorization", &auth), ("x-client-cert", &escaped)],
    )
    .await;
    assert_eq!(a.status, 401, "{}", String::from_utf8_lossy(&a.body));

    // A garbled header from the proxy: 400 invalid_request, never a crash.
    let a = request_from(
        [127, 0, 0, 1],
        &url,
        &[("authorization", &auth), ("x-client-cert", "%zz")],
    )
    .await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"], "invalid_request");
    assert_eq!(
        up.hits.load(std::sync::atomic::Ordering::SeqCst),
        hits,
        "refusals never reach the upstream"
    );

    // An unbound token needs no certificate.
    let plain = bearer(&t.mint().sub("user_2").sign());
    let a = request_from([127, 0, 0, 2], &url, &[("authorization", &plain)]).await;
    assert_eq!(a.status, 200);

    // A client's own certificate header (untrusted peer) is not passed upstream.
    let a = request_from(
        [127, 0, 0, 2],
        &url,
        &[("authorization", &plain), ("x-client-cert", &escaped)],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.seen("x-client-cert").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_jwe_encrypted_tokens_with_the_apis_key() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-jwe");
    let keys = EncryptionKeyPair::generate().unwrap();
    let key_path = dir.join("api-key.pem");
    std::fs::write(&key_path, keys.private_pem()).unwrap();
    let g = proxy_to(
        &t,
        &up,
        &dir,
        "jwe",
        &[
            "--access-token-decryption-key",
            &key_path.display().to_string(),
        ],
    )
    .await;
    let url = format!("{}/orders", g.base);

    let encrypter = JweEncrypter::from_public_key_pem(keys.public_pem()).unwrap();
    let jwe = t.mint().sub("user_1").sign_encrypted(&encrypter);
    let a = request_get(&url, &[("authorization", &bearer(&jwe))]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_1"]);

    // A plain token is refused once encryption is configured; a tampered JWE gets the one
    // generic answer.
    let plain = t.mint().sub("user_1").sign();
    let a = request_get(&url, &[("authorization", &bearer(&plain))]).await;
    assert_eq!(a.status, 401);
    let mut tampered = jwe.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let a = request_get(&url, &[("authorization", &bearer(&tampered))]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json()["error_description"],
        "Access token could not be decrypted"
    );

    // A key file that is not a key fails the start, naming the key.
    std::fs::write(&key_path, "not a key").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth0-api"))
        .args([
            "gateway",
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--upstream",
        ])
        .arg(format!("http://{}", up.addr))
        .arg("--access-token-decryption-key")
        .arg(&key_path)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("`access_token_decryption_key`"), "{stderr}");
}
