//! The scheduled prewarm (a cron trigger): every key set the worker trusts, each provider's
//! (through its OpenID configuration where it has one) and Stytch's session keys, renewed in
//! KV before it expires, so that a cold isolate anywhere finds fresh keys in KV and no user
//! waits for a key set to come over the network.
//!
//! A cron run happens in one Cloudflare location: it warms KV, which every location reads,
//! not the memory of isolates elsewhere.

use super::Services;
use super::limits::RateLimiter;
use crate::config::{Config, ConfigError, KeySource};
use crate::http::{HttpClient, LogLevel, Platform};
use crate::keys::cache::{DocumentKind, KvStore, Prewarmed};
use crate::keys::crypto::SignatureBackend;
use crate::keys::integrity::EntryMac;
use serde::Serialize;

/// The run's log line.
#[derive(Debug, Serialize)]
struct PrewarmLog<'a> {
    route: &'static str,
    /// The worker's version, as in every request's line.
    version: &'static str,
    cron: &'a str,
    /// `ok`, `failed` (some document could not be renewed) or `misconfigured`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    ms: Total,
    sets: Vec<SetLog>,
}

#[derive(Debug, Serialize)]
struct Total {
    total: u64,
}

/// One document's line in the log.
#[derive(Debug, Serialize)]
struct SetLog {
    /// Whose: a provider's name, or `stytch_sessions`.
    of: String,
    /// `key_set` or `openid_configuration`.
    kind: &'static str,
    url: String,
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    keys: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fresh_for_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// Whose the Stytch session key set is, in the log.
const STYTCH_SESSIONS: &str = "stytch_sessions";

impl<H: HttpClient, K: KvStore, B: SignatureBackend + EntryMac, P: Platform, L: RateLimiter>
    Services<'_, H, K, B, P, L>
{
    /// Renews every configured document in KV, one after the other, and writes the run's
    /// log line. Whether every one is now fresh in KV.
    pub async fn prewarm(&self, config: Result<&Config, &ConfigError>, cron: &str) -> bool {
        let started = self.platform.now_ms();
        let mut log = PrewarmLog {
            route: "scheduled",
            version: super::VERSION,
            cron,
            outcome: "ok",
            detail: None,
            ms: Total { total: 0 },
            sets: Vec::new(),
        };
        match config {
            Ok(config) => self.prewarm_all(config, &mut log.sets).await,
            Err(e) => {
                log.outcome = "misconfigured";
                log.detail = Some(e.to_string());
            }
        }
        if log.sets.iter().any(|s| s.result == "failed") {
            log.outcome = "failed";
        }
        log.ms.total = self.platform.now_ms().saturating_sub(started);
        // A run that renewed everything is routine; one that failed or could not read the
        // configuration is what a cron failure alert should find.
        let level = if log.outcome == "ok" {
            LogLevel::Info
        } else {
            LogLevel::Error
        };
        if let Ok(line) = serde_json::to_string(&log) {
            self.platform.log(level, &line);
        }
        log.outcome == "ok"
    }

    async fn prewarm_all(&self, config: &Config, sets: &mut Vec<SetLog>) {
        for provider in &config.providers {
            let jwks_url = match &provider.keys {
                KeySource::Jwks(url) => url.clone(),
                KeySource::Discovery { url, issuer } => {
                    let discovered = self
                        .prewarm_one(config, url, DocumentKind::Discovery { issuer })
                        .await;
                    let jwks_uri = discovered.jwks_uri.clone();
                    push(
                        sets,
                        &provider.name,
                        url,
                        discovered,
                        "openid_configuration",
                    );
                    match jwks_uri {
                        Some(uri) => uri,
                        // Without its configuration, where the keys are is unknown: that
                        // line already says why.
                        None => continue,
                    }
                }
            };
            self.prewarm_key_set(config, &provider.name, &jwks_url, sets)
                .await;
        }
        self.prewarm_key_set(config, STYTCH_SESSIONS, &config.session.jwks_url, sets)
            .await;
    }

    /// A key set, once however many providers share it (Firebase projects all use Google's).
    async fn prewarm_key_set(&self, config: &Config, of: &str, url: &str, sets: &mut Vec<SetLog>) {
        if sets.iter().any(|s| s.url == url && s.kind == "key_set") {
            return;
        }
        let prewarmed = self.prewarm_one(config, url, DocumentKind::KeySet).await;
        push(sets, of, url, prewarmed, "key_set");
    }

    async fn prewarm_one(&self, config: &Config, url: &str, kind: DocumentKind<'_>) -> Prewarmed {
        self.key_cache(config, url, kind)
            .prewarm(self.platform.now_ms())
            .await
    }
}

fn push(sets: &mut Vec<SetLog>, of: &str, url: &str, p: Prewarmed, kind: &'static str) {
    sets.push(SetLog {
        of: of.to_owned(),
        kind,
        url: url.to_owned(),
        result: p.result,
        keys: p.keys,
        fresh_for_s: p.fresh_for_s,
        error: p.error,
    });
}
