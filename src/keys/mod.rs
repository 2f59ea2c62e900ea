//! Verification keys: a JWKS loaded into usable keys ([`jwk`]), the cache that keeps them in
//! isolate memory and Workers KV ([`cache`]), the tags that authenticate its KV entries
//! ([`integrity`]), and the backends that verify signatures and compute tags ([`crypto`]).

pub mod cache;
pub mod crypto;
pub mod integrity;
pub mod jwk;
