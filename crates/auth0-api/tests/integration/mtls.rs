//! Certificate-bound tokens (RFC 8705, `auth0_api::mtls`): tokens from the dev tenant bound to
//! a client certificate it generated, verified over HTTPS. `cargo test mtls`.

use auth0_api::error::{CertificateProblem, RequestError, TokenError};
use auth0_api::mtls::{CertificateBinding, MAX_CERTIFICATE_HEADER_BYTES, certificate_from_header};
use auth0_api::{ApiClient, DpopMode, Error, VerifyRequest};
use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use auth0_api_dev_tenant::mtls::ClientCertificate;
use serde_json::json;

use crate::{AUD, client, options, tenant};

const URL: &str = "https://api.example.com/resource";

fn enforcing(t: &DevTenant) -> ApiClient {
    client(options(t).certificate_binding(CertificateBinding::Enforced))
}

fn bearer(token: &str) -> VerifyRequest<'static> {
    VerifyRequest::from_pairs([("authorization", format!("Bearer {token}"))])
        .method("GET")
        .url(URL)
}

fn dpop(token: &str, proof: &str) -> VerifyRequest<'static> {
    VerifyRequest::from_pairs([
        ("authorization", format!("DPoP {token}")),
        ("dpop", proof.to_owned()),
    ])
    .method("GET")
    .url(URL)
}

async fn refused(c: &ApiClient, req: VerifyRequest<'_>) -> Error {
    match c.verify_request(req).await {
        Ok(v) => panic!("expected a refusal, got {:?}", v.claims),
        Err(e) => e,
    }
}

fn token_error(e: &Error, expected: TokenError, description: &str) {
    assert_eq!((e.status_code(), e.error_code()), (401, "invalid_token"));
    assert_eq!(e.token_error(), Some(&expected));
    assert_eq!(e.description(), description);
    let challenge = e.www_authenticate().unwrap_or_default();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
}

const REQUIRED: &str = "Certificate-bound token requires a mutual-TLS client certificate";
const MISMATCH: &str = "Certificate-bound token does not match the client certificate (x5t#S256)";

#[tokio::test]
async fn mtls_bound_token_needs_its_certificate() {
    let t = tenant().await;
    let cert = ClientCertificate::generate("client-a").unwrap();
    let other = ClientCertificate::generate("client-b").unwrap();
    let token = t
        .mint()
        .aud(json!(AUD))
        .bound_to_certificate(cert.der())
        .sign();
    let c = enforcing(&t);

    // The matching certificate: accepted, twice (the second from the verified-token cache).
    for _ in 0..2 {
        let ok = c
            .verify_request(bearer(&token).client_certificate(cert.der()))
            .await
            .unwrap();
        assert_eq!(
            ok.claims.cnf().and_then(|c| c.get("x5t#S256")),
            Some(&json!(cert.thumbprint()))
        );
    }
    // Another certificate, or none: refused (also after the token was cached).
    let e = refused(&c, bearer(&token).client_certificate(other.der())).await;
    token_error(&e, TokenError::CertificateMismatch, MISMATCH);
    let e = refused(&c, bearer(&token)).await;
    token_error(&e, TokenError::CertificateRequired, REQUIRED);

    // A thumbprint that is not a string matches nothing; an escaped member name is still read.
    for cnf in [
        json!({"x5t#S256": 1}),
        json!({"x5t#S256": null}),
        json!({"x5t#S256": ""}),
    ] {
        let odd = t.mint().aud(json!(AUD)).claim("cnf", cnf).sign();
        let e = refused(&c, bearer(&odd).client_certificate(cert.der())).await;
        token_error(&e, TokenError::CertificateMismatch, MISMATCH);
    }
    let payload = format!(
        r#"{{"iss":"{}","sub":"u","aud":"{AUD}","iat":{now},"exp":{exp},"cnf":{{"x5t\u0023S256":"{}"}}}}"#,
        t.issuer(),
        cert.thumbprint(),
        now = chrono_now(),
        exp = chrono_now() + 600,
    );
    let escaped = t.mint().raw(
        format!(
            r#"{{"alg":"RS256","typ":"JWT","kid":"{}"}}"#,
            t.active_kid()
        )
        .as_bytes(),
        payload.as_bytes(),
    );
    let e = refused(&c, bearer(&escaped)).await;
    token_error(&e, TokenError::CertificateRequired, REQUIRED);
    c.verify_request(bearer(&escaped).client_certificate(cert.der()))
        .await
        .unwrap();

    // Unbound tokens are unaffected, with or without a certificate.
    let plain = t.mint().aud(json!(AUD)).sign();
    c.verify_request(bearer(&plain)).await.unwrap();
    c.verify_request(bearer(&plain).client_certificate(other.der()))
        .await
        .unwrap();

    // The explicit opt-out (the reference's behaviour): the binding is not read.
    let lax = client(options(&t).certificate_binding(CertificateBinding::Ignored));
    lax.verify_request(bearer(&token)).await.unwrap();
    lax.verify_request(bearer(&token).client_certificate(other.der()))
        .await
        .unwrap();
}

/// RFC 8705 section 3: the binding is checked without being asked for, and only tokens that
/// carry `cnf.x5t#S256` are affected.
#[tokio::test]
async fn mtls_enforced_by_default() {
    let t = tenant().await;
    let cert = ClientCertificate::generate("client-a").unwrap();
    let bound = t
        .mint()
        .aud(json!(AUD))
        .bound_to_certificate(cert.der())
        .sign();
    for mode in [DpopMode::Allowed, DpopMode::Disabled] {
        let c = client(options(&t).dpop_mode(mode));
        // A bound token presented as plain Bearer, without its certificate: 401 invalid_token
        // with the usual challenge of the mode.
        let e = refused(&c, bearer(&bound)).await;
        token_error(&e, TokenError::CertificateRequired, REQUIRED);
        let challenge = match mode {
            DpopMode::Disabled => {
                format!(r#"Bearer error="invalid_token", error_description="{REQUIRED}""#)
            }
            _ => format!(
                r#"Bearer error="invalid_token", error_description="{REQUIRED}", DPoP algs="ES256""#
            ),
        };
        assert_eq!(e.www_authenticate(), Some(challenge.as_str()), "{mode:?}");
        // Its certificate: accepted.
        c.verify_request(bearer(&bound).client_certificate(cert.der()))
            .await
            .unwrap();
    }
    // Unbound tokens are unaffected: Bearer with or without a certificate, DPoP as usual.
    let c = client(options(&t));
    let plain = t.mint().aud(json!(AUD)).sign();
    c.verify_request(bearer(&plain)).await.unwrap();
    c.verify_request(bearer(&plain).client_certificate(cert.der()))
        .await
        .unwrap();
    let key = DpopKey::generate();
    let dpop_bound = t.mint().aud(json!(AUD)).cnf_jkt(key.thumbprint()).sign();
    let proof = key.proof("GET", URL, Some(&dpop_bound)).sign();
    c.verify_request(dpop(&dpop_bound, &proof)).await.unwrap();
    // `verify_access_token` has no request: it cannot check the binding (documented).
    c.verify_access_token(&bound).await.unwrap();
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

#[tokio::test]
async fn mtls_certificate_from_proxy_headers() {
    let t = tenant().await;
    let cert = ClientCertificate::generate("client-a").unwrap();
    let token = t
        .mint()
        .aud(json!(AUD))
        .bound_to_certificate(cert.der())
        .sign();
    let c = enforcing(&t);
    for value in [cert.pem().to_owned(), cert.escaped_pem()] {
        let der = certificate_from_header(value.as_bytes()).unwrap().unwrap();
        assert_eq!(der, cert.der());
        c.verify_request(bearer(&token).client_certificate(der))
            .await
            .unwrap();
    }
    // nginx sends an empty value when the client had no certificate.
    assert_eq!(certificate_from_header(b"").unwrap(), None);

    // Garbage and oversized values: 400 invalid_request, typed, no panic.
    let huge = vec![b'A'; MAX_CERTIFICATE_HEADER_BYTES + 1];
    let garbage: [(&[u8], CertificateProblem); 5] = [
        (&huge, CertificateProblem::TooLarge),
        (b"not a certificate", CertificateProblem::NotPem),
        (
            b"-----BEGIN%20CERTIFICATE-----%ZZ",
            CertificateProblem::BadEscape,
        ),
        (
            b"-----BEGIN CERTIFICATE-----\n*\n-----END CERTIFICATE-----",
            CertificateProblem::BadBase64,
        ),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
            CertificateProblem::NotCertificate,
        ),
    ];
    for (value, problem) in garbage {
        let e = certificate_from_header(value).unwrap_err();
        assert_eq!((e.status_code(), e.error_code()), (400, "invalid_request"));
        assert_eq!(
            e.request_error(),
            Some(&RequestError::InvalidClientCertificate(problem))
        );
    }
    // Arbitrary bytes never panic.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for len in 0..400 {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed & 0xff) as u8
            })
            .collect();
        let _ = certificate_from_header(&bytes);
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend_from_slice(&bytes);
        pem.extend_from_slice(b"\n-----END CERTIFICATE-----");
        let _ = certificate_from_header(&pem);
    }
}

#[tokio::test]
async fn mtls_with_dpop_needs_both_confirmations() {
    let t = tenant().await;
    let cert = ClientCertificate::generate("client-a").unwrap();
    let other = ClientCertificate::generate("client-b").unwrap();
    let key = DpopKey::generate();
    let token = t
        .mint()
        .aud(json!(AUD))
        .cnf_jkt(key.thumbprint())
        .bound_to_certificate(cert.der())
        .sign();
    let c = client(
        options(&t)
            .dpop_mode(DpopMode::Allowed)
            .certificate_binding(CertificateBinding::Enforced),
    );
    let proof = || key.proof("GET", URL, Some(&token)).sign();

    let ok = c
        .verify_request(dpop(&token, &proof()).client_certificate(cert.der()))
        .await
        .unwrap();
    assert!(ok.proof.is_some());
    // The proof holds but the certificate does not.
    let e = refused(&c, dpop(&token, &proof()).client_certificate(other.der())).await;
    token_error(&e, TokenError::CertificateMismatch, MISMATCH);
    let e = refused(&c, dpop(&token, &proof())).await;
    token_error(&e, TokenError::CertificateRequired, REQUIRED);
    // The certificate holds but the proof's key does not: the DPoP answer, unchanged.
    let stranger = DpopKey::generate();
    let e = refused(
        &c,
        dpop(&token, &stranger.proof("GET", URL, Some(&token)).sign())
            .client_certificate(cert.der()),
    )
    .await;
    token_error(
        &e,
        TokenError::ConfirmationMismatch,
        "JWT Access Token confirmation mismatch",
    );
    // As Bearer, the DPoP binding refuses it first (the certificate matching does not help).
    let e = refused(&c, bearer(&token).client_certificate(cert.der())).await;
    assert_eq!(e.token_error(), Some(&TokenError::BoundToDpop));

    // A token bound to the certificate only, presented with DPoP: the DPoP rules (cnf.jkt
    // required) answer as before.
    let cert_only = t
        .mint()
        .aud(json!(AUD))
        .bound_to_certificate(cert.der())
        .sign();
    let e = refused(
        &c,
        dpop(&cert_only, &key.proof("GET", URL, Some(&cert_only)).sign())
            .client_certificate(cert.der()),
    )
    .await;
    assert_eq!(e.token_error(), Some(&TokenError::MissingJkt));
}

#[tokio::test]
async fn mtls_token_endpoint_issues_certificate_bound_tokens() {
    let cert = ClientCertificate::generate("m2m").unwrap();
    let t = DevTenant::builder()
        .client("cid", "csecret", [AUD])
        .client("other", "osecret", [AUD])
        .bind_client_tokens_to_certificate("cid", cert.der())
        .start()
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .tls_certs_merge([reqwest::Certificate::from_pem(t.ca_pem().as_bytes()).unwrap()])
        .build()
        .unwrap();
    let token_for = |id: &'static str, secret: &'static str| {
        let request = http
            .post(t.token_endpoint())
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("audience", AUD)]);
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let bound = token_for("cid", "csecret").await;
    let unbound = token_for("other", "osecret").await;
    let c = enforcing(&t);
    let claims = c
        .verify_request(bearer(&bound).client_certificate(cert.der()))
        .await
        .unwrap()
        .claims;
    assert_eq!(
        claims.cnf().and_then(|cnf| cnf.get("x5t#S256")),
        Some(&json!(cert.thumbprint()))
    );
    let e = refused(&c, bearer(&bound)).await;
    token_error(&e, TokenError::CertificateRequired, REQUIRED);
    c.verify_request(bearer(&unbound)).await.unwrap();
}
