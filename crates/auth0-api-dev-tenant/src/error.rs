//! The crate's error type.

/// Errors from starting or driving a [`crate::DevTenant`] and from the
/// [`crate::dpop`] helpers. Request handling never returns these: bad HTTP
/// input is answered with OAuth JSON errors instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding the listener or writing the CA file failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the CA or server certificate failed.
    #[error("certificate generation failed: {0}")]
    Certificate(#[from] rcgen::Error),
    /// Building the rustls server configuration failed.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
    /// A cryptographic primitive (key generation, signing, RNG) failed.
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    /// No key with this `kid` is known to the tenant.
    #[error("unknown key id {0:?}")]
    UnknownKid(String),
    /// RSA key size not supported by [`crate::DevTenant::add_key_with_bits`].
    #[error("unsupported RSA key size: {0} bits (supported: 1024, 2048, 3072, 4096, 8192)")]
    UnsupportedKeySize(usize),
    /// A key (PEM, DER or JWK) could not be parsed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The builder was given an unusable configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}
