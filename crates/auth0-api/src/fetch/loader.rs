//! Loading JSON documents (discovery and key sets): the [`CacheAdapter`] first, then the tenant;
//! TTL = `min(max-age, configured)`, never below 1 s.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tracing::Instrument;

use crate::clock::unix_now;
use crate::fetch::cache::CacheAdapter;
use crate::fetch::http::{FetchError, HttpClient, max_age};
use crate::jose::jws::{DecodeError, JsonObject, parse_object};
use crate::observe::{Document, Observe, Source};

/// Why a discovery or JWKS document could not be had.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DocumentError {
    /// The HTTP fetch failed.
    Fetch(FetchError),
    /// The body is not a JSON object.
    Body(DecodeError),
    /// The JWKS has no `keys` array.
    NoKeys,
    /// No domain is configured (token exchange needs one).
    NoDomain,
}

impl fmt::Display for DocumentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch(e) => e.fmt(f),
            Self::Body(DecodeError::NotObject) => f.write_str("response is not a JSON object"),
            Self::Body(e) => write!(f, "invalid JSON: {e}"),
            Self::NoKeys => f.write_str("JWKS has no 'keys' array"),
            Self::NoDomain => f.write_str("no domain is configured"),
        }
    }
}

impl std::error::Error for DocumentError {}

/// Loads JSON documents through the adapter, falling back to the network.
#[derive(Clone)]
pub(crate) struct DocumentLoader {
    pub(crate) http: HttpClient,
    pub(crate) adapter: Arc<dyn CacheAdapter>,
    pub(crate) max_ttl: Duration,
    /// Told of every load.
    pub(crate) observe: Observe,
}

impl DocumentLoader {
    /// The document at `url`: from the adapter when fresh there (unless `force`), else fetched
    /// and stored. Returns it with its remaining lifetime.
    pub(crate) async fn load(
        &self,
        kind: &str,
        url: &str,
        force: bool,
    ) -> Result<(JsonObject, Duration), DocumentError> {
        let key = format!("auth0-api:{kind}:{url}");
        let now = unix_now();
        let document = Document::from_kind(kind);
        let started = self.observe.start();
        if !force
            && let Some(Value::Object(mut envelope)) = self.adapter.get(&key).await
            && let Some(expires_at) = envelope.get("expires_at").and_then(Value::as_u64)
            && expires_at > now
            && let Some(Value::Object(doc)) = envelope.remove("doc")
        {
            self.observe
                .fetch(started, document, url, Source::Adapter, None);
            return Ok((doc, Duration::from_secs(expires_at - now)));
        }
        let started = self.observe.start();
        let fetched = self
            .fetch(url)
            .instrument(tracing::debug_span!(
                "auth0_api::fetch",
                document = document.as_str(),
                url
            ))
            .await;
        let error = fetched.as_ref().err();
        self.observe.fetch(
            started,
            document,
            url,
            Source::Network,
            error.map(|e| e as &(dyn std::error::Error + 'static)),
        );
        let (doc, headers) = fetched?;
        let ttl = effective_ttl(max_age(&headers), self.max_ttl);
        let envelope = json!({"doc": doc, "expires_at": now + ttl.as_secs()});
        self.adapter.set(&key, envelope, Some(ttl)).await;
        Ok((doc, ttl))
    }

    /// The document at `url` from the tenant, parsed, with the answer's headers.
    async fn fetch(&self, url: &str) -> Result<(JsonObject, http::HeaderMap), DocumentError> {
        let fetched = self.http.get(url).await.map_err(DocumentError::Fetch)?;
        let doc = parse_object(&fetched.body).map_err(DocumentError::Body)?;
        Ok((doc, fetched.headers))
    }
}

/// `min(max-age, configured)`, at least 1 s.
pub(crate) fn effective_ttl(max_age: Option<u64>, configured: Duration) -> Duration {
    let ttl = match max_age {
        Some(secs) => configured.min(Duration::from_secs(secs)),
        None => configured,
    };
    ttl.max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_is_min_of_max_age_and_configured_at_least_one_second() {
        let ten = Duration::from_secs(600);
        assert_eq!(effective_ttl(Some(60), ten), Duration::from_secs(60));
        assert_eq!(effective_ttl(Some(6000), ten), ten);
        assert_eq!(effective_ttl(None, ten), ten);
        assert_eq!(effective_ttl(Some(0), ten), Duration::from_secs(1));
        assert_eq!(effective_ttl(None, Duration::ZERO), Duration::from_secs(1));
    }
}
