//! The gateway against crafted requests, sent byte for byte over raw sockets: paths not in
//! normal form, `Connection` naming identity headers, underscore spellings, credentials on
//! public paths, unreadable or mixed forward-auth headers; and a dead upstream, keys from the
//! environment.

use super::*;

/// A proxy-mode gateway in front of `up`: `/public` is public, `/admin` needs scope `admin`.
async fn proxy(t: &DevTenant, up: &Upstream, dir: &TempDir, name: &str, extra: &[&str]) -> Gateway {
    let mut args = tenant_args(t);
    args.extend([
        "--upstream".into(),
        format!("http://{}", up.addr),
        "--public-path".into(),
        "/public".into(),
        "--route".into(),
        r#"{prefix = "/admin", scopes = ["admin"]}"#.into(),
    ]);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    gateway(dir, name, &args).await
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
