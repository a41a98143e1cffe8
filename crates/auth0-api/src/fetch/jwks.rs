//! JSON Web Key Sets (RFC 7517 section 5): fetched through the document loader, parsed once
//! into verifying keys, looked up by `kid`, refetched on an unknown `kid` at once after a
//! regular load, then at most once per cooldown (key rotation without waiting for the TTL, and
//! without letting random `kid`s force fetches; see `DocumentCache::refetch_for`).
//! Caching, refresh-ahead and stale-if-error live in the client's document cache.

use std::time::Duration;

use serde_json::Value;
use smallvec::SmallVec;

use crate::fetch::document_cache::DocumentCache;
use crate::fetch::loader::{DocumentError, DocumentLoader};
use crate::jose::keys::{KeyError, VerifyingKey};
use crate::settings::Algorithm;

/// Most keys read from one JWKS.
pub const MAX_KEYS: usize = 100;

/// One JWKS member: its `kid` and the verifying keys it yields for the allowed algorithms.
///
/// Cloned into the record of an issuer resolved before (see [`crate::fetch::resolved`]): a
/// clone shares the keys (aws-lc counts its references) and copies the `kid`.
#[derive(Debug, Clone)]
pub(crate) struct JwkEntry {
    pub(crate) kid: Option<String>,
    /// Held inline (one key per member for the usual single allowed algorithm): a verification
    /// reaches the key's own memory straight from the member, not through a separate buffer.
    verifiers: SmallVec<[VerifyingKey; 1]>,
    error: Option<KeyError>,
}

impl JwkEntry {
    /// Why this member yields no verifying key for any allowed algorithm (`None`: it does).
    pub(crate) fn unusable(&self) -> Option<KeyError> {
        self.verifiers
            .is_empty()
            .then(|| self.error.clone().unwrap_or(KeyError::WrongType))
    }

    /// The verifying key for `alg`, or why there is none.
    pub(crate) fn verifier(&self, alg: Algorithm) -> Result<&VerifyingKey, KeyError> {
        self.verifiers
            .iter()
            .find(|v| v.algorithm() == alg)
            .ok_or_else(|| self.error.clone().unwrap_or(KeyError::WrongType))
    }
}

/// A parsed key set.
#[derive(Debug)]
pub(crate) struct KeySet {
    entries: Vec<JwkEntry>,
}

impl KeySet {
    pub(crate) fn parse(
        doc: &serde_json::Map<String, Value>,
        algorithms: &[Algorithm],
    ) -> Result<Self, DocumentError> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(DocumentError::NoKeys)?;
        let entries = keys
            .iter()
            .take(MAX_KEYS)
            .filter_map(Value::as_object)
            .map(|jwk| {
                let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
                let declared = jwk.get("alg").and_then(Value::as_str);
                let mut verifiers = SmallVec::new();
                let mut error = None;
                for &alg in algorithms {
                    if declared.is_some_and(|d| d != alg.name()) {
                        continue;
                    }
                    match VerifyingKey::from_jwk(jwk, alg) {
                        Ok(v) => verifiers.push(v),
                        Err(e) => error = Some(e),
                    }
                }
                JwkEntry {
                    kid,
                    verifiers,
                    error,
                }
            })
            .collect();
        Ok(Self { entries })
    }

    /// A key set with no members.
    pub(crate) fn none() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// The members, in document order.
    pub(crate) fn entries(&self) -> &[JwkEntry] {
        &self.entries
    }

    /// The first member whose `kid` equals `kid`.
    pub(crate) fn find(&self, kid: &str) -> Option<&JwkEntry> {
        find_member(&self.entries, kid)
    }
}

/// The first of `members` whose `kid` equals `kid`: the lookup of a key set, and of the copy
/// of its members an issuer's record keeps (see [`crate::fetch::resolved`]).
pub(crate) fn find_member<'a>(members: &'a [JwkEntry], kid: &str) -> Option<&'a JwkEntry> {
    members.iter().find(|e| e.kid.as_deref() == Some(kid))
}

/// Key sets, parsed, by `jwks_uri`.
pub(crate) type JwksCache = DocumentCache<KeySet>;

/// The JWKS cache of a client: members parsed for `algorithms`.
pub(crate) fn jwks_cache(
    loader: DocumentLoader,
    max_entries: usize,
    stale_window: Duration,
    algorithms: Vec<Algorithm>,
) -> JwksCache {
    DocumentCache::new("jwks", loader, max_entries, stale_window, move |doc| {
        KeySet::parse(&doc, &algorithms)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_members_and_keeps_first_duplicate() {
        let doc = json!({"keys":[
            {"kid":"a","kty":"RSA","n":"AQAB","e":"AQAB"},
            {"kid":"b","kty":"EC"},
            "not an object",
            {"kid":"a","kty":"EC"}
        ]});
        let set = KeySet::parse(doc.as_object().unwrap(), &[Algorithm::RS256]).unwrap();
        assert_eq!(set.entries.len(), 3);
        let a = set.find("a").unwrap();
        assert!(matches!(
            a.verifier(Algorithm::RS256),
            Err(KeyError::RsaSize(_))
        ));
        assert!(set.find("zzz").is_none());
        assert!(matches!(
            KeySet::parse(
                json!({"nokeys":1}).as_object().unwrap(),
                &[Algorithm::RS256]
            ),
            Err(DocumentError::NoKeys)
        ));
    }
}
