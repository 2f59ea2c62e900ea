//! The Workers runtime side (wasm32 only, except the executor): the glue that adapts the
//! runtime to the core's traits ([`glue`]), the executor for the request's future
//! ([`task`], runtime-free and tested natively), the promise bridge ([`promise`]), the
//! WebCrypto signature backend ([`webcrypto`]) and the test-only self-test routes. The
//! JavaScript halves live next to them as `.js` files (`entry.js`, the worker's entry module;
//! `glue.js`; `promise.js`), imported by wasm-bindgen.

pub mod task;

#[cfg(target_arch = "wasm32")]
mod glue;
#[cfg(target_arch = "wasm32")]
mod promise;
#[cfg(all(target_arch = "wasm32", feature = "selftest"))]
mod selftest;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;
