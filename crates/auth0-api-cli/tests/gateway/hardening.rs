//! The gateway against crafted requests, sent byte for byte over raw sockets: paths not in
//! normal form, `Connection` naming identity headers, underscore spellings, credentials on
//! public paths, unreadable or mixed forward-auth headers; and a dead upstream, keys from the
//! environment.

use super::*;

/// A proxy-mode gateway in front of `up`: `/public` is public, `/admin` needs scope `admin`.
async fn proxy(t: &DevTenant, up: &Upstream, dir: &TempDir, name: &str, extra: &[&str]) -> Gateway {
    let mut flags = vec![
        "--public-path",
        "/public",
        "--route",
        r#"{prefix = "/admin", scopes = ["admin"]}"#,
    ];
    flags.extend_from_slice(extra);
    proxy_to(t, up, dir, name, &flags).await
}

/// `GET path` with `headers` (`Name: value` lines), as raw bytes.
fn get(g: &Gateway, path: &[u8], headers: &[&[u8]]) -> Vec<u8> {
    let host = g.base.trim_start_matches("http://");
    let mut head = b"GET ".to_vec();
    head.extend_from_slice(path);
    head.extend_from_slice(format!(" HTTP/1.1\r\nHost: {host}").as_bytes());
    for h in headers {
        head.extend_from_slice(b"\r\n");
        head.extend_from_slice(h);
    }
    head
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_proxy_refuses_paths_not_in_normal_form_and_forwards_the_checked_path() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-paths");
    let g = proxy(&t, &up, &dir, "paths", &[]).await;
    let auth = format!("Authorization: {}", bearer(&t.mint().scope("read").sign()));
    let auth = auth.as_bytes();

    // Each would escape `/admin`'s scope (or land on `/public`) if matched raw.
    for path in [
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/public/%2E%2E/admin/x",
        "/public/..%2Fadmin/x",
        "/public%2F..%2Fadmin/x",
        "/%61dmin/x",
        "/adm%69n/x",
        "//admin/x",
        "/public//x",
        "/admin;x/y",
        "/public;/../admin/x",
        "/public/./x",
        "/public\\..\\admin/x",
        "/%2561dmin/x",
    ] {
        let a = raw(&g.base, &get(&g, path.as_bytes(), &[auth])).await;
        assert_eq!(a.status, 400, "{path}: {}", a.head);
        assert_eq!(a.json()["error"], "invalid_request", "{path}");
        // Public paths too, without a token.
        let a = raw(&g.base, &get(&g, path.as_bytes(), &[])).await;
        assert_eq!(a.status, 400, "{path} without a token: {}", a.head);
    }
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        0,
        "nothing reached the upstream"
    );

    // Paths in normal form: the route decides, and the upstream gets the path checked.
    let a = raw(&g.base, &get(&g, b"/admin/x", &[auth])).await;
    assert_eq!(a.status, 403, "{}", a.head);
    let a = raw(&g.base, &get(&g, b"/public/x", &[])).await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.json()["path"], "/public/x");
    let a = raw(
        &g.base,
        &get(&g, b"/files/my%20doc/r%C3%A9sum%C3%A9?q=/../%2e", &[auth]),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.json()["path"], "/files/my%20doc/r%C3%A9sum%C3%A9");
    assert_eq!(a.json()["query"], "q=/../%2e", "the query is not judged");
    // Matching is case-sensitive (documented): `/Admin` is not under `/admin`.
    let a = raw(&g.base, &get(&g, b"/Admin/x", &[auth])).await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.json()["path"], "/Admin/x");
    assert_eq!(up.hits.load(Ordering::SeqCst), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_identity_survives_connection_and_underscore_spellings_are_stripped() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-conn");
    let g = proxy(&t, &up, &dir, "conn", &[]).await;
    let token = t
        .mint()
        .sub("user_c")
        .scope("read:a")
        .act(json!({"sub": "agent_1"}))
        .sign();
    let auth = format!("Authorization: {}", bearer(&token));
    let a = raw(
        &g.base,
        &get(
            &g,
            b"/orders",
            &[
                auth.as_bytes(),
                b"Connection: X-Auth0-Actor, X-Auth0-Scope",
                b"Connection: x-auth0-sub",
                b"X_Auth0_Sub: forged",
                b"x_auth0_org_id: org_forged",
                b"X-Auth0_Permissions: admin",
                b"X-Auth0-Actor: forged",
            ],
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.seen("x-auth0-actor"), ["agent_1"]);
    assert_eq!(a.seen("x-auth0-scope"), ["read:a"]);
    assert_eq!(a.seen("x-auth0-sub"), ["user_c"]);
    let headers = a.json()["headers"].clone();
    let names: Vec<&String> = headers.as_object().unwrap().keys().collect();
    for forged in [
        "x_auth0_sub",
        "x_auth0_org_id",
        "x-auth0_permissions",
        "connection",
    ] {
        assert!(!names.iter().any(|n| *n == forged), "{forged} in {names:?}");
    }
    assert!(a.seen("x-auth0-org-id").is_empty());
    assert!(a.seen("x-auth0-permissions").is_empty());

    // Public paths: underscore spellings stripped too.
    let a = raw(
        &g.base,
        &get(
            &g,
            b"/public/x",
            &[b"X_Auth0_Sub: forged", b"x-auth0-scope: admin"],
        ),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.head);
    let headers = a.json()["headers"].clone();
    let names: Vec<&String> = headers.as_object().unwrap().keys().collect();
    assert!(
        !names
            .iter()
            .any(|n| n.replace('_', "-").starts_with("x-auth0-")),
        "{names:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_public_paths_drop_credentials_unless_pass_credentials() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-creds");
    let token = bearer(&t.mint().sign());
    let headers = [("authorization", token.as_str()), ("dpop", "a.proof.here")];

    let g = proxy(&t, &up, &dir, "creds", &[]).await;
    let a = request_get(&format!("{}/public/x", g.base), &headers).await;
    assert_eq!(a.status, 200);
    assert!(a.seen("authorization").is_empty(), "{:?}", a.json());
    assert!(a.seen("dpop").is_empty(), "{:?}", a.json());

    let g = proxy(&t, &up, &dir, "creds-pass", &["--pass-credentials"]).await;
    let a = request_get(&format!("{}/public/x", g.base), &headers).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.seen("authorization"), [token.as_str()]);
    assert_eq!(a.seen("dpop"), ["a.proof.here"]);
    let a = request_get(&format!("{}/orders", g.base), &[("authorization", &token)]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.seen("authorization"), [token.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_reads_one_header_family_and_refuses_unreadable_ones() {
    let t = tenant().await;
    let dir = TempDir::new("gw-family");
    let args = with_tenant(
        &t,
        &[
            "--forward-auth",
            "--trusted-proxy",
            "127.0.0.1",
            "--route",
            r#"{prefix = "/admin", scopes = ["admin"]}"#,
            "--public-path",
            "/public",
        ],
    );
    let g = gateway(&dir, "family", &args).await;
    let token = bearer(&t.mint().sub("user_f").sign());
    let auth = format!("Authorization: {token}");
    let auth = auth.as_bytes();

    // A present but unreadable, empty, repeated or missing original-request header is refused
    // (401 invalid_request, as every bad request here), never replaced by `/auth` itself.
    let cases: [&[&[u8]]; 8] = [
        &[b"X-Original-URI: /orders/\xff", b"X-Original-Method: GET"],
        &[b"X-Original-URI: /orders", b"X-Original-Method: G\xffT"],
        &[b"X-Original-URI: /orders", b"X-Original-Method: GE T"],
        &[b"X-Original-Method: GET"],
        &[b"X-Original-URI: /orders", b"X-Original-URI: /admin"],
        &[b"X-Forwarded-Uri: /orders/\xfe"],
        &[b"X-Forwarded-Method: GET"],
        &[b"X-Original-URI: /public/../admin/x"],
    ];
    for (i, extra) in cases.iter().enumerate() {
        let mut headers = vec![auth];
        headers.extend_from_slice(extra);
        let a = raw(&g.base, &get(&g, b"/auth", &headers)).await;
        assert_eq!(a.status, 401, "case {i}: {}", a.head);
        assert_eq!(a.json()["error"], "invalid_request", "case {i}");
        assert_eq!(a.header("x-auth0-sub"), None, "case {i}");
    }
    // The same token is fine for `/auth` itself, and for a readable original request.
    let a = raw(&g.base, &get(&g, b"/auth", &[auth])).await;
    assert_eq!(a.status, 200, "{}", a.head);
    let a = raw(
        &g.base,
        &get(&g, b"/auth", &[auth, b"X-Original-URI: /orders"]),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.header("x-auth0-sub"), Some("user_f"));

    // One family: with X-Original-*, a client's X-Forwarded-Method/-Uri are ignored.
    let a = request(
        "GET",
        &format!("{}/auth", g.base),
        &[
            ("authorization", &token),
            ("x-original-uri", "/admin/x"),
            ("x-forwarded-uri", "/orders"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 403, "X-Original-URI decides");
    let key = DpopKey::generate();
    let bound = t.mint().sub("user_d").cnf_jkt(key.thumbprint()).sign();
    let htu = format!("{}/orders", g.base);
    for (original_method, proof_htm, status) in [
        (Some("GET"), "GET", 200),
        (Some("GET"), "DELETE", 401),
        // No X-Original-Method: the sub-request's method (GET), not X-Forwarded-Method.
        (None, "GET", 200),
        (None, "DELETE", 401),
    ] {
        let proof = key.proof(proof_htm, &htu, Some(&bound)).sign();
        let dpop_auth = dpop(&bound);
        let mut headers = vec![
            ("authorization", dpop_auth.as_str()),
            ("dpop", proof.as_str()),
            ("x-original-uri", "/orders"),
            ("x-forwarded-method", "DELETE"),
        ];
        if let Some(m) = original_method {
            headers.push(("x-original-method", m));
        }
        let a = request_get(&format!("{}/auth", g.base), &headers).await;
        assert_eq!(
            a.status,
            status,
            "X-Original-Method {original_method:?}, proof for {proof_htm}: {}",
            String::from_utf8_lossy(&a.body)
        );
        if status == 401 {
            assert_eq!(a.json()["error"], "invalid_dpop_proof");
        } else {
            assert_eq!(a.header("x-auth0-sub"), Some("user_d"));
        }
    }
    // Without X-Original-*, Traefik's family is used whole.
    let proof = key.proof("PUT", &htu, Some(&bound)).sign();
    let a = request(
        "GET",
        &format!("{}/auth", g.base),
        &[
            ("authorization", &dpop(&bound)),
            ("dpop", &proof),
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-uri", "/orders"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_dead_upstream_is_502_and_keys_from_the_environment_apply() {
    let t = tenant().await;
    let dir = TempDir::new("gw-dead");
    let token = bearer(&t.mint().scope("read").sign());

    // Nothing listens on the upstream's port: 502 of the gateway's own, quickly.
    let args = with_tenant(
        &t,
        &["--upstream", &format!("http://127.0.0.1:{}", free_port())],
    );
    let g = gateway(&dir, "dead", &args).await;
    let a = request_get(&format!("{}/orders", g.base), &[("authorization", &token)]).await;
    assert_eq!(a.status, 502);
    assert_eq!(
        a.json(),
        json!({"error": "bad_gateway", "error_description": "The upstream did not answer"})
    );
    assert!(
        g.metrics()
            .await
            .contains("auth0_gateway_requests_total{outcome=\"bad_gateway\"} 1")
    );

    // The upstream, a route and a public path from environment variables.
    let up = upstream().await;
    let upstream_url = format!("http://{}", up.addr);
    let args = tenant_args(&t);
    let g = gateway_with_env(
        &dir,
        "env",
        &args,
        &[
            ("AUTH0_GATEWAY_UPSTREAM", upstream_url.as_str()),
            (
                "AUTH0_GATEWAY_ROUTES",
                r#"{prefix = "/admin", scopes = ["admin"]}"#,
            ),
            ("AUTH0_GATEWAY_PUBLIC_PATHS", "/public,/health"),
        ],
    )
    .await;
    let a = request_get(&format!("{}/orders", g.base), &[("authorization", &token)]).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["path"], "/orders");
    let a = request_get(&format!("{}/admin/x", g.base), &[("authorization", &token)]).await;
    assert_eq!(a.status, 403);
    let a = request_get(&format!("{}/health", g.base), &[]).await;
    assert_eq!(a.status, 200);
    assert_eq!(up.hits.load(Ordering::SeqCst), 2);
}
