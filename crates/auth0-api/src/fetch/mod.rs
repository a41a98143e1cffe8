//! Everything that comes over the network, and how long it is kept: the one HTTP client, the
//! pluggable [`cache::CacheAdapter`] (JSON documents, shareable across a fleet), discovery
//! documents and key sets parsed once and kept in [`document_cache`]s (single flight,
//! refresh-ahead, stale-if-error, LRU), and the issuers already resolved to both.

pub mod cache;
pub(crate) mod discovery;
pub(crate) mod document_cache;
pub(crate) mod http;
pub(crate) mod jwks;
pub(crate) mod loader;
pub(crate) mod resolved;
pub(crate) mod static_keys;
