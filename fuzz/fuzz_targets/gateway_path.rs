//! `properties::gateway_path` under libFuzzer (see fuzz/properties.rs).
#![no_main]

#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../properties.rs"]
mod properties;

libfuzzer_sys::fuzz_target!(|data: &[u8]| properties::gateway_path(data));
