//! edge-attest: verify a Supabase access token at the edge and exchange it for a Stytch
//! session.
//!
//! The crate is split in two:
//! - a runtime-free core (every module except `glue` and `webcrypto`) that parses and
//!   verifies tokens, decides JWKS cache freshness, builds the Stytch calls, cookies, errors
//!   and log lines, and parses configuration. It never names `worker::*`; its I/O goes
//!   through the small traits in [`http`], [`jwks_cache`] and [`crypto`], and the clock is a
//!   parameter. `cargo test` exercises all of it natively.
//! - a thin glue layer (`glue`, `webcrypto`; wasm32 only) that adapts the Workers runtime to
//!   those traits: Request/Response, Fetch with timeouts, KV with `ctx.wait_until`, WebCrypto,
//!   `Date.now`, `crypto.getRandomValues`, `console.log`.
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

pub mod app;
pub mod b64;
pub mod config;
pub mod cookies;
pub mod crypto;
pub mod error;
pub mod http;
pub mod json;
pub mod jwk;
pub mod jwks_cache;
pub mod stytch;
pub mod task;
pub mod time;
pub mod token;
pub mod urls;
pub mod verify;

#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
mod promise;
#[cfg(all(target_arch = "wasm32", feature = "selftest"))]
mod selftest;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;
