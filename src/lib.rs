//! edge-attest: verify a Supabase access token at the edge and exchange it for a Stytch
//! session.
//!
//! The crate is split in two:
//! - a runtime-free core that parses and verifies tokens ([`jwt`]), loads, caches and uses
//!   keys ([`keys`]), builds the Stytch calls ([`stytch`]), cookies ([`cookies`]), reads what a request
//!   presents as its session ([`credentials`]), errors
//!   ([`error`], the one mapping to HTTP) and log lines, decides what the auth gateway
//!   forwards ([`gateway`]), parses configuration ([`config`]) and runs the request flow
//!   ([`app`]). It never names `worker::*`; its I/O goes through the
//!   small traits in [`http`], [`keys::cache`] and [`keys::crypto`], and the clock is a
//!   parameter. `cargo test` exercises all of it natively.
//! - a thin glue layer ([`runtime`]; wasm32 only, except its executor) that adapts the
//!   Workers runtime to those traits: Request/Response, Fetch with timeouts, KV with
//!   `ctx.wait_until`, WebCrypto, `Date.now`, `crypto.getRandomValues`, `console.log`.
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
pub mod config;
pub mod cookies;
pub mod credentials;
pub mod error;
pub mod formats;
pub mod gateway;
pub mod http;
pub mod jwt;
pub mod keys;
pub mod runtime;
pub mod stytch;
