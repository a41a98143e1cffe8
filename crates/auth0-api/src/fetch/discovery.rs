//! OpenID Connect discovery documents (OIDC Discovery 1.0 section 4), parsed once and kept in a
//! [`DocumentCache`] by discovery URL.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::domains::{DomainError, normalize_domain};
use crate::fetch::document_cache::DocumentCache;
use crate::fetch::loader::DocumentLoader;
use crate::jose::jws::JsonObject;

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
        }
    }
}

/// The URL of a tenant's discovery document, from its normalised issuer `https://host/`.
pub fn discovery_url(issuer: &str) -> String {
    format!("{issuer}.well-known/openid-configuration")
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
    fn discovery_fields() {
        let d = Discovery::from_document(
            serde_json::json!({"issuer":"https://t/","jwks_uri":"https://t/jwks","token_endpoint":""})
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
