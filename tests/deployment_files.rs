#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
//! The files a user deploys and reads must carry every configuration variable of the spec,
//! and the Stytch secret only ever as a secret.

/// The configuration variables, as `src/config/` reads them: every string literal of six or
/// more capitals, digits and underscores outside the tests (`SUPABASE_URL`, `PROVIDERS`, …).
fn variables() -> Vec<String> {
    let src = [
        include_str!("../src/config/mod.rs"),
        include_str!("../src/config/providers.rs"),
        include_str!("../src/config/protect.rs"),
    ]
    .map(|file| file.split("#[cfg(test)]").next().unwrap().to_owned())
    .concat();
    let code = src.as_str();
    let mut vars: Vec<String> = code
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.len() >= 6
                && s.starts_with(|c: char| c.is_ascii_uppercase())
                && s.bytes()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
        })
        .map(str::to_owned)
        .collect();
    vars.sort();
    vars.dedup();
    vars
}

#[test]
fn the_variable_list_is_complete() {
    let found = variables();
    for var in VARIABLES {
        assert!(
            found.iter().any(|v| v == var),
            "{var} is not read by config.rs"
        );
    }
    for var in &found {
        assert!(
            VARIABLES.contains(&var.as_str()),
            "src/config/ reads {var}: add it to VARIABLES"
        );
    }
}

use edge_attest::config::VARIABLES;

#[test]
fn wrangler_toml_declares_every_variable_and_the_kv_binding() {
    let toml = include_str!("../wrangler.toml");
    for var in VARIABLES {
        assert!(toml.contains(var), "wrangler.toml does not mention {var}");
    }
    assert!(toml.contains("binding = \"JWKS_CACHE\""));
}

#[test]
fn the_secrets_are_never_plain_variables() {
    let toml = include_str!("../wrangler.toml");
    for secret in ["STYTCH_SECRET", "KEY_CACHE_SECRET"] {
        assert!(
            !toml.lines().any(|l| l.trim_start().starts_with(secret)),
            "{secret} must be set with `wrangler secret put`, not in [vars]"
        );
    }
}

#[test]
fn the_configuration_page_documents_every_variable() {
    let page = include_str!("../docs/configuration.md");
    for var in VARIABLES
        .iter()
        .chain(&["JWKS_CACHE", "IP_RATE_LIMITER", "USER_RATE_LIMITER"])
    {
        assert!(
            page.contains(&format!("| `{var}` |")) || page.contains(&format!(" `{var}` |")),
            "docs/configuration.md has no row for `{var}`"
        );
    }
}

#[test]
fn wrangler_toml_schedules_the_prewarm_binds_the_limits_and_keeps_logs() {
    let toml = include_str!("../wrangler.toml");
    assert!(
        toml.contains("crons = [\"*/5 * * * *\"]"),
        "the prewarm's schedule"
    );
    for binding in [
        edge_attest::app::limits::IP_BINDING,
        edge_attest::app::limits::USER_BINDING,
    ] {
        // One worker; `edge-attest init --environments` writes the bindings into each
        // environment too (wrangler does not inherit them: tests/release/package.test.mjs).
        assert_eq!(
            toml.matches(&format!("name = \"{binding}\"")).count(),
            1,
            "{binding}"
        );
    }
    assert!(toml.contains("[observability]\nenabled = true"));
    assert!(toml.contains("workers_dev = false\npreview_urls = false"));
}
