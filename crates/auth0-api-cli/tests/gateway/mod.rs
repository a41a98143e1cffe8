//! `auth0-api gateway`, run as a child process in front of real parts on loopback: an upstream
//! HTTP server started by the test, dev tenants over HTTPS, real nginx and real redis-server.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use futures_util::StreamExt as _;

use super::*;

mod fleet;
mod forwarding;
mod hardening;
mod limits;
mod nginx;
mod operability;
mod tokenbind;

/// A test upstream: echoes what reached it as JSON (method, path, query, every header, the
/// body's length and SHA-256, read as a stream), `GET /big?n=N` answers N bytes, `/slow`
/// answers after 1.5 s; counts hits.
pub(crate) struct Upstream {
    pub(crate) addr: SocketAddr,
    pub(crate) hits: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) async fn upstream() -> Upstream {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let (parts, body) = request.into_parts();
            if parts.uri.path() == "/slow" {
                tokio::time::sleep(Duration::from_millis(1500)).await;
            }
            if parts.uri.path() == "/big" {
                let n: usize = parts
                    .uri
                    .query()
                    .and_then(|q| q.strip_prefix("n="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                return axum::response::Response::new(Body::from(vec![b'z'; n]));
            }
            let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
            let mut len = 0usize;
            let mut stream = body.into_data_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.unwrap();
                len += chunk.len();
                ctx.update(&chunk);
            }
            let sha: String = ctx
                .finish()
                .as_ref()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
            for (k, v) in &parts.headers {
                headers
                    .entry(k.as_str().to_owned())
                    .or_default()
                    .push(String::from_utf8_lossy(v.as_bytes()).into_owned());
            }
            axum::Json(json!({
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "query": parts.uri.query(),
                "headers": headers,
                "body_len": len,
                "body_sha256": sha,
            }))
            .into_response_body()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Upstream { addr, hits, task }
}

/// `IntoResponse` spelled for the closure above (one response type for both branches).
trait IntoResponseBody {
    fn into_response_body(self) -> axum::response::Response;
}

impl<T: axum::response::IntoResponse> IntoResponseBody for T {
    fn into_response_body(self) -> axum::response::Response {
        axum::response::IntoResponse::into_response(self)
    }
}

/// A running `auth0-api gateway`.
pub(crate) struct Gateway {
    pub(crate) child: ChildGuard,
    /// `http://127.0.0.1:<port>` of the main listener.
    pub(crate) base: String,
    /// `http://127.0.0.1:<port>` of the metrics listener.
    pub(crate) admin: String,
}

impl Gateway {
    pub(crate) async fn metrics(&self) -> String {
        http()
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Starts `gateway` with `args` (everything but the listeners) and waits until both listen.
pub(crate) async fn gateway(dir: &TempDir, name: &str, args: &[impl AsRef<str>]) -> Gateway {
    gateway_with_env(dir, name, args, &[]).await
}

/// [`gateway`] with environment variables `envs` set for the child.
pub(crate) async fn gateway_with_env(
    dir: &TempDir,
    name: &str,
    args: &[impl AsRef<str>],
    envs: &[(&str, &str)],
) -> Gateway {
    for attempt in 0..5 {
        let (port, mport) = (free_port(), free_port());
        let (listen, mlisten) = (format!("127.0.0.1:{port}"), format!("127.0.0.1:{mport}"));
        let mut all = vec![
            "gateway",
            "--listen",
            listen.as_str(),
            "--metrics-listen",
            mlisten.as_str(),
        ];
        all.extend(args.iter().map(AsRef::as_ref));
        let mut child = ChildGuard::spawn(dir, &format!("{name}-{attempt}"), &all, envs);
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = child.try_exit() {
                eprintln!(
                    "gateway {name} (attempt {attempt}) exited early with {status}:\n{}",
                    child.stderr()
                );
                break;
            }
            let up = |a: &str| {
                TcpStream::connect_timeout(&a.parse().unwrap(), Duration::from_millis(200)).is_ok()
            };
            if up(&listen) && up(&mlisten) {
                return Gateway {
                    child,
                    base: format!("http://{listen}"),
                    admin: format!("http://{mlisten}"),
                };
            }
            assert!(
                Instant::now() < deadline,
                "gateway {name} did not listen within {STARTUP:?}; stderr:\n{}",
                child.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    panic!("gateway {name} could not start");
}

/// The common flags: the tenant's domain and CA, the test audience.
pub(crate) fn tenant_args(t: &DevTenant) -> Vec<String> {
    vec![
        "--domain".into(),
        t.domain().into(),
        "--audience".into(),
        AUDIENCE.into(),
        "--ca-cert".into(),
        ca(t),
    ]
}

/// [`tenant_args`], then `extra`.
pub(crate) fn with_tenant(t: &DevTenant, extra: &[&str]) -> Vec<String> {
    let mut args = tenant_args(t);
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    args
}

/// A request through the gateway: status, headers, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) body: Vec<u8>,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// What the upstream saw: one header's values.
    pub(crate) fn seen(&self, name: &str) -> Vec<String> {
        let j = self.json();
        j["headers"][name]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }
}

pub(crate) async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(body) = body {
        req = req.body(body);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Answer {
        status,
        headers,
        body,
    }
}

/// A proxy-mode gateway `name` for tenant `t`, in front of `up`, with `extra` flags.
pub(crate) async fn proxy_to(
    t: &DevTenant,
    up: &Upstream,
    dir: &TempDir,
    name: &str,
    extra: &[&str],
) -> Gateway {
    let upstream = format!("http://{}", up.addr);
    let mut args = with_tenant(t, &["--upstream", &upstream]);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    gateway(dir, name, &args).await
}

/// A GET to `url` with `headers` and no body.
pub(crate) async fn request_get(url: &str, headers: &[(&str, &str)]) -> Answer {
    request("GET", url, headers, None).await
}

/// A `method` request to `url` carrying `token` under the DPoP scheme with `proof`.
pub(crate) async fn dpop_request(method: &str, url: &str, token: &str, proof: &str) -> Answer {
    request(
        method,
        url,
        &[("authorization", &dpop(token)), ("dpop", proof)],
        None,
    )
    .await
}

/// A request from local address `from` (127.0.0.1 is the trusted proxy, 127.0.0.2 is not).
pub(crate) async fn request_from(from: [u8; 4], url: &str, headers: &[(&str, &str)]) -> Answer {
    let client = reqwest::Client::builder()
        .local_address(std::net::IpAddr::from(from))
        .build()
        .unwrap();
    let mut req = client.get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

/// An answer read off a raw socket.
pub(crate) struct Raw {
    pub(crate) status: u16,
    /// The status line and headers.
    pub(crate) head: String,
    /// The body, de-chunked.
    pub(crate) body: Vec<u8>,
}

impl Raw {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}\n{}",
                self.head,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// One response header's value (the first), by case-insensitive name.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// What the upstream saw: one header's values (the echo upstream's JSON).
    pub(crate) fn seen(&self, name: &str) -> Vec<String> {
        self.json()["headers"][name]
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default()
    }
}

/// Writes `head` (the request line and header lines, `\r\n`-separated, without the blank line)
/// byte for byte to `base` (`http://host:port`), adds `Connection: close`, and reads the whole
/// answer (at most 16 MiB, within 20 s). reqwest would normalise the path (`..`) itself.
pub(crate) async fn raw(base: &str, head: &[u8]) -> Raw {
    raw_with_body(base, head, &[]).await
}

/// [`raw`], with `body` written byte for byte after the blank line (framed by `head`).
pub(crate) async fn raw_with_body(base: &str, head: &[u8], body: &[u8]) -> Raw {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = head.to_vec();
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        stream.take(16 << 20).read_to_end(&mut buf),
    )
    .await
    .expect("the answer within 20 s")
    .unwrap();
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {}", String::from_utf8_lossy(&buf)));
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = buf[end + 4..].to_vec();
    let chunked = head.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Raw { status, head, body }
}

/// A chunked body's data (bounded by its input).
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let line = std::str::from_utf8(&data[..eol]).unwrap();
        let size = usize::from_str_radix(line.split(';').next().unwrap().trim(), 16).unwrap();
        data = &data[eol + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

/// The library's answer for a request without credentials, exactly as `serve` gives it.
pub(crate) fn assert_no_credentials(a: &Answer) {
    assert_eq!(a.status, 401);
    assert_eq!(a.header("www-authenticate"), Some(ALLOWED_BARE));
    assert_eq!(a.header("content-type"), Some("application/json"));
    assert_eq!(a.body, NO_CREDENTIALS_BODY.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_proxy_forwards_verified_requests_with_identity_and_intact_bodies() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-proxy");
    let upstream_url = format!("http://{}", up.addr);
    let args = with_tenant(&t, &["--upstream", &upstream_url, "--log-format", "json"]);
    let g = gateway(&dir, "proxy", &args).await;

    // Bearer, a query string, forged identity headers in several spellings.
    let token = t
        .mint()
        .sub("user_42")
        .scope("read:a write:b")
        .claim("azp", json!("client-7"))
        .act(json!({"sub": "agent_1", "act": {"sub": "agent_0"}}))
        .sign();
    let auth = bearer(&token);
    let a = request(
        "GET",
        &format!("{}/orders/7?q=1&r=%2F", g.base),
        &[
            ("authorization", &auth),
            ("x-auth0-sub", "forged"),
            ("X-Auth0-Scope", "admin"),
            ("x-auth0-made-up", "forged"),
        ],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let seen = a.json();
    assert_eq!(seen["path"], "/orders/7");
    assert_eq!(seen["query"], "q=1&r=%2F");
    assert_eq!(a.seen("x-auth0-sub"), ["user_42"]);
    assert_eq!(a.seen("x-auth0-scope"), ["read:a write:b"]);
    assert_eq!(a.seen("x-auth0-client-id"), ["client-7"]);
    assert_eq!(a.seen("x-auth0-actor"), ["agent_1"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["bearer"]);
    assert_eq!(a.seen("x-auth0-issuer"), [t.issuer()]);
    assert!(a.seen("x-auth0-made-up").is_empty());
    assert!(
        a.seen("authorization").is_empty(),
        "credentials are dropped"
    );

    // POST, a large body (8 MiB), intact; a large response body back.
    let big: Vec<u8> = (0..8 * 1024 * 1024).map(|i| (i % 251) as u8).collect();
    let a = request(
        "POST",
        &format!("{}/upload", g.base),
        &[("authorization", &auth)],
        Some(big.clone()),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.json()["method"], "POST");
    assert_eq!(a.json()["body_len"], big.len());
    assert_eq!(a.json()["body_sha256"], sha256_hex(&big));
    let a = request_get(
        &format!("{}/big?n=5000000", g.base),
        &[("authorization", &auth)],
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body.len(), 5_000_000);

    // DPoP: the proof's htu is the URL the client used at the gateway.
    let key = DpopKey::generate();
    let bound = t.mint().sub("user_dpop").cnf_jkt(key.thumbprint()).sign();
    let url = format!("{}/things?x=1", g.base);
    let proof = key.proof("POST", &url, Some(&bound)).sign();
    let dpop_auth = dpop(&bound);
    let headers = [
        ("authorization", dpop_auth.as_str()),
        ("dpop", proof.as_str()),
    ];
    let a = request("POST", &url, &headers, Some(b"{\"a\":1}".to_vec())).await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.seen("x-auth0-sub"), ["user_dpop"]);
    assert_eq!(a.seen("x-auth0-scheme"), ["dpop"]);
    assert_eq!(a.seen("x-auth0-jkt"), [key.thumbprint()]);
    assert!(a.seen("dpop").is_empty());
    assert_eq!(a.json()["body_sha256"], sha256_hex(b"{\"a\":1}"));
    let hits = up.hits.load(Ordering::SeqCst);
    assert_eq!(hits, 4);

    // Failures never reach the upstream, and carry the library's exact answers.
    let a = request_get(&format!("{}/orders", g.base), &[("x-auth0-sub", "forged")]).await;
    assert_no_credentials(&a);
    let expired = t.mint().expired().sign();
    let exp = bearer(&expired);
    let a = request(
        "POST",
        &format!("{}/orders", g.base),
        &[("authorization", &exp)],
        Some(vec![1; 1000]),
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate").map(str::to_owned),
        Some(allowed_bearer("invalid_token", "Token is expired"))
    );
    assert_eq!(
        a.json(),
        json!({"error": "invalid_token", "error_description": "Token is expired"})
    );
    // The same proof again: a replay.
    let a = request("POST", &url, &headers, Some(Vec::new())).await;
    assert_eq!(a.status, 400);
    assert_eq!(a.json()["error"], "invalid_dpop_proof");
    // A proof for another URL.
    let proof = key
        .proof("GET", "http://elsewhere.example/things", Some(&bound))
        .sign();
    let a = dpop_request("GET", &url, &bound, &proof).await;
    assert_eq!(a.status, 400);
    assert_eq!(
        up.hits.load(Ordering::SeqCst),
        hits,
        "no failure reached the upstream"
    );

    // Logs are JSON lines and never carry a token or a proof.
    let logs = g.child.stderr();
    assert!(
        logs.lines().any(|l| l.contains("\"outcome\":\"ok\"")),
        "{logs}"
    );
    for line in logs.lines() {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        for secret in [&token, &bound, &proof, &expired] {
            assert!(
                !line.contains(secret.as_str()),
                "a token was logged: {line}"
            );
        }
        assert!(!line.contains("q=1"), "queries are not logged: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_routes_scopes_public_paths_metadata_and_metrics_from_a_config_file() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-routes");
    let config = dir.join("gateway.toml");
    let (port, mport) = (free_port(), free_port());
    std::fs::write(
        &config,
        format!(
            r#"
domains = ["{domain}"]
audiences = ["{AUDIENCE}"]
ca_certs = ["{ca}"]
upstream = "http://{upstream}"
listen = "127.0.0.1:{port}"
metrics_listen = "127.0.0.1:{mport}"
public_paths = ["/public"]
required_claims = ["sub"]

[[routes]]
prefix = "/api/admin"
scopes = ["admin:write"]

[[routes]]
prefix = "/api/reports"
permissions = ["read:reports", "export:reports"]
require = "any"

[[resources]]
resource = "http://127.0.0.1:{port}/api"
scopes_supported = ["admin:write"]
resource_name = "Test API"
"#,
            domain = t.domain(),
            ca = ca(&t),
            upstream = up.addr,
        ),
    )
    .unwrap();
    // The file's listeners; flags would override them.
    let mut child = ChildGuard::spawn(
        &dir,
        "routes",
        &["gateway", "--config", config.to_str().unwrap()],
        &[],
    );
    let base = format!("http://127.0.0.1:{port}");
    let admin = format!("http://127.0.0.1:{mport}");
    let deadline = Instant::now() + STARTUP;
    while TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_err()
    {
        assert!(child.try_exit().is_none(), "{}", child.stderr());
        assert!(Instant::now() < deadline, "{}", child.stderr());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let metadata_url = format!("{base}/.well-known/oauth-protected-resource/api");

    let user = bearer(&t.mint().scope("read:a").sign());
    let admin_token = bearer(&t.mint().scope("admin:write").sign());
    // 403 with scope= and the resource's metadata URL.
    let a = request_get(
        &format!("{base}/api/admin/users"),
        &[("authorization", &user)],
    )
    .await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.header("www-authenticate"),
        Some(format!(r#"Bearer error="insufficient_scope", scope="admin:write", resource_metadata="{metadata_url}""#).as_str())
    );
    assert_eq!(
        a.json(),
        json!({"error": "insufficient_scope", "error_description": "Insufficient scope: missing admin:write"})
    );
    let a = request_get(
        &format!("{base}/api/admin/users"),
        &[("authorization", &admin_token)],
    )
    .await;
    assert_eq!(a.status, 200);
    // Permissions, any of them; the DPoP scheme's 403 names its algs.
    let reporter = t
        .mint()
        .claim("permissions", json!(["export:reports"]))
        .sign();
    let a = request_get(
        &format!("{base}/api/reports/q1"),
        &[("authorization", &bearer(&reporter))],
    )
    .await;
    assert_eq!(a.status, 200);
    let key = DpopKey::generate();
    let bound = t.mint().cnf_jkt(key.thumbprint()).sign();
    let url = format!("{base}/api/reports/q1");
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    let a = dpop_request("GET", &url, &bound, &proof).await;
    assert_eq!(a.status, 403);
    assert_eq!(
        a.header("www-authenticate"),
        Some(format!(r#"DPoP error="insufficient_scope", scope="read:reports export:reports", algs="ES256", resource_metadata="{metadata_url}""#).as_str())
    );
    // 401 under the resource points at the metadata too.
    let a = request_get(&format!("{base}/api/x"), &[]).await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.header("www-authenticate"),
        Some(format!(r#"Bearer realm="api", resource_metadata="{metadata_url}", DPoP algs="ES256", resource_metadata="{metadata_url}""#).as_str())
    );
    // A required claim.
    let no_sub = t.mint().remove_claim("sub").sign();
    let a = request_get(
        &format!("{base}/other"),
        &[("authorization", &bearer(&no_sub))],
    )
    .await;
    assert_eq!(a.status, 401);
    assert_eq!(
        a.json(),
        json!({"error": "invalid_token", "error_description": "Missing required claim: sub"})
    );
    // Public paths: no token needed, forged identity still stripped.
    let a = request_get(
        &format!("{base}/public/logo.png"),
        &[("x-auth0-sub", "forged")],
    )
    .await;
    assert_eq!(a.status, 200);
    assert!(a.seen("x-auth0-sub").is_empty());
    // The metadata document.
    let a = request_get(&metadata_url, &[]).await;
    assert_eq!(a.status, 200);
    let doc = a.json();
    assert_eq!(doc["resource"], format!("{base}/api"));
    assert_eq!(doc["authorization_servers"], json!([t.issuer()]));
    assert_eq!(doc["scopes_supported"], json!(["admin:write"]));
    assert_eq!(doc["dpop_signing_alg_values_supported"], json!(["ES256"]));
    assert_eq!(doc["resource_name"], "Test API");

    // Metrics: requests by outcome, latency, library counters from the observer.
    let text = http()
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "auth0_gateway_requests_total{outcome=\"ok\"} 2",
        "auth0_gateway_requests_total{outcome=\"insufficient_scope\"} 2",
        "auth0_gateway_requests_total{outcome=\"public\"} 1",
        "auth0_gateway_requests_total{outcome=\"invalid_request\"} 1",
        "auth0_gateway_request_duration_seconds_count 7",
        "auth0_api_fetches_total{document=\"jwks\",source=\"network\",result=\"ok\"} 1",
        "auth0_api_fetches_total{document=\"discovery\",source=\"network\",result=\"ok\"} 1",
    ] {
        assert!(text.contains(line), "{line} missing from:\n{text}");
    }
    assert!(
        text.contains("auth0_api_cache_lookups_total{cache=\"jwks\",result=\"hit\"}"),
        "{text}"
    );
    // A replay moves the replay counter.
    let proof = key.proof("GET", &format!("{base}/y"), Some(&bound)).sign();
    for _ in 0..2 {
        dpop_request("GET", &format!("{base}/y"), &bound, &proof).await;
    }
    let text = http()
        .get(format!("{admin}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("auth0_api_replay_rejections_total 1"),
        "{text}"
    );
    assert!(
        text.contains("auth0_gateway_requests_total{outcome=\"invalid_dpop_proof\"} 1"),
        "{text}"
    );
    drop(up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_readyz_is_false_while_the_tenant_is_down_and_true_after() {
    let t = tenant().await;
    t.set_fault(
        auth0_api_dev_tenant::Endpoint::Discovery,
        Some(auth0_api_dev_tenant::Fault::Status(503)),
    );
    let dir = TempDir::new("gw-ready");
    let args = with_tenant(&t, &["--forward-auth"]);
    let mut g = gateway(&dir, "ready", &args).await;
    let ready = || async {
        let r = http()
            .get(format!("{}/readyz", g.admin))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json::<Value>().await.unwrap())
    };
    let (status, body) = ready().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    let health = http()
        .get(format!("{}/healthz", g.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    t.set_fault(auth0_api_dev_tenant::Endpoint::Discovery, None);
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
    // SIGTERM: stops promptly with success.
    g.child.signal("TERM");
    let status = g.child.wait_exit(Duration::from_secs(15)).await;
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_bad_configuration_fails_at_start_with_one_line_naming_the_key() {
    let dir = TempDir::new("gw-bad");
    let base =
        "domains = [\"t.example.com\"]\naudiences = [\"https://api\"]\nforward_auth = true\n";
    let cases = [
        ("domainz = [\"x\"]\n", "domainz"),
        ("leeway_secs = \"soon\"\n", "leeway_secs"),
        ("dpop_algorithms = [\"HS256\"]\n", "dpop_algorithms"),
        ("[[routes]]\nprefix = \"admin\"\n", "routes[0].prefix"),
        ("replay_store = \"redis\"\n", "redis_url"),
    ];
    for (i, (extra, key)) in cases.iter().enumerate() {
        let path = dir.join(&format!("bad{i}.toml"));
        std::fs::write(&path, format!("{base}{extra}")).unwrap();
        let (status, _, stderr) = run(
            &dir,
            &format!("bad{i}"),
            &["gateway", "--config", path.to_str().unwrap()],
        )
        .await;
        assert!(!status.success());
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{stderr}");
        assert!(lines[0].contains(&format!("`{key}`")), "{key}: {stderr}");
    }
    // Environment variables are keys too, and are checked the same way.
    let path = dir.join("env.toml");
    std::fs::write(&path, base).unwrap();
    let mut child = ChildGuard::spawn(
        &dir,
        "env",
        &["gateway", "--config", path.to_str().unwrap()],
        &[("AUTH0_GATEWAY_DPOP", "maybe")],
    );
    assert!(!child.wait_exit(TOOL).await.success());
    assert!(
        child.stderr().trim().contains("`dpop`"),
        "{}",
        child.stderr()
    );
    // Flags are checked the same way, and override the file.
    let path = dir.join("good.toml");
    std::fs::write(&path, base).unwrap();
    let (status, _, stderr) = run(
        &dir,
        "flag",
        &[
            "gateway",
            "--config",
            path.to_str().unwrap(),
            "--dpop",
            "maybe",
        ],
    )
    .await;
    assert!(!status.success());
    assert!(
        stderr.trim().contains("`dpop`") && !stderr.trim().contains('\n'),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_nonces_and_graceful_shutdown_let_in_flight_requests_finish() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-nonce");
    let mut g = proxy_to(
        &t,
        &up,
        &dir,
        "nonce",
        &[
            "--dpop-nonce",
            "--dpop-nonce-secret",
            "0123456789abcdef0123456789abcdef",
            "--shutdown-grace-secs",
            "5",
        ],
    )
    .await;
    let key = DpopKey::generate();
    let token = t.mint().cnf_jkt(key.thumbprint()).sign();
    let url = format!("{}/slow", g.base);
    let proof = key.proof("GET", &url, Some(&token)).sign();
    let a = dpop_request("GET", &url, &token, &proof).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.json()["error"], "use_dpop_nonce");
    let nonce = a.header("dpop-nonce").unwrap().to_owned();
    assert_eq!(up.hits.load(Ordering::SeqCst), 0);
    // With the nonce: forwarded, and the answer carries the next nonce. SIGTERM while the
    // upstream is still working: the request finishes, then the gateway exits 0.
    let proof = key.proof("GET", &url, Some(&token)).nonce(nonce).sign();
    let in_flight = tokio::spawn(async move { dpop_request("GET", &url, &token, &proof).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.hits.load(Ordering::SeqCst) == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the upstream"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    g.child.signal("TERM");
    let a = in_flight.await.unwrap();
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    assert!(a.header("dpop-nonce").is_some());
    assert!(g.child.wait_exit(Duration::from_secs(10)).await.success());
}
