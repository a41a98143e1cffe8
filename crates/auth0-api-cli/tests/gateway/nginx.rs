//! Forward-auth behind real nginx (`auth_request`), run unprivileged-style in the foreground
//! with its own config, pid and temp paths in a temp dir, on a free port; stopped on drop.

use super::*;

/// A foreground nginx, killed on drop.
struct Nginx {
    child: Child,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts nginx with `server` (the body of one `server` block) listening on `port`.
async fn nginx(dir: &TempDir, port: u16, server: &str) -> Nginx {
    let root = dir.join("nginx");
    std::fs::create_dir_all(root.join("tmp")).unwrap();
    let r = root.to_str().unwrap();
    let conf = format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {r}/nginx.pid;
error_log {r}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {r}/tmp/body;
    proxy_temp_path {r}/tmp/proxy;
    fastcgi_temp_path {r}/tmp/fastcgi;
    uwsgi_temp_path {r}/tmp/uwsgi;
    scgi_temp_path {r}/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        {server}
    }}
}}
"#
    );
    let path = root.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("nginx")
        .args(["-p", r, "-c", path.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(root.join("stderr")).unwrap())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run nginx ({e}): install it (apt-get install -y nginx)")
        });
    let mut n = Nginx { child };
    let deadline = Instant::now() + STARTUP;
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        if let Ok(Some(status)) = n.child.try_wait() {
            panic!(
                "nginx exited with {status}: {}{}",
                std::fs::read_to_string(root.join("stderr")).unwrap_or_default(),
                std::fs::read_to_string(root.join("error.log")).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "nginx did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    n
}

/// README's nginx block ("Protect an existing API"), with the gateway at `gw` and the upstream
/// at `upstream` in place of its `127.0.0.1:8080` and `127.0.0.1:3000`: the tests run the
/// configuration users copy.
fn readme_nginx_block(gw: &str, upstream: SocketAddr) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("## Protect an existing API").unwrap()..];
    let start = section.find("```nginx\n").unwrap() + "```nginx\n".len();
    let block = &section[start..];
    let block = &block[..block.find("```").unwrap()];
    assert!(block.contains("127.0.0.1:8080/auth;") && block.contains("127.0.0.1:3000;"));
    block
        .replace("127.0.0.1:8080", gw)
        .replace("127.0.0.1:3000", &upstream.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_behind_real_nginx_checks_bearer_and_dpop_against_the_clients_url() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-nginx");
    let args = with_tenant(
        &t,
        &[
            "--forward-auth",
            "--trusted-proxy",
            "127.0.0.1/32,::1",
            "--route",
            r#"{prefix = "/admin", scopes = ["admin"]}"#,
        ],
    );
    let g = gateway(&dir, "fwd", &args).await;
    let gw = g.base.trim_start_matches("http://").to_owned();
    let port = free_port();
    let server = readme_nginx_block(&gw, up.addr);
    let _nginx = nginx(&dir, port, &server).await;
    let front = format!("http://127.0.0.1:{port}");

    // Bearer through nginx; a forged identity header is overwritten by nginx.
    let token = bearer(&t.mint().sub("user_n").sign());
    let a = request_get(
        &format!("{front}/orders?x=1"),
        &[("authorization", &token), ("x-auth0-sub", "forged")],
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_n"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["bearer"]);
    assert_eq!(a.json()["query"], "x=1");

    // DPoP: the proof's htu is the URL the client used at nginx (not the gateway's).
    let key = DpopKey::generate();
    let bound = t.mint().sub("user_d").cnf_jkt(key.thumbprint()).sign();
    let url = format!("{front}/orders/9?y=2");
    let proof = key.proof("DELETE", &url, Some(&bound)).sign();
    let a = dpop_request("DELETE", &url, &bound, &proof).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_d"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["dpop"]);
    assert_eq!(a.json()["method"], "DELETE");
    let hits = up.hits.load(Ordering::SeqCst);
    // A proof for the gateway's own URL, or another method, is refused.
    for (htm, htu) in [
        ("DELETE", format!("{}/orders/9?y=2", g.base)),
        ("GET", url.clone()),
    ] {
        let proof = key.proof(htm, &htu, Some(&bound)).sign();
        let a = dpop_request("DELETE", &url, &bound, &proof).await;
        assert_eq!(a.status, 401, "{htm} {htu}");
        assert!(
            a.header("www-authenticate")
                .unwrap()
                .contains("invalid_dpop_proof"),
            "{:?}",
            a.headers
        );
    }
    // No token: 401 with the library's challenge (nginx passes WWW-Authenticate on).
    let a = request_get(&format!("{front}/orders"), &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some(ALLOWED_BARE));
    // A route's scope: 403.
    let a = request_get(&format!("{front}/admin/x"), &[("authorization", &token)]).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        hits,
        "refused requests never reach the upstream"
    );

    // The gateway directly: its answers carry the identity and the challenges.
    let a = request(
        "GET",
        &format!("{}/auth", g.base),
        &[
            ("authorization", &token),
            ("x-original-uri", "/admin/x"),
            ("x-original-method", "GET"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.header("www-authenticate"),
        Some(r#"Bearer error="insufficient_scope", scope="admin""#)
    );
    let a = request_get(&format!("{}/orders", g.base), &[("authorization", &token)]).await;
    assert_eq!(
        a.status, 200,
        "Envoy style: the sub-request is the original request"
    );
    assert_eq!(a.header("x-auth0-sub"), Some("user_n"));

    // Traefik's headers: method, URI, host and proto of the client's request.
    let traefik_url = "https://api.example.com/orders/1?z=3";
    let proof = key.proof("PUT", traefik_url, Some(&bound)).sign();
    let a = request(
        "GET",
        &format!("{}/", g.base),
        &[
            ("authorization", &dpop(&bound)),
            ("dpop", &proof),
            ("x-forwarded-method", "PUT"),
            ("x-forwarded-uri", "/orders/1?z=3"),
            ("x-forwarded-host", "api.example.com"),
            ("x-forwarded-proto", "https"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.header("x-auth0-sub"), Some("user_d"));

    // From an untrusted peer, forwarding headers are refused, never ignored.
    let args = with_tenant(&t, &["--forward-auth", "--trusted-proxy", "10.0.0.0/8"]);
    let strict = gateway(&dir, "fwd-strict", &args).await;
    let a = request_get(
        &format!("{}/auth", strict.base),
        &[("authorization", &token), ("x-original-uri", "/orders")],
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(a.json()["error"], "untrusted_proxy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_behind_the_readme_nginx_block_refuses_other_paths_and_forged_identity() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-nginx-readme");
    let args = with_tenant(
        &t,
        &[
            "--forward-auth",
            "--trusted-proxy",
            "127.0.0.1/32,::1",
            "--route",
            r#"{prefix = "/admin", scopes = ["admin"]}"#,
            "--public-path",
            "/public",
            "--dpop-nonce",
            "--dpop-nonce-secret",
            "0123456789abcdef0123456789abcdef",
        ],
    );
    let g = gateway(&dir, "fwd-readme", &args).await;
    let gw = g.base.trim_start_matches("http://").to_owned();
    let port = free_port();
    let _nginx = nginx(&dir, port, &readme_nginx_block(&gw, up.addr)).await;
    let front = format!("http://127.0.0.1:{port}");

    // Forged identity headers never reach the upstream: nginx sets every one the gateway
    // answers, and an empty one (no actor, no org) is not sent at all.
    let token = bearer(&t.mint().sub("user_n").scope("read:a").sign());
    let forged = [
        ("x-auth0-sub", "forged"),
        ("x-auth0-actor", "agent_forged"),
        ("x-auth0-scope", "admin"),
        ("x-auth0-permissions", "admin"),
        ("x-auth0-org-id", "org_forged"),
        ("x-auth0-jkt", "forged"),
        ("x-auth0-client-id", "forged"),
    ];
    let mut headers = vec![("authorization", token.as_str())];
    headers.extend(forged);
    let a = request_get(&format!("{front}/orders"), &headers).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_n"]);
    assert_eq!(a.seen("x-auth0-scope"), ["read:a"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["bearer"]);
    assert_eq!(a.seen("x-auth0-issuer"), [t.issuer()]);
    for (name, _) in forged.iter().skip(3) {
        assert!(a.seen(name).is_empty(), "{name}: {:?}", a.json());
    }
    assert!(a.seen("x-auth0-actor").is_empty(), "{:?}", a.json());
    assert!(a.seen("authorization").is_empty() && a.seen("dpop").is_empty());
    // With an actor in the token, the verified one.
    let acting = bearer(&t.mint().sub("user_a").act(json!({"sub": "agent_1"})).sign());
    let a = request(
        "GET",
        &format!("{front}/orders"),
        &[
            ("authorization", &acting),
            ("x-auth0-actor", "agent_forged"),
            ("x-auth0-scope", "admin"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.seen("x-auth0-actor"), ["agent_1"]);
    assert!(a.seen("x-auth0-scope").is_empty(), "no scope in the token");
    let hits = up.hits.load(Ordering::SeqCst);

    // Paths nginx normalises before matching its locations, but hands the gateway raw
    // (`$request_uri`) and the upstream raw (`proxy_pass` without a URI): refused.
    let host = format!("Host: 127.0.0.1:{port}");
    for path in [
        "/public/../admin/x",
        "/public/%2e%2e/admin/x",
        "/%61dmin/x",
        "//admin/x",
        "/admin;x/y",
        "/public/./../admin/x",
    ] {
        let head = format!("GET {path} HTTP/1.1\r\n{host}\r\nAuthorization: {token}");
        let a = raw(&front, head.as_bytes()).await;
        assert_eq!(a.status, 401, "{path}: {}", a.head);
        let head = format!("GET {path} HTTP/1.1\r\n{host}");
        let a = raw(&front, head.as_bytes()).await;
        assert_eq!(a.status, 401, "{path} without a token: {}", a.head);
    }
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        hits,
        "no such path reached the upstream"
    );
    let a = raw(
        &front,
        format!("GET /public/x HTTP/1.1\r\n{host}").as_bytes(),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.head);
    assert_eq!(a.json()["path"], "/public/x");

    // DPoP nonces pass back through nginx, on the 401 and on success.
    let key = DpopKey::generate();
    let bound = t.mint().sub("user_d").cnf_jkt(key.thumbprint()).sign();
    let url = format!("{front}/orders/9");
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    let a = dpop_request("GET", &url, &bound, &proof).await;
    assert_eq!(a.status, 401);
    assert!(
        a.header("www-authenticate")
            .unwrap()
            .contains("use_dpop_nonce"),
        "{:?}",
        a.headers
    );
    let nonce = a
        .header("dpop-nonce")
        .expect("DPoP-Nonce on the 401")
        .to_owned();
    let proof = key.proof("GET", &url, Some(&bound)).nonce(nonce).sign();
    let a = dpop_request("GET", &url, &bound, &proof).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-jkt"), [key.thumbprint()]);
    assert!(a.header("dpop-nonce").is_some(), "{:?}", a.headers);
}
