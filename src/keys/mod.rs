//! Verification keys: a JWKS loaded into usable keys ([`jwk`]), the cache that keeps them in
//! isolate memory and Workers KV ([`cache`]), and the signature backends that use them
//! ([`crypto`]).

pub mod cache;
pub mod crypto;
pub mod jwk;
