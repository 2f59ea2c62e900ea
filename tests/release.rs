#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! One version: `Cargo.toml`'s is the npm package's (release/package.json), the client
//! module's (client/package.json), the one `/healthz` and the logs report (`VERSION`), and
//! CHANGELOG.md has a section for it. And the release's pins agree with each other.

fn json_version(text: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v["version"].as_str().unwrap().to_owned()
}

#[test]
fn one_version_everywhere() {
    let cargo = env!("CARGO_PKG_VERSION");
    assert_eq!(edge_attest::app::VERSION, cargo, "/healthz and the logs");
    assert_eq!(
        json_version(include_str!("../release/package.json")),
        cargo,
        "release/package.json (the npm package edge-attest)"
    );
    assert_eq!(
        json_version(include_str!("../client/package.json")),
        cargo,
        "client/package.json"
    );
    let changelog = include_str!("../CHANGELOG.md");
    assert!(
        changelog
            .lines()
            .any(|l| l.starts_with(&format!("## [{cargo}] - "))),
        "CHANGELOG.md has no \"## [{cargo}] - <date>\" section"
    );
    assert!(
        changelog.contains("## [Unreleased]"),
        "CHANGELOG.md keeps an Unreleased section"
    );
}

#[test]
fn the_toolchain_and_the_wasm_bindgen_cli_are_pinned_exactly() {
    let toolchain = include_str!("../rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("rust-toolchain.toml has a channel");
    assert!(
        channel.split('.').count() == 3 && channel.split('.').all(|p| p.parse::<u32>().is_ok()),
        "the channel is an exact version, not {channel}"
    );
    let manifest = include_str!("../Cargo.toml");
    let pin = manifest
        .lines()
        .find_map(|l| l.strip_prefix("wasm-bindgen = \"="))
        .and_then(|l| l.split('"').next())
        .expect("Cargo.toml pins wasm-bindgen exactly");
    let tools = include_str!("../scripts/tools.sh");
    assert!(
        tools.contains(&format!("WASM_BINDGEN_VERSION={pin} ")),
        "scripts/tools.sh installs wasm-bindgen-cli {pin}, the version Cargo.toml pins"
    );
}
