//! End-to-end tests of the `auth0-api` binary, run as child processes.
//!
//! `serve` is checked against in-process dev tenants (`auth0-api-dev-tenant`) for the exact HTTP
//! contract the conformance suite compares: status, one `WWW-Authenticate` value, the JSON body
//! and `DPoP-Nonce`. The tools (`dev-tenant`, `token`, `dpop-proof`, `verify`) are checked by a
//! round trip through the real binary only, and `demo` by its exit status and summary.
//!
//! Every child is killed when its guard drops (also when an assertion fails), and every wait is
//! bounded.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use auth0_api_dev_tenant::DevTenant;
use auth0_api_dev_tenant::dpop::DpopKey;
use base64::Engine as _;
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_auth0-api");
const AUDIENCE: &str = "https://api.example.com";
const CLIENT_ID: &str = "dev-client";
const CLIENT_SECRET: &str = "dev-client-secret";

/// The body of every "no usable credentials" answer, byte for byte.
const NO_CREDENTIALS_BODY: &str = r#"{"error":"invalid_request","error_description":""}"#;
/// The challenge without details, DPoP allowed.
const ALLOWED_BARE: &str = r#"Bearer realm="api", DPoP algs="ES256""#;

/// Longest wait for a child to start listening (debug build on a busy 2-core machine).
const STARTUP: Duration = Duration::from_secs(30);
/// Longest wait for a child to exit after a signal: "promptly".
const PROMPT_EXIT: Duration = Duration::from_secs(5);
/// Longest wait for a one-shot tool (`token`, `dpop-proof`, `verify`).
const TOOL: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Harness: temp dirs, child guards, serve startup, HTTP helpers.
// ---------------------------------------------------------------------------------------------

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "auth0-api-cli-test-{}-{tag}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A running `auth0-api` child; killed (and reaped) on drop unless it already exited. Its stdout
/// and stderr go to files, so a chatty child can never block on a full pipe.
struct ChildGuard {
    child: Child,
    name: String,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl ChildGuard {
    fn spawn(dir: &TempDir, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let stdout = dir.join(&format!("{name}.stdout"));
        let stderr = dir.join(&format!("{name}.stderr"));
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(File::create(&stdout).unwrap())
            .stderr(File::create(&stderr).unwrap())
            .env_remove("RUST_LOG");
        // The tenants are on loopback: never route their HTTPS through a proxy from the environment.
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            cmd.env_remove(var);
        }
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {BIN} {args:?}: {e}"));
        ChildGuard {
            child,
            name: name.to_owned(),
            stdout,
            stderr,
        }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Sends a signal by name (`TERM`, `INT`) with kill(1).
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args(["-s", signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} {} failed", self.name);
    }

    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_exit() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {limit:?}; stderr:\n{}",
                self.name,
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs a one-shot subcommand to completion: (exit status, stdout, stderr).
async fn run(dir: &TempDir, name: &str, args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = ChildGuard::spawn(dir, name, args, &[]);
    let status = child.wait_exit(TOOL).await;
    (status, child.stdout(), child.stderr())
}

/// A free loopback port (bound, read, released: `serve` needs a fixed `--listen`).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `auth0-api serve`.
struct Serve {
    child: ChildGuard,
    /// `http://127.0.0.1:<port>`: where to send requests (and the default public URL).
    base: String,
    addr: SocketAddr,
}

/// Starts `serve` with `args` (everything but `--listen`) and waits until it accepts
/// connections. Retries on another port if the picked one was taken in between.
async fn serve(dir: &TempDir, name: &str, args: &[&str], envs: &[(&str, &str)]) -> Serve {
    for attempt in 0..5 {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let listen = addr.to_string();
        let mut all = vec!["serve", "--listen", listen.as_str()];
        all.extend_from_slice(args);
        let mut child = ChildGuard::spawn(dir, &format!("{name}-{attempt}"), &all, envs);
        let deadline = Instant::now() + STARTUP;
        loop {
            if let Some(status) = child.try_exit() {
                eprintln!(
                    "serve {name} (attempt {attempt}) exited early with {status}:\n{}",
                    child.stderr()
                );
                break;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Serve {
                    child,
                    base: format!("http://{addr}"),
                    addr,
                };
            }
            assert!(
                Instant::now() < deadline,
                "serve {name} did not listen on {addr} within {STARTUP:?}; stderr:\n{}",
                child.stderr()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    panic!("serve {name} could not start");
}

/// A dev tenant with the client `token` uses and the test audience.
async fn tenant() -> DevTenant {
    DevTenant::builder()
        .client(CLIENT_ID, CLIENT_SECRET, [AUDIENCE])
        .start()
        .await
        .unwrap()
}

fn ca(tenant: &DevTenant) -> String {
    tenant.ca_path().to_str().unwrap().to_owned()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// What `serve` answered.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Every `WWW-Authenticate` value.
    challenges: Vec<String>,
    /// Every `DPoP-Nonce` value.
    nonces: Vec<String>,
    content_type: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {:?}", self.body))
    }

    /// 200, no challenge, no nonce: the whoami body.
    fn ok(&self) -> Value {
        assert_eq!(self.status, 200, "{self:?}");
        assert!(self.challenges.is_empty(), "{self:?}");
        assert!(self.nonces.is_empty(), "{self:?}");
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        self.json()
    }

    /// The error's status, exactly one `WWW-Authenticate` value, no nonce, and the JSON body.
    fn error(&self, status: u16, code: &str, description: &str, challenge: &str) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.challenges, [challenge], "{self:?}");
        assert!(self.nonces.is_empty(), "{self:?}");
        assert_eq!(self.content_type.as_deref(), Some("application/json"));
        assert_eq!(
            self.json(),
            json!({"error": code, "error_description": description}),
            "{self:?}"
        );
    }

    /// 401 invalid_request with an empty description: no usable credentials.
    fn no_credentials(&self, challenge: &str) {
        self.error(401, "invalid_request", "", challenge);
        assert_eq!(self.body, NO_CREDENTIALS_BODY);
    }
}

async fn send(method: &str, url: &str, headers: &[(&str, &str)]) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = http().request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let all = |name: &str| -> Vec<String> {
        resp.headers()
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    };
    let challenges = all("www-authenticate");
    let nonces = all("dpop-nonce");
    let content_type = all("content-type").into_iter().next();
    Reply {
        status: resp.status().as_u16(),
        challenges,
        nonces,
        content_type,
        body: resp.text().await.unwrap(),
    }
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    send("GET", url, headers).await
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn dpop(token: &str) -> String {
    format!("DPoP {token}")
}

/// The token's claims, decoded independently of the library.
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// `Bearer error=..., DPoP algs=...`: DPoP allowed, request used Bearer.
fn allowed_bearer(code: &str, description: &str) -> String {
    format!(r#"Bearer error="{code}", error_description="{description}", DPoP algs="ES256""#)
}

/// `Bearer realm=..., DPoP error=...`: DPoP allowed, request used DPoP.
fn allowed_dpop(code: &str, description: &str) -> String {
    format!(
        r#"Bearer realm="api", DPoP error="{code}", error_description="{description}", algs="ES256""#
    )
}

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_bearer_ok_reports_claims_actor_and_delegation_chain() {
    let dir = TempDir::new("bearer");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
        ],
        &[],
    )
    .await;

    // A delegated token: the current actor is the outermost act.sub, the chain newest first.
    let token = t
        .mint()
        .sub("auth0|user123")
        .scope("read:calendar")
        .act(json!({"sub": "mcp_server_2", "act": {"sub": "mcp_server_1", "act": {"sub": "spa"}}}))
        .sign();
    let body = get(
        &format!("{}/whoami", s.base),
        &[("authorization", &bearer(&token))],
    )
    .await
    .ok();
    assert_eq!(
        body,
        json!({
            "claims": payload(&token),
            "current_actor": "mcp_server_2",
            "delegation_chain": ["mcp_server_2", "mcp_server_1", "spa"],
        })
    );

    // Without `act`: null actor, empty chain. Any method, any path, case-insensitive scheme.
    let plain = t.mint().sub("auth0|user456").sign();
    for (method, path) in [
        ("GET", "/"),
        ("POST", "/a/b?c=d"),
        ("PUT", "/x"),
        ("DELETE", "/y/"),
        ("PATCH", "/z"),
    ] {
        let url = format!("{}{path}", s.base);
        let body = send(
            method,
            &url,
            &[("authorization", &format!("bEaReR {plain}"))],
        )
        .await
        .ok();
        assert_eq!(
            body,
            json!({"claims": payload(&plain), "current_actor": null, "delegation_chain": []}),
            "{method} {path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_without_usable_credentials_answers_401_with_the_bare_challenge() {
    let dir = TempDir::new("nocreds");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
        ],
        &[],
    )
    .await;

    for (method, path) in [("GET", "/"), ("POST", "/any/path?x=1"), ("DELETE", "/z")] {
        send(method, &format!("{}{path}", s.base), &[])
            .await
            .no_credentials(ALLOWED_BARE);
    }
    let url = format!("{}/whoami", s.base);
    for authorization in ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"] {
        get(&url, &[("authorization", authorization)])
            .await
            .no_credentials(ALLOWED_BARE);
    }
    // DPoP scheme without a proof.
    let token = t.mint().sign();
    get(&url, &[("authorization", &dpop(&token))])
        .await
        .no_credentials(ALLOWED_BARE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_rejects_expired_and_misused_tokens_with_their_errors() {
    let dir = TempDir::new("expired");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
        ],
        &[],
    )
    .await;
    let url = format!("{}/whoami", s.base);

    let expired = t.mint().expired().sign();
    get(&url, &[("authorization", &bearer(&expired))])
        .await
        .error(
            401,
            "invalid_token",
            "Token is expired",
            &allowed_bearer("invalid_token", "Token is expired"),
        );

    // A DPoP-bound token presented as Bearer while DPoP is enabled.
    let key = DpopKey::generate();
    let bound = t.mint().cnf_jkt(key.thumbprint()).sign();
    let description = "DPoP-bound token requires the DPoP authentication scheme, not Bearer";
    get(&url, &[("authorization", &bearer(&bound))])
        .await
        .error(
            401,
            "invalid_token",
            description,
            &allowed_bearer("invalid_token", description),
        );

    // A proof sent along with the Bearer scheme.
    let plain = t.mint().sign();
    let proof = key.proof("GET", &url, Some(&plain)).sign();
    let description = "DPoP proof requires DPoP authentication scheme, not Bearer";
    get(
        &url,
        &[("authorization", &bearer(&plain)), ("dpop", &proof)],
    )
    .await
    .error(
        400,
        "invalid_request",
        description,
        &allowed_bearer("invalid_request", description),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_dpop_ok_with_htu_public_url_plus_path_and_query_dropped() {
    let dir = TempDir::new("dpop");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
        ],
        &[],
    )
    .await;
    let key = DpopKey::generate();
    let token = t
        .mint()
        .sub("auth0|dpop-user")
        .cnf_jkt(key.thumbprint())
        .sign();
    let auth = dpop(&token);

    // htu is the public URL (default http://<listen>) + path; the request's query is dropped.
    let proof = key
        .proof("GET", &format!("{}/api/whoami", s.base), Some(&token))
        .sign();
    let body = get(
        &format!("{}/api/whoami?x=1&y=2", s.base),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await
    .ok();
    assert_eq!(
        body,
        json!({"claims": payload(&token), "current_actor": null, "delegation_chain": []})
    );

    // Another method; htu's own query is dropped as well; percent-escapes compare upper-cased.
    let proof = key
        .proof("PATCH", &format!("{}/a%2Fb?q=1", s.base), Some(&token))
        .sign();
    send(
        "PATCH",
        &format!("{}/a%2fb", s.base),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await
    .ok();

    // The same proof again: a replay.
    let proof = key
        .proof("GET", &format!("{}/once", s.base), Some(&token))
        .sign();
    let once = format!("{}/once", s.base);
    get(&once, &[("authorization", &auth), ("dpop", &proof)])
        .await
        .ok();
    let replayed = "DPoP proof has already been used";
    get(&once, &[("authorization", &auth), ("dpop", &proof)])
        .await
        .error(
            400,
            "invalid_dpop_proof",
            replayed,
            &allowed_dpop("invalid_dpop_proof", replayed),
        );

    // A proof for another path or another method.
    for (htm, path) in [("GET", "/elsewhere"), ("POST", "/api/whoami")] {
        let proof = key
            .proof(htm, &format!("{}{path}", s.base), Some(&token))
            .sign();
        let description = if htm == "GET" {
            "DPoP Proof htu mismatch"
        } else {
            "DPoP Proof htm mismatch"
        };
        get(
            &format!("{}/api/whoami", s.base),
            &[("authorization", &auth), ("dpop", &proof)],
        )
        .await
        .error(
            400,
            "invalid_dpop_proof",
            description,
            &allowed_dpop("invalid_dpop_proof", description),
        );
    }

    // A proof by another key: the token's binding does not match.
    let other = DpopKey::generate();
    let proof = other
        .proof("GET", &format!("{}/api/whoami", s.base), Some(&token))
        .sign();
    let description = "JWT Access Token confirmation mismatch";
    get(
        &format!("{}/api/whoami", s.base),
        &[("authorization", &auth), ("dpop", &proof)],
    )
    .await
    .error(
        401,
        "invalid_token",
        description,
        &allowed_dpop("invalid_token", description),
    );

    // Two proofs.
    let p1 = key.proof("GET", &once, Some(&token)).sign();
    let p2 = key.proof("GET", &once, Some(&token)).sign();
    let description = "Multiple DPoP proofs are not allowed";
    get(
        &once,
        &[("authorization", &auth), ("dpop", &p1), ("dpop", &p2)],
    )
    .await
    .error(
        400,
        "invalid_dpop_proof",
        description,
        &allowed_dpop("invalid_dpop_proof", description),
    );

    // An unbound token with the DPoP scheme.
    let unbound = t.mint().sign();
    let proof = key.proof("GET", &once, Some(&unbound)).sign();
    let description = "JWT Access Token has no jkt confirmation claim";
    get(
        &once,
        &[("authorization", &dpop(&unbound)), ("dpop", &proof)],
    )
    .await
    .error(
        401,
        "invalid_token",
        description,
        &allowed_dpop("invalid_token", description),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_honours_public_url_for_htu() {
    let dir = TempDir::new("publicurl");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
            "--public-url",
            "https://API.example.com:443/",
        ],
        &[],
    )
    .await;
    let key = DpopKey::generate();
    let token = t.mint().cnf_jkt(key.thumbprint()).sign();
    let auth = dpop(&token);
    let url = format!("{}/whoami?tab=1", s.base);

    // The proof names the public URL, not the address the request physically reached.
    let proof = key
        .proof("GET", "https://api.example.com/whoami", Some(&token))
        .sign();
    get(&url, &[("authorization", &auth), ("dpop", &proof)])
        .await
        .ok();

    let proof = key
        .proof("GET", &format!("{}/whoami", s.base), Some(&token))
        .sign();
    let description = "DPoP Proof htu mismatch";
    get(&url, &[("authorization", &auth), ("dpop", &proof)])
        .await
        .error(
            400,
            "invalid_dpop_proof",
            description,
            &allowed_dpop("invalid_dpop_proof", description),
        );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_each_dpop_mode_answers_with_its_challenge() {
    let dir = TempDir::new("modes");
    let t = tenant().await;
    let ca = ca(&t);
    let key = DpopKey::generate();
    let plain = t.mint().sign();
    let bound = t.mint().cnf_jkt(key.thumbprint()).sign();
    let expired_bound = t.mint().cnf_jkt(key.thumbprint()).expired().sign();
    let expired = t.mint().expired().sign();
    let exp = "Token is expired";

    // required
    let s = serve(
        &dir,
        "required",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
            "--dpop",
            "required",
        ],
        &[],
    )
    .await;
    let url = format!("{}/r", s.base);
    let required_bare = r#"DPoP algs="ES256""#;
    get(&url, &[]).await.no_credentials(required_bare);
    get(&url, &[("authorization", &bearer(&plain))])
        .await
        .no_credentials(required_bare);
    get(&url, &[("authorization", &dpop(&bound))])
        .await
        .no_credentials(required_bare);
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    get(&url, &[("authorization", &dpop(&bound)), ("dpop", &proof)])
        .await
        .ok();
    let proof = key.proof("GET", &url, Some(&expired_bound)).sign();
    get(
        &url,
        &[("authorization", &dpop(&expired_bound)), ("dpop", &proof)],
    )
    .await
    .error(
        401,
        "invalid_token",
        exp,
        &format!(r#"DPoP error="invalid_token", error_description="{exp}", algs="ES256""#),
    );
    drop(s);

    // disabled
    let s = serve(
        &dir,
        "disabled",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
            "--dpop",
            "disabled",
        ],
        &[],
    )
    .await;
    let url = format!("{}/d", s.base);
    let disabled_bare = r#"Bearer realm="api""#;
    get(&url, &[]).await.no_credentials(disabled_bare);
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    get(&url, &[("authorization", &dpop(&bound)), ("dpop", &proof)])
        .await
        .no_credentials(disabled_bare);
    get(&url, &[("authorization", &bearer(&expired))])
        .await
        .error(
            401,
            "invalid_token",
            exp,
            &format!(r#"Bearer error="invalid_token", error_description="{exp}""#),
        );
    // With DPoP disabled, a bound token is a plain Bearer token and a DPoP header is ignored.
    get(&url, &[("authorization", &bearer(&bound))]).await.ok();
    get(
        &url,
        &[("authorization", &bearer(&plain)), ("dpop", &proof)],
    )
    .await
    .ok();
    drop(s);

    // allowed (explicit)
    let s = serve(
        &dir,
        "allowed",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
            "--dpop",
            "allowed",
        ],
        &[],
    )
    .await;
    let url = format!("{}/a", s.base);
    get(&url, &[]).await.no_credentials(ALLOWED_BARE);
    get(&url, &[("authorization", &bearer(&plain))]).await.ok();
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    get(&url, &[("authorization", &dpop(&bound)), ("dpop", &proof)])
        .await
        .ok();
    get(&url, &[("authorization", &bearer(&expired))])
        .await
        .error(
            401,
            "invalid_token",
            exp,
            &allowed_bearer("invalid_token", exp),
        );
    let proof = key.proof("GET", &url, Some(&expired_bound)).sign();
    get(
        &url,
        &[("authorization", &dpop(&expired_bound)), ("dpop", &proof)],
    )
    .await
    .error(
        401,
        "invalid_token",
        exp,
        &allowed_dpop("invalid_token", exp),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_multiple_custom_domains_list_mode() {
    let dir = TempDir::new("mcd");
    let a = tenant().await;
    let b = tenant().await;
    let c = tenant().await;
    // `--ca-cert` takes one PEM file: a bundle of every tenant's CA (c's too, so that only the
    // allowed-list check can refuse its token).
    let bundle = dir.join("bundle.pem");
    std::fs::write(&bundle, [a.ca_pem(), b.ca_pem(), c.ca_pem()].join("\n")).unwrap();
    let bundle = bundle.to_str().unwrap().to_owned();
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            a.domain(),
            "--domain",
            b.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &bundle,
        ],
        &[],
    )
    .await;
    let url = format!("{}/whoami", s.base);

    for (name, t) in [("a", &a), ("b", &b)] {
        let token = t.mint().sub(format!("user_of_{name}")).sign();
        let body = get(&url, &[("authorization", &bearer(&token))]).await.ok();
        assert_eq!(body["claims"], payload(&token), "tenant {name}");
        assert_eq!(body["claims"]["iss"], json!(t.issuer()));
    }

    let foreign = c.mint().sign();
    let description = "Token issuer is not in the list of allowed domains";
    get(&url, &[("authorization", &bearer(&foreign))])
        .await
        .error(
            401,
            "invalid_token",
            description,
            &allowed_bearer("invalid_token", description),
        );
    // Refused before any network call to the foreign issuer.
    assert_eq!(c.stats().discovery, 0, "{:?}", c.stats());

    get(&url, &[]).await.no_credentials(ALLOWED_BARE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_invalid_act_claim_on_a_valid_token_is_401_invalid_token() {
    let dir = TempDir::new("act");
    let t = tenant().await;
    let ca = ca(&t);
    let s = serve(
        &dir,
        "serve",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
        ],
        &[],
    )
    .await;
    let url = format!("{}/whoami", s.base);
    let description = "Invalid act claim";

    for act in [
        json!("mcp_server"),
        json!(42),
        json!({}),
        json!({"sub": ""}),
        json!({"sub": "   "}),
        json!({"sub": 7}),
        json!({"sub": "outer", "act": {"client": "inner"}}),
        json!({"sub": "outer", "act": "inner"}),
    ] {
        let token = t.mint().act(act.clone()).sign();
        get(&url, &[("authorization", &bearer(&token))])
            .await
            .error(
                401,
                "invalid_token",
                description,
                &allowed_bearer("invalid_token", description),
            );

        // The same through the DPoP scheme: the challenge follows the scheme.
        let key = DpopKey::generate();
        let bound = t.mint().act(act.clone()).cnf_jkt(key.thumbprint()).sign();
        let proof = key.proof("GET", &url, Some(&bound)).sign();
        get(&url, &[("authorization", &dpop(&bound)), ("dpop", &proof)])
            .await
            .error(
                401,
                "invalid_token",
                description,
                &allowed_dpop("invalid_token", description),
            );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_stops_promptly_on_sigterm_and_sigint_and_never_logs_tokens() {
    let dir = TempDir::new("signals");
    let t = tenant().await;
    let ca = ca(&t);
    let args = [
        "--domain",
        t.domain(),
        "--audience",
        AUDIENCE,
        "--ca-cert",
        &ca,
    ];
    let mut s = serve(&dir, "term", &args, &[("RUST_LOG", "trace")]).await;
    let url = format!("{}/whoami", s.base);

    // Requests that succeed and fail, with secrets in their headers.
    let key = DpopKey::generate();
    let valid = t.mint().sub("auth0|logged-user").sign();
    let expired = t.mint().expired().sign();
    let bad_act = t.mint().act(json!("x")).sign();
    let bound = t.mint().cnf_jkt(key.thumbprint()).sign();
    let proof = key.proof("GET", &url, Some(&bound)).sign();
    let bad_proof = key.proof("POST", &url, Some(&bound)).sign();
    get(&url, &[("authorization", &bearer(&valid))]).await.ok();
    assert_eq!(
        get(&url, &[("authorization", &bearer(&expired))])
            .await
            .status,
        401
    );
    assert_eq!(
        get(&url, &[("authorization", &bearer(&bad_act))])
            .await
            .status,
        401
    );
    get(&url, &[("authorization", &dpop(&bound)), ("dpop", &proof)])
        .await
        .ok();
    assert_eq!(
        get(
            &url,
            &[("authorization", &dpop(&bound)), ("dpop", &bad_proof)]
        )
        .await
        .status,
        400
    );

    // An idle keep-alive connection stays open in this client's pool while the signal arrives.
    let client = http();
    let r = client
        .get(&url)
        .header("authorization", bearer(&valid))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let _ = r.bytes().await.unwrap();

    let started = Instant::now();
    s.child.signal("TERM");
    let status = s.child.wait_exit(PROMPT_EXIT).await;
    assert!(
        status.success(),
        "SIGTERM: {status}; stderr:\n{}",
        s.child.stderr()
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "SIGTERM took {:?}",
        started.elapsed()
    );
    drop(client);

    let logs = s.child.stderr();
    assert!(logs.contains("serving"), "no startup log:\n{logs}");
    assert!(logs.contains("stopped"), "no shutdown log:\n{logs}");
    assert!(
        !logs.contains('\u{1b}'),
        "colour codes in a log file:\n{logs}"
    );
    for secret in [&valid, &expired, &bad_act, &bound, &proof, &bad_proof] {
        let signature = secret.rsplit('.').next().unwrap();
        assert!(
            !logs.contains(secret.as_str()),
            "a token or proof was logged:\n{logs}"
        );
        assert!(!logs.contains(signature), "a signature was logged:\n{logs}");
    }

    // SIGINT (Ctrl-C) stops it too, even while a client holds a half-sent request: after a
    // bounded grace period (3 s).
    let mut s = serve(&dir, "int", &args, &[]).await;
    get(&format!("{}/", s.base), &[])
        .await
        .no_credentials(ALLOWED_BARE);
    let mut stalled = TcpStream::connect(s.addr).unwrap();
    std::io::Write::write_all(&mut stalled, b"GET /whoami HTTP/1.1\r\nHost: x\r\n").unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.child.signal("INT");
    let status = s.child.wait_exit(Duration::from_secs(10)).await;
    drop(stalled);
    assert!(
        status.success(),
        "SIGINT: {status}; stderr:\n{}",
        s.child.stderr()
    );

    // A signal as soon as it accepts connections is handled too (not the default action).
    let mut s = serve(&dir, "early", &args, &[]).await;
    s.child.signal("TERM");
    let status = s.child.wait_exit(PROMPT_EXIT).await;
    assert!(
        status.success(),
        "early SIGTERM: {status}; stderr:\n{}",
        s.child.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_bad_configuration_with_non_zero_exit() {
    let dir = TempDir::new("badconfig");
    let missing = dir.join("missing.pem");
    let missing = missing.to_str().unwrap();
    let not_pem = dir.join("not.pem");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let not_pem = not_pem.to_str().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    for (name, args) in [
        (
            "no-domain",
            vec!["serve", "--audience", AUDIENCE, "--listen", &listen],
        ),
        (
            "no-audience",
            vec![
                "serve",
                "--domain",
                "tenant.example.com",
                "--listen",
                &listen,
            ],
        ),
        (
            "bad-dpop",
            vec![
                "serve",
                "--domain",
                "t.example.com",
                "--audience",
                AUDIENCE,
                "--listen",
                &listen,
                "--dpop",
                "sometimes",
            ],
        ),
        (
            "missing-ca",
            vec![
                "serve",
                "--domain",
                "t.example.com",
                "--audience",
                AUDIENCE,
                "--listen",
                &listen,
                "--ca-cert",
                missing,
            ],
        ),
        (
            "bad-ca",
            vec![
                "serve",
                "--domain",
                "t.example.com",
                "--audience",
                AUDIENCE,
                "--listen",
                &listen,
                "--ca-cert",
                not_pem,
            ],
        ),
    ] {
        let (status, _, stderr) = run(&dir, name, &args).await;
        assert!(!status.success(), "{name}: {status}");
        assert!(!stderr.is_empty(), "{name}: no message");
    }
}

// ---------------------------------------------------------------------------------------------
// demo and the tools
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_exits_zero_and_reports_no_failures() {
    let dir = TempDir::new("demo");
    let mut child = ChildGuard::spawn(&dir, "demo", &["demo"], &[]);
    let status = child.wait_exit(Duration::from_secs(180)).await;
    let out = child.stdout();
    assert!(
        status.success(),
        "demo: {status}\nstdout:\n{out}\nstderr:\n{}",
        child.stderr()
    );
    assert!(out.contains(" 0 failed"), "{out}");
}

/// Parses the JSON `dev-tenant` prints on stdout, waiting (bounded) until it is complete.
async fn dev_tenant_info(child: &mut ChildGuard) -> Value {
    let deadline = Instant::now() + STARTUP;
    loop {
        if let Ok(v) = serde_json::from_str::<Value>(&child.stdout()) {
            return v;
        }
        if let Some(status) = child.try_exit() {
            panic!("dev-tenant exited with {status}:\n{}", child.stderr());
        }
        assert!(
            Instant::now() < deadline,
            "dev-tenant printed no JSON within {STARTUP:?}; stdout:\n{}\nstderr:\n{}",
            child.stdout(),
            child.stderr()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn stdout_json(what: &str, status: ExitStatus, stdout: &str, stderr: &str) -> Value {
    serde_json::from_str(stdout)
        .unwrap_or_else(|e| panic!("{what} ({status}) printed no JSON ({e}):\n{stdout}\n{stderr}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_round_trip_dev_tenant_token_dpop_proof_verify() {
    let dir = TempDir::new("tools");
    let mut tenant = ChildGuard::spawn(&dir, "dev-tenant", &["dev-tenant"], &[]);
    let info = dev_tenant_info(&mut tenant).await;
    let domain = info["domain"].as_str().unwrap().to_owned();
    let ca = info["ca_cert"].as_str().unwrap().to_owned();
    assert_eq!(info["issuer"], json!(format!("https://{domain}/")));
    assert_eq!(
        info["token_endpoint"],
        json!(format!("https://{domain}/oauth/token"))
    );
    assert_eq!(info["client_id"], json!(CLIENT_ID));
    assert_eq!(info["client_secret"], json!(CLIENT_SECRET));
    assert_eq!(info["audiences"], json!([AUDIENCE]));
    assert!(Path::new(&ca).is_file(), "{ca}");

    // token (Bearer) -> verify
    let (status, out, err) = run(
        &dir,
        "token",
        &["token", "--domain", &domain, "--ca-cert", &ca],
    )
    .await;
    assert!(status.success(), "token: {status}\n{out}\n{err}");
    let issued = stdout_json("token", status, &out, &err);
    assert_eq!(issued["token_type"], json!("Bearer"), "{issued}");
    let bearer_token = issued["access_token"].as_str().unwrap().to_owned();

    let verify_base = [
        "verify",
        "--domain",
        &domain,
        "--audience",
        AUDIENCE,
        "--ca-cert",
        &ca,
    ];
    let mut args = verify_base.to_vec();
    args.extend(["--token", &bearer_token]);
    let (status, out, err) = run(&dir, "verify-bearer", &args).await;
    assert!(status.success(), "verify: {status}\n{out}\n{err}");
    let verified = stdout_json("verify", status, &out, &err);
    assert_eq!(
        verified,
        json!({
            "valid": true,
            "claims": payload(&bearer_token),
            "current_actor": null,
            "delegation_chain": [],
        })
    );

    // dpop-proof --generate makes the key file (and a proof).
    let key_path = dir.join("dpop-key.pem");
    let key_file = key_path.to_str().unwrap();
    let api_url = "https://api.example.com/orders?page=2";
    let (status, out, err) = run(
        &dir,
        "dpop-proof-generate",
        &[
            "dpop-proof",
            "--generate",
            "--key",
            key_file,
            "--url",
            api_url,
        ],
    )
    .await;
    assert!(
        status.success(),
        "dpop-proof --generate: {status}\n{out}\n{err}"
    );
    assert!(key_path.is_file());
    let key = DpopKey::from_pkcs8_pem(&std::fs::read_to_string(&key_path).unwrap()).unwrap();
    assert!(err.contains(&key.thumbprint()), "{err}");
    assert_eq!(out.trim().split('.').count(), 3, "{out}");

    // token --dpop-key: a token bound to that key.
    let (status, out, err) = run(
        &dir,
        "token-dpop",
        &[
            "token",
            "--domain",
            &domain,
            "--ca-cert",
            &ca,
            "--dpop-key",
            key_file,
        ],
    )
    .await;
    assert!(status.success(), "token --dpop-key: {status}\n{out}\n{err}");
    let issued = stdout_json("token --dpop-key", status, &out, &err);
    assert_eq!(issued["token_type"], json!("DPoP"), "{issued}");
    let bound = issued["access_token"].as_str().unwrap().to_owned();
    assert_eq!(payload(&bound)["cnf"], json!({"jkt": key.thumbprint()}));

    // dpop-proof for the request (the key file exists now: --generate keeps it).
    let (status, out, err) = run(
        &dir,
        "dpop-proof",
        &[
            "dpop-proof",
            "--generate",
            "--key",
            key_file,
            "--method",
            "POST",
            "--url",
            api_url,
            "--access-token",
            &bound,
        ],
    )
    .await;
    assert!(status.success(), "dpop-proof: {status}\n{out}\n{err}");
    let proof = out.trim().to_owned();

    // verify --proof
    let mut args = verify_base.to_vec();
    args.extend([
        "--token", &bound, "--proof", &proof, "--method", "POST", "--url", api_url,
    ]);
    let (status, out, err) = run(&dir, "verify-dpop", &args).await;
    assert!(status.success(), "verify --proof: {status}\n{out}\n{err}");
    let verified = stdout_json("verify --proof", status, &out, &err);
    assert_eq!(verified["valid"], json!(true), "{verified}");
    assert_eq!(verified["claims"], payload(&bound));

    // The same proof for another URL: the error as JSON, non-zero exit.
    let mut args = verify_base.to_vec();
    args.extend([
        "--token",
        &bound,
        "--proof",
        &proof,
        "--method",
        "POST",
        "--url",
        "https://api.example.com/other",
    ]);
    let (status, out, err) = run(&dir, "verify-dpop-wrong-url", &args).await;
    assert!(!status.success(), "{out}");
    let description = "DPoP Proof htu mismatch";
    assert_eq!(
        stdout_json("verify", status, &out, &err),
        json!({
            "valid": false,
            "status": 400,
            "error": "invalid_dpop_proof",
            "error_description": description,
            "www_authenticate": allowed_dpop("invalid_dpop_proof", description),
        })
    );

    // The bound token as Bearer.
    let mut args = verify_base.to_vec();
    args.extend(["--token", &bound]);
    let (status, out, err) = run(&dir, "verify-bound-as-bearer", &args).await;
    assert!(!status.success(), "{out}");
    let description = "DPoP-bound token requires the DPoP authentication scheme, not Bearer";
    assert_eq!(
        stdout_json("verify", status, &out, &err),
        json!({
            "valid": false,
            "status": 401,
            "error": "invalid_token",
            "error_description": description,
            "www_authenticate": allowed_bearer("invalid_token", description),
        })
    );

    // Ctrl-C stops the tenant cleanly; it removes its CA directory.
    tenant.signal("INT");
    let status = tenant.wait_exit(PROMPT_EXIT).await;
    assert!(
        status.success(),
        "dev-tenant: {status}\n{}",
        tenant.stderr()
    );
    assert!(!Path::new(&ca).exists(), "{ca} left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_tenant_stops_on_sigterm_and_cleans_up() {
    let dir = TempDir::new("devterm");
    let mut tenant = ChildGuard::spawn(&dir, "dev-tenant", &["dev-tenant"], &[]);
    let info = dev_tenant_info(&mut tenant).await;
    let ca = info["ca_cert"].as_str().unwrap().to_owned();
    assert!(Path::new(&ca).is_file());
    tenant.signal("TERM");
    let status = tenant.wait_exit(PROMPT_EXIT).await;
    assert!(
        status.success(),
        "dev-tenant: {status}\n{}",
        tenant.stderr()
    );
    assert!(!Path::new(&ca).exists(), "{ca} left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_prints_the_error_as_json_and_fails() {
    let dir = TempDir::new("verify");
    let t = tenant().await;
    let ca = ca(&t);
    let base = [
        "verify",
        "--domain",
        t.domain(),
        "--audience",
        AUDIENCE,
        "--ca-cert",
        &ca,
    ];

    let expired = t.mint().expired().sign();
    let mut args = base.to_vec();
    args.extend(["--token", &expired]);
    let (status, out, err) = run(&dir, "expired", &args).await;
    assert!(!status.success(), "{out}");
    let exp = "Token is expired";
    assert_eq!(
        stdout_json("verify", status, &out, &err),
        json!({
            "valid": false,
            "status": 401,
            "error": "invalid_token",
            "error_description": exp,
            "www_authenticate": allowed_bearer("invalid_token", exp),
        })
    );

    // An invalid `act` on a valid token fails as it does in `serve`.
    let bad_act = t.mint().act(json!({"sub": ""})).sign();
    let mut args = base.to_vec();
    args.extend(["--token", &bad_act]);
    let (status, out, err) = run(&dir, "bad-act", &args).await;
    assert!(!status.success(), "{out}");
    let description = "Invalid act claim";
    assert_eq!(
        stdout_json("verify", status, &out, &err),
        json!({
            "valid": false,
            "status": 401,
            "error": "invalid_token",
            "error_description": description,
            "www_authenticate": allowed_bearer("invalid_token", description),
        })
    );

    // DPoP required: the same token as Bearer is "no usable credentials".
    let good = t
        .mint()
        .act(json!({"sub": "agent", "act": {"sub": "app"}}))
        .sign();
    let mut args = base.to_vec();
    args.extend(["--token", &good]);
    let (status, out, err) = run(&dir, "good", &args).await;
    assert!(status.success(), "{out}\n{err}");
    let v = stdout_json("verify", status, &out, &err);
    assert_eq!(v["current_actor"], json!("agent"));
    assert_eq!(v["delegation_chain"], json!(["agent", "app"]));
    args.extend(["--dpop", "required"]);
    let (status, out, err) = run(&dir, "required", &args).await;
    assert!(!status.success(), "{out}");
    assert_eq!(
        stdout_json("verify", status, &out, &err),
        json!({
            "valid": false,
            "status": 401,
            "error": "invalid_request",
            "error_description": "",
            "www_authenticate": r#"DPoP algs="ES256""#,
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_proof_algorithm_and_nonce_flags() {
    let t = tenant().await;
    let dir = TempDir::new("serve-nonce");
    let ca = ca(&t);
    let s = serve(
        &dir,
        "nonce",
        &[
            "--domain",
            t.domain(),
            "--audience",
            AUDIENCE,
            "--ca-cert",
            &ca,
            "--dpop-algorithm",
            "ES256,ES384",
            "--dpop-nonce",
            "--dpop-nonce-secret",
            "0123456789abcdef0123456789abcdef",
        ],
        &[],
    )
    .await;
    let a = get(&format!("{}/x", s.base), &[]).await;
    assert_eq!(
        a.challenges,
        [r#"Bearer realm="api", DPoP algs="ES256 ES384""#]
    );
    let key = DpopKey::generate();
    let token = t.mint().cnf_jkt(key.thumbprint()).sign();
    let url = format!("{}/x", s.base);
    let proof = key.proof("GET", &url, Some(&token)).sign();
    let auth = dpop(&token);
    let a = get(&url, &[("authorization", &auth), ("dpop", &proof)]).await;
    assert_eq!(a.status, 401, "{a:?}");
    assert_eq!(a.json()["error"], "use_dpop_nonce");
    assert_eq!(a.nonces.len(), 1, "{a:?}");
    let proof = key
        .proof("GET", &url, Some(&token))
        .nonce(a.nonces[0].clone())
        .sign();
    let a = send("GET", &url, &[("authorization", &auth), ("dpop", &proof)]).await;
    assert_eq!(a.status, 200, "{a:?}");
    // Bad values stop the start.
    let (status, _, stderr) = run(
        &dir,
        "bad-alg",
        &[
            "serve",
            "--domain",
            "x.example.com",
            "--audience",
            AUDIENCE,
            "--dpop-algorithm",
            "XX",
        ],
    )
    .await;
    assert!(!status.success());
    assert!(stderr.contains("unknown algorithm"), "{stderr}");
    let (status, _, stderr) = run(
        &dir,
        "short-secret",
        &[
            "serve",
            "--domain",
            "x.example.com",
            "--audience",
            AUDIENCE,
            "--dpop-nonce",
            "--dpop-nonce-secret",
            "short",
        ],
    )
    .await;
    assert!(!status.success(), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// gateway (tests/gateway/)
// ---------------------------------------------------------------------------------------------

mod gateway;
