//! Two gateway instances sharing one real redis-server for DPoP replay protection.

use super::*;

/// A `redis-server` on a loopback port, killed on drop.
struct Redis {
    child: Child,
    port: u16,
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn redis() -> Redis {
    for _ in 0..5 {
        let port = free_port();
        let mut child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
                "--bind",
                "127.0.0.1",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server ({e}): apt-get install -y redis-server")
            });
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Redis { child, port };
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
    panic!("redis-server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_sharing_redis_accept_a_replayed_proof_exactly_once_in_fifty() {
    let t = tenant().await;
    let up = upstream().await;
    let r = redis().await;
    let dir = TempDir::new("gw-fleet");
    let redis_url = format!("redis://127.0.0.1:{}/", r.port);
    let args = with_tenant(
        &t,
        &[
            "--upstream",
            &format!("http://{}", up.addr),
            "--public-url",
            "https://api.example.com",
            "--replay-store",
            "redis",
            "--redis-url",
            &redis_url,
        ],
    );
    let a = gateway(&dir, "fleet-a", &args).await;
    let b = gateway(&dir, "fleet-b", &args).await;

    let key = DpopKey::generate();
    let token = t.mint().cnf_jkt(key.thumbprint()).sign();
    // Both instances are the same public URL: the one proof is valid at either.
    let proof = key
        .proof("GET", "https://api.example.com/pay", Some(&token))
        .sign();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let base = if i % 2 == 0 {
            a.base.clone()
        } else {
            b.base.clone()
        };
        let (token, proof) = (token.clone(), proof.clone());
        tasks.push(tokio::spawn(async move {
            let a = dpop_request("GET", &format!("{base}/pay"), &token, &proof).await;
            (a.status, a.json()["error"].as_str().map(str::to_owned))
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => accepted += 1,
            (400, Some(code)) => assert_eq!(code, "invalid_dpop_proof"),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        accepted, 1,
        "exactly one of 50 replays across the fleet is accepted"
    );
    assert_eq!(up.hits.load(Ordering::SeqCst), 1);
    let replays = |text: String| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix("auth0_api_replay_rejections_total "))
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(replays(a.metrics().await) + replays(b.metrics().await), 49);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_without_redis_fails_closed_unless_redis_fail_open() {
    let t = tenant().await;
    let up = upstream().await;
    let dir = TempDir::new("gw-redis-down");
    // Nothing listens there: the store starts anyway and every check finds Redis unreachable.
    let redis_url = format!("redis://127.0.0.1:{}/", free_port());
    let mut args = with_tenant(
        &t,
        &[
            "--upstream",
            &format!("http://{}", up.addr),
            "--replay-store",
            "redis",
            "--redis-url",
            &redis_url,
        ],
    );
    let g = gateway(&dir, "redis-closed", &args).await;
    let key = DpopKey::generate();
    let token = t.mint().cnf_jkt(key.thumbprint()).sign();
    let auth = dpop(&token);
    let send = |base: String| {
        let url = format!("{base}/pay");
        let proof = key.proof("GET", &url, Some(&token)).sign();
        let auth = auth.clone();
        async move {
            let headers = [("authorization", auth.as_str()), ("dpop", proof.as_str())];
            let first = request_get(&url, &headers).await;
            let again = request_get(&url, &headers).await;
            (first, again)
        }
    };

    // Fail closed (the default): 503, nothing reaches the upstream.
    let (a, _) = send(g.base.clone()).await;
    assert_eq!(a.status, 503, "{}", String::from_utf8_lossy(&a.body));
    assert_eq!(a.json()["error"], "temporarily_unavailable");
    assert_eq!(up.hits.load(Ordering::SeqCst), 0);
    // Bearer needs no replay store.
    let a = request_get(
        &format!("{}/pay", g.base),
        &[("authorization", &bearer(&t.mint().sign()))],
    )
    .await;
    assert_eq!(a.status, 200);
    drop(g);

    // Fail open: accepted, and replays still refused by this instance's own memory.
    args.push("--redis-fail-open".into());
    let g = gateway(&dir, "redis-open", &args).await;
    let (first, again) = send(g.base.clone()).await;
    assert_eq!(
        first.status,
        200,
        "{}",
        String::from_utf8_lossy(&first.body)
    );
    assert_eq!(again.status, 400);
    assert_eq!(again.json()["error"], "invalid_dpop_proof");
}
