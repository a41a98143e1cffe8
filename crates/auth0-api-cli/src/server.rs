//! The HTTP/1.1 server of `serve` and `gateway`: hyper's connection builder over a bounded
//! accept loop, instead of `axum::serve`, which sets no header-read timeout and no connection
//! cap (a client could hold a half-sent request, or thousands of idle connections, forever).
//!
//! - Every connection must send a request's head (request line and headers) within
//!   [`Limits::header_read_timeout`], counted from when the server starts waiting for it: a new
//!   connection, or a keep-alive connection after its last response (so it is also the idle
//!   timeout of keep-alive connections). Otherwise hyper closes it.
//! - At most [`Limits::max_connections`] connections are served at once: a permit of a
//!   semaphore is taken before `accept` and held by the connection's task, so when all are in
//!   use the next connection waits in the kernel's accept queue until one closes.
//! - The peer's address reaches handlers as `ConnectInfo<SocketAddr>`, as with
//!   `into_make_service_with_connect_info`.
//! - On the stop signal the listener closes, idle connections close, in-flight requests finish,
//!   bounded by a grace period.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};

/// The resource bounds of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Longest time a connection may take to send a request's head, and longest idle time of a
    /// keep-alive connection between requests.
    pub(crate) header_read_timeout: Duration,
    /// Most connections served at once (at most [`MAX_CONNECTIONS`]).
    pub(crate) max_connections: u32,
}

/// The largest accepted `max_connections` (far above what one process's file descriptors
/// allow; the semaphore takes far more).
pub(crate) const MAX_CONNECTIONS: u32 = 1_000_000;

impl Limits {
    /// 10 s for a request's head: generous for any real client over a slow link (a head is a
    /// few KiB), short enough that a slow-loris client holds a connection briefly. It is also the
    /// idle timeout of keep-alive connections: a front proxy that keeps idle connections to the
    /// gateway (nginx `keepalive` upstreams, `keepalive_timeout` 60 s) should close them
    /// sooner. 10 000
    /// connections: well under common `ulimit -n` hard limits (Docker's 1 048 576, systemd's
    /// 524 288), so the process hits the cap before it runs out of descriptors for its own
    /// upstream, tenant and Redis connections, while far above what one instance serves.
    pub(crate) const DEFAULT: Self = Self {
        header_read_timeout: Duration::from_secs(10),
        max_connections: 10_000,
    };
}

/// Pause after an accept error that is not about one connection (out of file descriptors):
/// retrying at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` (the peer address as `ConnectInfo`) within `limits` until
/// `signal`, then stops gracefully, bounded: the listener closes, every connection is told to
/// close after its in-flight request, and after `grace` this returns anyway (the stop was
/// requested: not an error).
pub(crate) async fn serve_until_stopped(
    listener: TcpListener,
    app: axum::Router,
    signal: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    limits: Limits,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections as usize));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut signal = std::pin::pin!(signal);
    loop {
        let permit = tokio::select! {
            () = &mut signal => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut signal => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_connection_error(&e) => continue,
            Err(e) => {
                tracing::error!(error = %e, "accept failed");
                tokio::select! {
                    () = &mut signal => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let router = TowerToHyperService::new(app.clone());
        let service = hyper::service::service_fn(move |mut request: http::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            hyper::service::Service::call(&router, request)
        });
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        let stopping = async move {
            // `Err`: the server is gone, which is a stop too.
            let _ = stop.wait_for(|stopping| *stopping).await;
        };
        tokio::spawn(async move {
            let _permit = permit;
            let mut connection = std::pin::pin!(connection);
            tokio::select! {
                served = connection.as_mut() => {
                    if let Err(e) = served {
                        tracing::debug!(error = %e, "connection ended");
                    }
                }
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    // Bounded: the header-read timeout, and the process exits after `grace`.
                    let _ = connection.await;
                }
            }
        });
    }
    drop(listener);
    tracing::info!("stopping");
    let _ = stop_tx.send(true);
    // Every permit back: every connection has closed.
    let all = permits.acquire_many(limits.max_connections);
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(
            ?grace,
            "connections still open after the grace period; exiting"
        );
    }
    Ok(())
}

/// Whether an accept error is about one connection only (the next accept may succeed).
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}
