//! The full path to a token's key: the unverified issuer, the allowed domains, the discovery
//! document, the key set and the `kid` (through the caches, loading and refreshing).

use std::borrow::Cow;
use std::sync::Arc;

use super::decode::Decoded;
use super::token_cache::CachedToken;
use super::{RequestContext, TokenVerifier, checks};
use crate::claims::Claims;
use crate::domains::{DomainsMode, ResolverContext};
use crate::error::{Result, TokenError};
use crate::fetch::discovery::{Discovery, discovery_url};
use crate::fetch::document_cache::Entry;
use crate::fetch::jwks::{JwkEntry, KeySet};
use crate::fetch::resolved::Resolved;

/// The key a token is checked with, and where it came from.
pub(super) struct KeysInUse<'a> {
    pub(super) discovery_entry: &'a Arc<Entry<Arc<Discovery>>>,
    pub(super) keys: &'a Arc<Entry<KeySet>>,
    /// The discovery document's `issuer` (the remembered issuer's copy of it, on that path).
    pub(super) issuer: &'a str,
    kid: &'a str,
    pub(super) key: &'a JwkEntry,
}

impl<'a> KeysInUse<'a> {
    /// The key of `kid` (`None`: a `kid` that is not a string) in `keys`.
    pub(super) fn find(
        discovery_entry: &'a Arc<Entry<Arc<Discovery>>>,
        keys: &'a Arc<Entry<KeySet>>,
        kid: Option<&'a str>,
    ) -> Result<Self, TokenError> {
        let (kid, key) = kid
            .and_then(|kid| Some((kid, keys.value.find(kid)?)))
            .ok_or(TokenError::UnknownKey)?;
        Ok(Self {
            discovery_entry,
            keys,
            issuer: &discovery_entry.value.issuer,
            kid,
            key,
        })
    }

    /// The key of `kid` of an issuer resolved before, read from its record (the same key as
    /// [`find`](Self::find) in its entries; `None`: no member has that `kid`).
    pub(super) fn remembered(resolved: &'a Resolved, kid: &'a str) -> Option<Self> {
        Some(Self {
            discovery_entry: &resolved.discovery,
            keys: &resolved.keys,
            issuer: resolved.issuer(),
            kid,
            key: resolved.find(kid)?,
        })
    }

    /// The discovery document the key was found through.
    pub(super) fn discovery(&self) -> &Discovery {
        &self.discovery_entry.value
    }

    /// What a verified-token cache entry checked `now` with these keys needs.
    pub(super) fn pending(&self, now: f64) -> PendingEntry {
        PendingEntry {
            now,
            jwks_uri: self.discovery().jwks_uri.clone().unwrap_or_default(),
            kid: self.kid.to_owned(),
            keys: self.keys.clone(),
        }
    }
}

/// What a verified-token cache entry needs besides the claims.
pub(super) struct PendingEntry {
    /// When the claims were checked, in seconds since the epoch.
    now: f64,
    jwks_uri: String,
    kid: String,
    keys: Arc<Entry<KeySet>>,
}

impl PendingEntry {
    /// The cache entry for `claims`, valid until `valid_until` (seconds since the epoch).
    /// `sha256`: the token's SHA-256, if the verification computed it.
    pub(super) fn entry(
        self,
        claims: Claims,
        valid_until: f64,
        sha256: Option<[u8; 32]>,
    ) -> CachedToken {
        let mut entry = CachedToken::new(
            claims,
            valid_until,
            self.now,
            self.jwks_uri,
            self.kid,
            self.keys,
        );
        entry.sha256 = sha256;
        entry
    }
}

impl TokenVerifier {
    /// The discovery document and key set for a decoded token's issuer, through the caches
    /// (loading, refreshing, and refetching the key set on an unknown `kid` once per cooldown).
    pub(super) async fn resolve_keys(
        &self,
        decoded: &Decoded<'_>,
        kid: &Result<Option<&str>, TokenError>,
        request: RequestContext<'_>,
    ) -> Result<(Arc<Entry<Arc<Discovery>>>, Arc<Entry<KeySet>>)> {
        let issuer = checks::unverified_issuer(&decoded.payload)?;
        if let Some(fixed) = &self.static_keys {
            // Keys from the options: the same issuer checks, no fetch and no refetch.
            if matches!(self.domains, DomainsMode::List(_))
                && !self.list_discovery_urls.contains_key(&*issuer)
            {
                Err(TokenError::IssuerNotAllowed)?;
            }
            let found = fixed
                .for_issuer(&issuer)
                .ok_or(TokenError::DiscoveryIssuerMismatch)?;
            kid.clone()?;
            return Ok(found);
        }
        let discovery_url: Cow<'_, str> = match &self.domains {
            DomainsMode::Single => Cow::Borrowed(&self.single_discovery_url),
            DomainsMode::List(_) => match self.list_discovery_urls.get(&*issuer) {
                Some(url) => Cow::Borrowed(url),
                None => Err(TokenError::IssuerNotAllowed)?,
            },
            DomainsMode::Resolver(resolver) => {
                let allowed = resolver
                    .resolve(ResolverContext {
                        request_url: request.url.map(str::to_owned),
                        request_headers: request.headers.cloned(),
                        unverified_iss: issuer.to_string(),
                    })
                    .await?;
                checks::check_allowed(&allowed, &issuer)?;
                Cow::Owned(discovery_url(&issuer))
            }
        };

        let (discovery_entry, mut keys) = self.documents(&discovery_url, &issuer).await?;
        let jwks_uri = discovery_entry
            .value
            .jwks_uri
            .as_deref()
            .unwrap_or_default();
        let kid = kid.clone()?;
        // Key rotation: an unknown kid refetches at once after a regular load, then once per
        // cooldown (a kid that is not a string can match no key: nothing to fetch for).
        if let Some(kid) = kid
            && keys.value.find(kid).is_none()
        {
            keys = self
                .jwks
                .refetch_for(jwks_uri, &keys, kid, self.jwks_refresh_cooldown, |set| {
                    set.find(kid).is_some()
                })
                .await;
        }
        Ok((discovery_entry, keys))
    }

    /// The discovery document at `discovery_url`, checked against `issuer` (present, valid,
    /// equal; an `https` `jwks_uri`), and its key set, through the caches.
    pub(super) async fn documents(
        &self,
        discovery_url: &str,
        issuer: &str,
    ) -> Result<(Arc<Entry<Arc<Discovery>>>, Arc<Entry<KeySet>>)> {
        let discovery_entry = self
            .discovery
            .get(discovery_url)
            .await
            .map_err(|e| TokenError::Discovery(e.to_string()))?;
        let discovery = &discovery_entry.value;
        if discovery.issuer.is_empty() {
            Err(TokenError::DiscoveryMissingIssuer)?;
        }
        let discovery_issuer = discovery
            .normalized_issuer
            .as_ref()
            .map_err(|e| TokenError::InvalidDiscoveryIssuer(e.to_string()))?;
        if discovery_issuer.as_str() != issuer {
            Err(TokenError::DiscoveryIssuerMismatch)?;
        }
        let Some(jwks_uri) = discovery.jwks_uri.as_deref() else {
            Err(TokenError::MissingJwksUri)?
        };
        if !jwks_uri.starts_with("https://") {
            Err(TokenError::Jwks("jwks_uri must use https".to_owned()))?;
        }
        let keys = self
            .jwks
            .get(jwks_uri)
            .await
            .map_err(|e| TokenError::Jwks(e.to_string()))?;
        Ok((discovery_entry, keys))
    }

    /// Loads, through the caches, the discovery document and key set of every configured
    /// issuer (single domain or static list), with the checks a token would get: what
    /// [`ApiClient::warm_up`](crate::ApiClient::warm_up) runs. Nothing to load with keys from
    /// the options or with a domains resolver.
    pub(crate) async fn warm_up(&self) -> Result<()> {
        if self.static_keys.is_some() {
            return Ok(());
        }
        match &self.domains {
            DomainsMode::Single => {
                self.documents(&self.single_discovery_url, &self.single_issuer)
                    .await?;
            }
            DomainsMode::List(_) => {
                for (issuer, url) in &self.list_discovery_urls {
                    self.documents(url, issuer).await?;
                }
            }
            DomainsMode::Resolver(_) => {}
        }
        Ok(())
    }
}
