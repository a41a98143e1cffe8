//! Access-token verification: decoding, the checks in the reference's order, and the cache of
//! tokens that passed them.

mod checks;
pub(crate) mod token_cache;

pub(crate) use checks::*;
