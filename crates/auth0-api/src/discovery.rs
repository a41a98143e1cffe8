//! OpenID Connect discovery (OIDC Discovery 1.0 section 4) and the document-loading machinery
//! shared with the JWKS: adapter first, then the tenant; TTL = `min(max-age, configured)`,
//! never below 1 s; parsed documents kept in a bounded, single-flight cache.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::cache::CacheAdapter;
use crate::document_cache::DocumentCache;
use crate::domains::{DomainError, normalize_domain};
use crate::http::{FetchError, HttpClient, max_age};
use crate::jws::{DecodeError, JsonObject, parse_object};

/// Why a discovery or JWKS document could not be had.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// The HTTP fetch failed.
    Fetch(FetchError),
    /// The body is not a JSON object.
    Body(DecodeError),
    /// The JWKS has no `keys` array.
    NoKeys,
    /// No domain is configured (token exchange needs one).
    NoDomain,
}

impl fmt::Display for DiscoveryError {
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

impl std::error::Error for DiscoveryError {}

/// An OIDC discovery document.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Discovery {
    /// `issuer` (empty when absent or not a string).
    pub issuer: String,
    /// `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// `token_endpoint`.
    pub token_endpoint: Option<String>,
    /// The whole document.
    pub document: JsonObject,
    /// `issuer` normalised once, for the per-token comparison.
    pub(crate) normalized_issuer: Result<String, DomainError>,
}

impl Discovery {
    fn from_document(document: JsonObject) -> Self {
        let text = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let issuer = text("issuer").unwrap_or_default();
        Self {
            normalized_issuer: normalize_domain(&issuer),
            issuer,
            jwks_uri: text("jwks_uri"),
            token_endpoint: text("token_endpoint"),
            document,
        }
    }
}

/// The URL of a tenant's discovery document, from its normalised issuer `https://host/`.
pub fn discovery_url(issuer: &str) -> String {
    format!("{issuer}.well-known/openid-configuration")
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

/// Loads JSON documents through the adapter, falling back to the network.
#[derive(Clone)]
pub(crate) struct DocumentLoader {
    pub(crate) http: HttpClient,
    pub(crate) adapter: Arc<dyn CacheAdapter>,
    pub(crate) max_ttl: Duration,
}

impl DocumentLoader {
    /// The document at `url`: from the adapter when fresh there (unless `force`), else fetched
    /// and stored. Returns it with its remaining lifetime.
    pub(crate) async fn load(
        &self,
        kind: &str,
        url: &str,
        force: bool,
    ) -> Result<(JsonObject, Duration), DiscoveryError> {
        let key = format!("auth0-api:{kind}:{url}");
        let now = unix_now();
        if !force
            && let Some(Value::Object(mut envelope)) = self.adapter.get(&key).await
            && let Some(expires_at) = envelope.get("expires_at").and_then(Value::as_u64)
            && expires_at > now
            && let Some(Value::Object(doc)) = envelope.remove("doc")
        {
            return Ok((doc, Duration::from_secs(expires_at - now)));
        }
        let fetched = self.http.get(url).await.map_err(DiscoveryError::Fetch)?;
        let doc = parse_object(&fetched.body).map_err(DiscoveryError::Body)?;
        let ttl = effective_ttl(max_age(&fetched.headers), self.max_ttl);
        let envelope = json!({"doc": doc, "expires_at": now + ttl.as_secs()});
        self.adapter.set(&key, envelope, Some(ttl)).await;
        Ok((doc, ttl))
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

/// Discovery documents, parsed, by discovery URL.
pub(crate) type DiscoveryCache = DocumentCache<Arc<Discovery>>;

/// The discovery cache of a client.
pub(crate) fn discovery_cache(
    loader: DocumentLoader,
    max_entries: usize,
    stale_window: Duration,
) -> DiscoveryCache {
    DocumentCache::new("discovery", loader, max_entries, stale_window, |doc| {
        Ok(Arc::new(Discovery::from_document(doc)))
    })
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

    #[test]
    fn discovery_fields() {
        let d = Discovery::from_document(
            json!({"issuer":"https://t/","jwks_uri":"https://t/jwks","token_endpoint":""})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        assert_eq!(d.issuer, "https://t/");
        assert_eq!(d.jwks_uri.as_deref(), Some("https://t/jwks"));
        assert_eq!(d.token_endpoint, None);
        assert_eq!(
            discovery_url("https://t/"),
            "https://t/.well-known/openid-configuration"
        );
    }
}
