//! JOSE, read strictly: compact JWS (RFC 7515) split and base64url-decoded, compact JWE
//! (RFC 7516) decrypted for the one algorithm pair Auth0 uses, JSON objects read
//! without being built, and JWKs (RFC 7517) turned into verifying keys once.
//!
//! Nothing here touches the network or knows about Auth0: the fetch layer feeds it documents,
//! the verification and DPoP layers feed it tokens and proofs.

pub(crate) mod json_view;
pub mod jwe;
pub mod jws;
pub mod keys;
