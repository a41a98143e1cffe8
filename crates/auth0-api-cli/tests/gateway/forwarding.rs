//! Proxy mode's forwarding headers: a client's own `Forwarded`/`X-Forwarded-*` never reach the
//! upstream unless its peer is a trusted proxy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_proxy_replaces_forwarding_headers_from_untrusted_peers() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-fwd");
    let mut args = with_tenant(
        &t,
        &[
            "--upstream",
            &format!("http://{}", up.addr),
            "--trusted-proxy",
            "127.0.0.1",
        ],
    );
    let g = gateway(&dir, "fwd", &args).await;
    let auth = bearer(&t.mint().sub("user_1").sign());
    let forged = [
        ("authorization", auth.as_str()),
        ("x-forwarded-for", "203.0.113.7"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "https"),
        ("x_forwarded_proto", "https"),
        ("forwarded", "for=203.0.113.7;host=evil.example;proto=https"),
        ("x-real-ip", "203.0.113.7"),
    ];
    let url = format!("{}/orders", g.base);
    let host = g.base.trim_start_matches("http://");

    // 127.0.0.2 is not a trusted proxy: the upstream sees what the gateway saw.
    let a = request_from([127, 0, 0, 2], &url, &forged).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-forwarded-for"), ["127.0.0.2"]);
    assert_eq!(a.seen("x-forwarded-host"), [host]);
    assert_eq!(a.seen("x-forwarded-proto"), ["http"]);
    for gone in ["forwarded", "x_forwarded_proto", "x-real-ip"] {
        assert!(a.seen(gone).is_empty(), "{gone} reached the upstream");
    }
    // Public paths and refusals alike: a refused request never reaches the upstream at all.
    let hits = up.hits.load(Ordering::SeqCst);
    let a = request_from([127, 0, 0, 2], &url, &forged[1..]).await;
    assert_eq!(a.status, 401);
    assert_eq!(up.hits.load(Ordering::SeqCst), hits);

    // 127.0.0.1 is: its headers stay, and the peer is appended to X-Forwarded-For.
    let a = request_from([127, 0, 0, 1], &url, &forged).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.seen("x-forwarded-for"), ["203.0.113.7", "127.0.0.1"]);
    assert_eq!(a.seen("x-forwarded-host"), ["evil.example"]);
    assert_eq!(a.seen("x-forwarded-proto"), ["https"]);
    assert_eq!(a.seen("forwarded").len(), 1);
    drop(g);

    // With a public URL, the scheme is the public URL's (as the DPoP htu is built).
    args.extend(["--public-url".into(), "https://api.example.com".into()]);
    let g = gateway(&dir, "fwd-url", &args).await;
    let url = format!("{}/orders", g.base);
    let host = g.base.trim_start_matches("http://");
    let a = request_from([127, 0, 0, 2], &url, &forged).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.seen("x-forwarded-for"), ["127.0.0.2"]);
    assert_eq!(a.seen("x-forwarded-host"), [host]);
    assert_eq!(a.seen("x-forwarded-proto"), ["https"]);
}
