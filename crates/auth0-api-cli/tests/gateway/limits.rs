//! The listeners' bounds: a header-read timeout (slow-loris clients are closed) and a cap on
//! the connections served at once.

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream as Stream;

use super::*;

/// A forward-auth gateway (no upstream needed) with `extra` flags.
async fn bounded(t: &DevTenant, dir: &TempDir, name: &str, extra: &[&str]) -> Gateway {
    let mut args = with_tenant(t, &["--forward-auth"]);
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    gateway(dir, name, &args).await
}

/// Reads until the peer closes (at most 64 KiB), within `within`: what it sent, and when.
async fn until_closed(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    within: Duration,
) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    let mut buf = Vec::new();
    tokio::time::timeout(within, (&mut *stream).take(64 << 10).read_to_end(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("the connection is still open after {within:?}"))
        .unwrap_or_default();
    (buf, started.elapsed())
}

/// One response (head and `Content-Length` body) off a keep-alive connection, within 10 s.
async fn response(stream: &mut Stream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    return;
                }
            }
            let n = stream.read(&mut chunk).await.unwrap();
            assert!(n > 0, "closed mid-response");
            buf.extend_from_slice(&chunk[..n]);
        }
    })
    .await
    .expect("a response within 10 s");
    String::from_utf8_lossy(&buf).into_owned()
}

/// `host:port` of a listener's `http://host:port`.
fn addr(base: &str) -> &str {
    base.trim_start_matches("http://")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_closes_connections_that_stall_in_their_request_head() {
    let t = tenant().await;
    let dir = TempDir::new("gw-loris");
    let g = bounded(&t, &dir, "loris", &["--header-read-timeout-secs", "1"]).await;

    // Half a request line, then nothing: closed after the timeout, not before.
    let mut half = Stream::connect(addr(&g.base)).await.unwrap();
    half.write_all(b"GET /orders HT").await.unwrap();
    // Headers sent one byte every 200 ms (8 s in all) do not extend the deadline.
    let (mut trickle, mut dripper) = Stream::connect(addr(&g.base)).await.unwrap().into_split();
    dripper
        .write_all(b"GET /orders HTTP/1.1\r\n")
        .await
        .unwrap();
    let dripping = tokio::spawn(async move {
        for b in b"X-Slow: 0123456789012345678901234567890" {
            if dripper.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    // A connection that sends nothing at all, on both listeners.
    let mut silent = Stream::connect(addr(&g.base)).await.unwrap();
    let mut silent_admin = Stream::connect(addr(&g.admin)).await.unwrap();

    for (what, stream) in [
        ("half a request line", &mut half),
        ("nothing", &mut silent),
        ("nothing (metrics listener)", &mut silent_admin),
    ] {
        let (sent, after) = until_closed(stream, Duration::from_secs(5)).await;
        assert!(
            sent.is_empty() || sent.starts_with(b"HTTP/1.1 408"),
            "{what}: {}",
            String::from_utf8_lossy(&sent)
        );
        assert!(
            after < Duration::from_secs(4),
            "{what}: closed after {after:?}"
        );
    }
    let (_, after) = until_closed(&mut trickle, Duration::from_secs(5)).await;
    assert!(
        after < Duration::from_secs(4),
        "trickle: closed after {after:?}"
    );
    dripping.abort();

    // A whole request is still answered, on a connection opened just as slowly.
    let mut whole = Stream::connect(addr(&g.base)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    whole
        .write_all(b"GET /orders HTTP/1.1\r\nHost: gw\r\n\r\n")
        .await
        .unwrap();
    let answer = response(&mut whole).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_serves_at_most_max_connections_at_once() {
    let t = tenant().await;
    let dir = TempDir::new("gw-cap");
    let g = bounded(
        &t,
        &dir,
        "cap",
        &["--max-connections", "2", "--header-read-timeout-secs", "30"],
    )
    .await;
    let request = b"GET /orders HTTP/1.1\r\nHost: gw\r\n\r\n";
    // Two connections served and kept alive: the cap is reached.
    let mut first = Stream::connect(addr(&g.base)).await.unwrap();
    first.write_all(request).await.unwrap();
    assert!(response(&mut first).await.starts_with("HTTP/1.1 401"));
    let mut second = Stream::connect(addr(&g.base)).await.unwrap();
    second.write_all(request).await.unwrap();
    assert!(response(&mut second).await.starts_with("HTTP/1.1 401"));

    // The third connects (the kernel's queue) but is not served while both stay open.
    let mut third = Stream::connect(addr(&g.base)).await.unwrap();
    third.write_all(request).await.unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_secs(1), third.read(&mut byte))
            .await
            .is_err(),
        "a third connection was served with max_connections = 2"
    );
    // The second still is.
    second.write_all(request).await.unwrap();
    assert!(response(&mut second).await.starts_with("HTTP/1.1 401"));

    // One closes: the third is served.
    drop(first);
    let answer = response(&mut third).await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
}
