//! The metrics listener: `/metrics` (Prometheus), `/healthz` (alive) and `/readyz` (discovery
//! and JWKS loaded for every configured domain, [`ApiClient::warm_up`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::StatusCode;
use http::header::CONTENT_TYPE;

use super::App;

/// Longest a readiness probe waits for the tenant.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// The router of the metrics listener.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(app)
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
        .into_response()
}

/// 200 `{"ready": true}`, or 503 `{"ready": false, "error": ...}` (the error code and
/// description, no token material: there is none).
async fn ready(State(app): State<Arc<App>>) -> Response {
    let outcome = tokio::time::timeout(READY_TIMEOUT, app.gate.client.warm_up()).await;
    let (status, body) = match outcome {
        Ok(Ok(())) => (StatusCode::OK, serde_json::json!({"ready": true})),
        Ok(Err(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"ready": false, "error": e.error_code(), "error_description": e.description()}),
        ),
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({"ready": false, "error": "timeout"}),
        ),
    };
    (status, axum::Json(body)).into_response()
}
