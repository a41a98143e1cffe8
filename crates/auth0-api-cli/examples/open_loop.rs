//! An open-loop load generator for `scripts/loadtest.sh`: Bearer requests at a fixed rate,
//! whatever the server's answers do, with every answer checked.
//!
//! wrk is a closed loop: each connection sends its next request only when the last one was
//! answered, so a slow answer also delays the requests that should have followed it, and
//! their wait is never counted (coordinated omission). Here request `i` is due at
//! `start + i / RATE`; a pacer thread releases each one when it is due, any free connection
//! sends it, and its latency is measured **from when it was due**, so time spent waiting for
//! a connection counts (as wrk2 measures). The pacer sleeps between releases (Linux wakes it
//! some 50-60 µs late), so latencies include up to that much of the generator's own lag.
//!
//! With `OPEN_LOOP_PACING=spin` there is no pacer thread: a free connection takes the next
//! request number and waits for its due time on the runtime's one thread (a timer until 2 ms
//! before, then yielding to the other tasks until it is due). This keeps the generator to one
//! thread, which then takes all of its CPU: meant for a generator pinned to a CPU of its own
//! (`scripts/loadtest.sh` with `CLIENT_CPUS`), where two threads of the generator would
//! otherwise queue for that CPU and add their wait to the latencies.
//!
//! ```text
//! cargo run --release -p auth0-api-cli --example open_loop -- \
//!     URL RATE SECONDS CONNECTIONS VALID_TOKENS_FILE INVALID_TOKENS_FILE EXPECTED_401_CHALLENGE
//! ```
//!
//! Every 100th request carries one of the invalid tokens, the others cycle through the valid
//! ones. An answer is expected to be 200 (valid token; a body naming `loadtest-invalid` is an
//! invalid token accepted) or 401 with exactly `EXPECTED_401_CHALLENGE`. Prints the same
//! `LOADTEST` lines as `scripts/loadtest.lua` (latencies in µs). Sends to the URL's host only
//! (meant for 127.0.0.1), stops after `SECONDS`, and waits at most 5 s more for the answers
//! still due.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::{Mutex, mpsc};

/// Longest run and highest rate accepted (bounds the latency record: at most 12 M entries).
const MAX_SECONDS: u64 = 120;
const MAX_RATE: u64 = 100_000;
const MAX_CONNECTIONS: usize = 1_024;
/// Time given to the answers still due once the run's last request was released.
const DRAIN: Duration = Duration::from_secs(5);

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Settings {
    authority: String,
    path: String,
    addr: String,
    rate: u64,
    seconds: u64,
    connections: usize,
    valid: Vec<String>,
    invalid: Vec<String>,
    expected_401: String,
}

fn settings() -> Result<Settings, Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [
        url,
        rate,
        seconds,
        connections,
        valid,
        invalid,
        expected_401,
    ] = args.as_slice()
    else {
        return Err(
            "usage: open_loop URL RATE SECONDS CONNECTIONS VALID INVALID EXPECTED_401".into(),
        );
    };
    let uri: http::Uri = url.parse()?;
    let authority = uri.authority().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(80);
    let host = uri.host().ok_or("the URL has no host")?;
    let lines = |path: &str| -> Result<Vec<String>, Error> {
        let tokens: Vec<String> = std::fs::read_to_string(path)?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if tokens.is_empty() {
            return Err(format!("{path}: no tokens").into());
        }
        Ok(tokens)
    };
    let settings = Settings {
        addr: format!("{host}:{port}"),
        authority,
        path: uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
        rate: rate.parse()?,
        seconds: seconds.parse()?,
        connections: connections.parse()?,
        valid: lines(valid)?,
        invalid: lines(invalid)?,
        expected_401: expected_401.clone(),
    };
    if !(1..=MAX_RATE).contains(&settings.rate)
        || !(1..=MAX_SECONDS).contains(&settings.seconds)
        || !(1..=MAX_CONNECTIONS).contains(&settings.connections)
    {
        return Err(format!(
            "RATE 1..={MAX_RATE}, SECONDS 1..={MAX_SECONDS}, CONNECTIONS 1..={MAX_CONNECTIONS}"
        )
        .into());
    }
    Ok(settings)
}

/// What the answers were.
#[derive(Default)]
struct Outcomes {
    sent_valid: AtomicU64,
    sent_invalid: AtomicU64,
    ok_200: AtomicU64,
    ok_401: AtomicU64,
    bad_accept: AtomicU64,
    unexpected: AtomicU64,
    errors: AtomicU64,
}

/// Releases request `i` at `start + i / rate` into `due`, for `seconds`.
fn pace(start: Instant, rate: u64, seconds: u64, due: mpsc::UnboundedSender<(u64, Instant)>) {
    let total = rate * seconds;
    let mut i = 0;
    while i < total {
        let now = Instant::now();
        // Everything due by now goes out at once (after a late wake-up, a short burst).
        while i < total {
            let at = start + Duration::from_nanos(i * 1_000_000_000 / rate);
            if at > now {
                break;
            }
            if due.send((i, at)).is_err() {
                return;
            }
            i += 1;
        }
        let next = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
}

/// Where a connection takes its next request (number, due time) from.
#[derive(Clone)]
enum Due {
    /// Released by the pacer thread.
    Paced(Arc<Mutex<mpsc::UnboundedReceiver<(u64, Instant)>>>),
    /// The next number of `total`, waited for on the runtime's thread.
    Spin {
        next: Arc<AtomicU64>,
        start: Instant,
        rate: u64,
        total: u64,
    },
}

impl Due {
    async fn next(&self) -> Option<(u64, Instant)> {
        match self {
            Self::Paced(rx) => rx.lock().await.recv().await,
            Self::Spin {
                next,
                start,
                rate,
                total,
            } => {
                let i = next.fetch_add(1, Relaxed);
                if i >= *total {
                    return None;
                }
                let at = *start + Duration::from_nanos(i * 1_000_000_000 / rate);
                // The timer wheel's resolution is a millisecond: it brings the task close,
                // yielding to the others covers the rest.
                let early = at.checked_sub(Duration::from_millis(2));
                if let Some(early) = early.filter(|e| *e > Instant::now()) {
                    tokio::time::sleep_until(early.into()).await;
                }
                while Instant::now() < at {
                    tokio::task::yield_now().await;
                }
                Some((i, at))
            }
        }
    }
}

/// One connection: takes the next due request, sends it, checks the answer; reconnects after
/// a failure.
async fn connection(
    settings: Arc<Settings>,
    due: Due,
    outcomes: Arc<Outcomes>,
    latencies: Arc<std::sync::Mutex<Vec<u32>>>,
    stop: Arc<AtomicBool>,
) {
    let mut sender = None;
    let mut mine = Vec::new();
    loop {
        let Some((i, at)) = due.next().await else {
            break;
        };
        if stop.load(Relaxed) {
            break;
        }
        let token = if i % 100 == 99 {
            outcomes.sent_invalid.fetch_add(1, Relaxed);
            &settings.invalid[(i / 100) as usize % settings.invalid.len()]
        } else {
            outcomes.sent_valid.fetch_add(1, Relaxed);
            &settings.valid[i as usize % settings.valid.len()]
        };
        if sender.is_none() {
            sender = connect(&settings.addr).await.ok();
        }
        let Some(s) = sender.as_mut() else {
            outcomes.errors.fetch_add(1, Relaxed);
            continue;
        };
        match send(s, &settings, token).await {
            Ok((status, challenge, body)) => {
                mine.push(u32::try_from(at.elapsed().as_micros()).unwrap_or(u32::MAX));
                let outcome = match status {
                    200 if body.windows(16).any(|w| w == b"loadtest-invalid") => {
                        &outcomes.bad_accept
                    }
                    200 => &outcomes.ok_200,
                    401 if challenge.as_deref() == Some(settings.expected_401.as_str()) => {
                        &outcomes.ok_401
                    }
                    _ => &outcomes.unexpected,
                };
                outcome.fetch_add(1, Relaxed);
            }
            Err(_) => {
                outcomes.errors.fetch_add(1, Relaxed);
                sender = None;
            }
        }
    }
    if let Ok(mut all) = latencies.lock() {
        all.extend(mine);
    }
}

async fn connect(addr: &str) -> Result<http1::SendRequest<Empty<Bytes>>, Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn send(
    sender: &mut http1::SendRequest<Empty<Bytes>>,
    settings: &Settings,
    token: &str,
) -> Result<(u16, Option<String>, Bytes), Error> {
    sender.ready().await?;
    let request = http::Request::get(settings.path.as_str())
        .header(http::header::HOST, settings.authority.as_str())
        .header(http::header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Empty::new())?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get(http::header::WWW_AUTHENTICATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, challenge, body))
}

fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn main() -> Result<(), Error> {
    let settings = Arc::new(settings()?);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let outcomes = Arc::new(Outcomes::default());
    let latencies = Arc::new(std::sync::Mutex::new(Vec::with_capacity(
        (settings.rate * settings.seconds) as usize,
    )));
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now() + Duration::from_millis(200);
    let (rate, seconds) = (settings.rate, settings.seconds);
    let spin = std::env::var("OPEN_LOOP_PACING").is_ok_and(|p| p == "spin");
    let (due, pacer) = if spin {
        let due = Due::Spin {
            next: Arc::new(AtomicU64::new(0)),
            start,
            rate,
            total: rate * seconds,
        };
        (due, None)
    } else {
        let (tx, rx) = mpsc::unbounded_channel();
        let pacer = std::thread::spawn(move || pace(start, rate, seconds, tx));
        (Due::Paced(Arc::new(Mutex::new(rx))), Some(pacer))
    };
    let elapsed = runtime.block_on(async {
        let tasks: Vec<_> = (0..settings.connections)
            .map(|_| {
                tokio::spawn(connection(
                    settings.clone(),
                    due.clone(),
                    outcomes.clone(),
                    latencies.clone(),
                    stop.clone(),
                ))
            })
            .collect();
        let all = futures_util::future::join_all(tasks);
        let deadline = start + Duration::from_secs(seconds) + DRAIN;
        if tokio::time::timeout_at(deadline.into(), all).await.is_err() {
            stop.store(true, Relaxed);
            eprintln!("open_loop: answers still due after the drain time were dropped");
        }
        start.elapsed()
    });
    if let Some(pacer) = pacer {
        let _ = pacer.join();
    }
    let mut sorted = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    sorted.sort_unstable();
    let answered = sorted.len();
    let o = &outcomes;
    println!(
        "LOADTEST requests={answered} seconds={:.2} rps={:.0} offered_rps={rate}",
        elapsed.as_secs_f64(),
        answered as f64 / seconds as f64,
    );
    println!(
        "LOADTEST latency_us p50={} p90={} p99={} p99.9={} max={}",
        percentile(&sorted, 50.0),
        percentile(&sorted, 90.0),
        percentile(&sorted, 99.0),
        percentile(&sorted, 99.9),
        sorted.last().copied().unwrap_or(0)
    );
    println!(
        "LOADTEST sent valid={} invalid={}",
        o.sent_valid.load(Relaxed),
        o.sent_invalid.load(Relaxed)
    );
    println!(
        "LOADTEST answered ok_200={} ok_401={} bad_accept={} unexpected={}",
        o.ok_200.load(Relaxed),
        o.ok_401.load(Relaxed),
        o.bad_accept.load(Relaxed),
        o.unexpected.load(Relaxed) + o.errors.load(Relaxed)
    );
    println!("LOADTEST socket_errors {}", o.errors.load(Relaxed));
    Ok(())
}
