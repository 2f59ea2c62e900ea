//! Shared test support: fixture tokens and faithful fakes of the worker's I/O.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

pub mod fakes;
pub mod fixtures;
