//! Behaviour the gateway had without a test: `dpop = "required"` through the proxy, readiness
//! across two tenants, the fetch-failure metric, a chunked request body.

use auth0_api_dev_tenant::{Endpoint, Fault};

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_proxy_with_dpop_required_refuses_bearer_and_accepts_dpop() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-dpop-req");
    let g = proxy_to(&t, &up, &dir, "dpop-req", &["--dpop", "required"]).await;
    let url = format!("{}/orders", g.base);
    let required_bare = r#"DPoP algs="ES256""#;

    // A valid token as Bearer, a bound token without its proof, nothing: "no usable
    // credentials" with the DPoP challenge only, as `serve --dpop required` answers.
    let key = DpopKey::generate();
    let bound = t.mint().sub("user_dpop").cnf_jkt(key.thumbprint()).sign();
    let plain = bearer(&t.mint().sign());
    let as_dpop = dpop(&bound);
    for headers in [
        vec![("authorization", plain.as_str())],
        vec![("authorization", as_dpop.as_str())],
        vec![],
    ] {
        let a = request_get(&url, &headers).await;
        assert_eq!(a.status, 401, "{headers:?}");
        assert_eq!(a.header("www-authenticate"), Some(required_bare));
        assert_eq!(a.body, NO_CREDENTIALS_BODY.as_bytes());
    }
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "refusals reached upstream"
    );

    // DPoP with its proof: through, as dpop.
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    let a = request_get(&url, &[("authorization", &as_dpop), ("dpop", &proof)]).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_dpop"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["dpop"]);
}

/// One sample of the metrics text, 0 when absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_readyz_with_two_tenants_follows_the_one_whose_jwks_is_down_and_counts_failures() {
    let up_tenant = tenant().await;
    let down = tenant().await;
    down.set_fault(Endpoint::Jwks, Some(Fault::Status(503)));
    let dir = TempDir::new("gw-ready2");
    let args = [
        "--domain",
        up_tenant.domain(),
        "--domain",
        down.domain(),
        "--audience",
        AUDIENCE,
        "--ca-cert",
        &ca(&up_tenant),
        "--ca-cert",
        &ca(&down),
        "--forward-auth",
    ];
    let g = gateway(&dir, "ready2", &args).await;
    let ready = || async {
        let r = http()
            .get(format!("{}/readyz", g.admin))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let jwks_failures =
        r#"auth0_api_fetches_total{document="jwks",source="network",result="failure"}"#;
    let jwks_ok = r#"auth0_api_fetches_total{document="jwks",source="network",result="ok"}"#;

    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let text = g.metrics().await;
    assert!(sample(&text, jwks_failures) >= 1, "{text}");
    // The other tenant's tokens are still verified meanwhile.
    let a = request_get(
        &format!("{}/orders", g.base),
        &[("authorization", &bearer(&up_tenant.mint().sign()))],
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));

    down.set_fault(Endpoint::Jwks, None);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = ready().await;
        if status == 200 {
            assert_eq!(body, json!({"ready": true}));
            break;
        }
        assert!(Instant::now() < deadline, "still not ready: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = g.metrics().await;
    assert!(
        sample(&text, jwks_ok) >= 2,
        "both tenants' JWKS loaded: {text}"
    );
    let failures = sample(&text, jwks_failures);
    assert!(failures >= 1, "{text}");
    // Down again: readiness is about loaded documents, so the cached keys keep it ready.
    down.set_fault(Endpoint::Jwks, Some(Fault::Status(503)));
    let (status, body) = ready().await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_proxy_streams_a_chunked_request_body_intact() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-chunked");
    let g = proxy_to(&t, &up, &dir, "chunked", &[]).await;
    let host = g.base.trim_start_matches("http://");
    let auth = bearer(&t.mint().sign());

    // Chunks of several sizes (one with an extension), binary data, then the last chunk.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let mut body = Vec::new();
    let mut at = 0;
    for (i, size) in [1usize, 4096, 65_536, 100_000, 130_367]
        .into_iter()
        .enumerate()
    {
        let ext = if i == 2 { ";name=value" } else { "" };
        body.extend_from_slice(format!("{size:x}{ext}\r\n").as_bytes());
        body.extend_from_slice(&data[at..at + size]);
        body.extend_from_slice(b"\r\n");
        at += size;
    }
    assert_eq!(at, data.len());
    body.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nTransfer-Encoding: chunked"
    );
    let a = raw_with_body(&g.base, head.as_bytes(), &body).await;
    assert_eq!(a.status, 200, "{}", a.head);
    let seen = a.json();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["body_len"], data.len());
    assert_eq!(seen["body_sha256"], sha256_hex(&data));
    // Streamed on as it came (no length known up front), not buffered into a Content-Length.
    assert_eq!(a.seen("transfer-encoding"), ["chunked"]);
    assert!(a.seen("content-length").is_empty());
}
