//! The JWKS cache: isolate memory, then Workers KV, then the network.
//!
//! One mechanism for every key set the worker trusts (the identity provider's, Stytch's
//! session keys): each is known by its URL, which comes from configuration, never from a
//! token, and has its own snapshot, fetch times and KV entry under the same rules.
//!
//! A warm isolate answers from memory with no I/O. A cold isolate reads KV once (written by
//! any isolate that fetched), and only a miss or an expired entry goes to the network. The
//! numbers that govern this are the constants below; each says why it has its value.
//!
//! KV storage schema: key `jwks:v2:<JWKS URL>` (an OpenID configuration: `oidc:v2:<URL>`),
//! value JSON `{"v":2,"url":…,"fetched_at_ms":…,"fresh_until_ms":…,"jwks":"<response body>",
//! "mac":"<base64url HMAC-SHA256>"}`, written after the response (`ctx.waitUntil`) with a TTL
//! that covers the stale-if-error window. An entry is believed only when its tag verifies
//! ([`crate::keys::integrity`]): anyone else who can write the namespace cannot plant keys.

use crate::formats::{b64, json, urls};
use crate::http::{HttpClient, Method, OutboundRequest, Platform, flight};
use crate::keys::integrity::{self, CacheSecret, EntryMac};
use crate::keys::jwk::{Alg, KeyLookupError, KeySet, PublicKey};
use serde::Serialize;
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// Shortest freshness honoured from `Cache-Control`. Below this a busy worker would refetch
/// constantly, and KV rejects TTLs under 60 s anyway.
pub const FRESH_MIN_SECS: u64 = 60;
/// Longest freshness honoured. Supabase itself sends `max-age=600`; going beyond would keep
/// trusting a revoked key longer than Supabase's own documented ~20 min cache chain.
pub const FRESH_MAX_SECS: u64 = 600;
/// Freshness when the response has no `max-age`: Supabase's own value.
pub const FRESH_DEFAULT_SECS: u64 = 600;
/// A token with an unknown `kid` may trigger one refetch, at most this often per isolate:
/// rotations are rare, but random `kid`s from an attacker must not turn into a JWKS flood
/// (jose, workers-oauth-provider and go-oidc users all settled on 30-60 s).
pub const UNKNOWN_KID_COOLDOWN_SECS: u64 = 30;
/// When a refresh fails, the last good keys keep verifying for this long past their expiry,
/// so a Supabase or network outage does not log everybody out; after that, fail closed.
pub const STALE_IF_ERROR_SECS: u64 = 3600;
/// After a failed fetch, the next one waits this long, like the unknown-kid cooldown: with
/// keys in hand their stale copy serves meanwhile, without them (a cold isolate) requests
/// answer 503 at once, so that an outage costs neither a timeout per request nor a fetch per
/// request.
pub const REFRESH_RETRY_SECS: u64 = 30;
/// The JWKS fetch gives up after this long; the user's request is waiting on it.
pub const FETCH_TIMEOUT_MS: u32 = 3_000;
/// A request waiting for the fetch another request is making checks its outcome this often
/// (on a timer of its own: [`crate::http::flight`] says why). 10 ms is noise next to the
/// fetch itself.
pub const IN_FLIGHT_POLL_MS: u32 = 10;
/// How much longer than [`FETCH_TIMEOUT_MS`] a waiter waits before giving up on its own: the
/// fetch's timeout already bounds it, this only covers parsing and timer slack.
pub const IN_FLIGHT_GRACE_MS: u32 = 500;
/// Largest JWKS body read. Sixteen RSA-4096 keys fit in well under this.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// A KV read gives up after this long and the cache goes to the network instead: a KV read
/// is normally a few milliseconds, and a slow one must not cost more than the fetch it saves.
pub const KV_READ_TIMEOUT_MS: u32 = 1_000;
/// A warm isolate whose copy has expired looks at KV before the network: the scheduled
/// prewarm (or another isolate) has usually renewed it there. A look that found nothing fresh
/// is not repeated for this long, like a failed fetch: during an outage of the provider a
/// stale copy serves without a KV read per request.
pub const KV_RECHECK_SECS: u64 = 30;
/// KV's minimum `expirationTtl`.
pub const KV_MIN_TTL_SECS: u64 = 60;
/// Prefix of a key set's KV key; the version lets a format coexist with the one before it
/// (`v1` entries carried no tag: a worker of this version never reads them).
pub const KV_KEY_PREFIX: &str = "jwks:v2:";
/// Prefix of an OpenID Connect configuration's KV key.
pub const KV_DISCOVERY_PREFIX: &str = "oidc:v2:";
/// The entry format's version, in the entry itself.
const KV_ENTRY_VERSION: u8 = 2;
/// How long before its expiry the scheduled prewarm renews a KV entry: the default schedule's
/// period (five minutes) plus a minute for a late run and KV's propagation (up to 60 s), so
/// that between two runs no entry expires and a cold isolate anywhere finds fresh keys.
pub const PREWARM_AHEAD_SECS: u64 = 360;
/// How far in the future a KV entry's `fetched_at_ms` may be and still be believed: the
/// clocks of the machines that wrote and read it are close but not identical. Further ahead
/// means the entry was not written by this worker, and it is ignored.
pub const KV_CLOCK_TOLERANCE_MS: u64 = 5_000;

/// Workers KV as the cache needs it.
#[allow(async_fn_in_trait)]
pub trait KvStore {
    /// Reads a value; `Ok(None)` when absent; an error past `timeout_ms`.
    async fn get(&self, key: &str, timeout_ms: u32) -> Result<Option<String>, String>;
    /// Writes an entry of this module's format after the response has been sent
    /// (`ctx.waitUntil`), never on the request's critical path, unless KV already holds one
    /// fetched at or after `fetched_at_ms` (its `fetched_at_ms` member; one claiming a time
    /// more than [`KV_CLOCK_TOLERANCE_MS`] ahead is not believed, and is overwritten).
    /// Failures are logged by the implementation.
    fn put_after_response_if_newer(
        &self,
        key: String,
        value: String,
        ttl_secs: u64,
        fetched_at_ms: u64,
    );
    /// Writes a value now, for work that has no response to wait for (the scheduled prewarm).
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), String>;
}

/// What the scheduled prewarm did for one document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prewarmed {
    /// `fetched` (and written to KV), `fresh` (KV's entry had long enough left) or `failed`
    /// (KV's entry, if any, left as it was).
    pub result: &'static str,
    /// Usable keys in the set (a key set that was fetched or found fresh).
    pub keys: Option<usize>,
    /// How long KV's entry is fresh for now, in seconds (absent: KV holds no fresh entry).
    pub fresh_for_s: Option<u64>,
    /// Why it failed.
    pub error: Option<String>,
    /// An OpenID configuration's key-set URL, for the caller to prewarm next.
    pub jwks_uri: Option<String>,
}

/// Where this request's keys came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheSource {
    /// Isolate memory, fresh.
    Memory,
    /// Workers KV, fresh.
    Kv,
    /// Fetched during this request.
    Network,
    /// Expired keys served because the refresh failed (stale-if-error).
    Stale,
}

/// What the cache did for one request, for the log line.
#[derive(Debug, Clone, Default)]
pub struct JwksTrace {
    /// Where the keys came from (`None` if no key could be had).
    pub source: Option<CacheSource>,
    /// KV reads made.
    pub kv_reads: u32,
    /// Network fetches made.
    pub fetches: u32,
    /// Notable events: refresh failures, skipped keys, refetch on unknown kid.
    pub notes: Vec<String>,
}

/// Why no key could be produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolveError {
    /// No usable keys: the JWKS is unreachable or invalid and nothing (fresh or within the
    /// stale window) is cached. The worker answers 503.
    Unavailable(String),
    /// Keys are available but none fits the token.
    Key(KeyLookupError),
}

/// One fetched JWKS with its freshness.
#[derive(Debug, Clone)]
pub struct JwksSnapshot {
    url: String,
    contents: Contents,
    fetched_at_ms: u64,
    fresh_until_ms: u64,
    body: String,
}

/// What a cached document is, and so how its body is read: the cache serves key sets and,
/// for providers configured by issuer alone, their OpenID Connect configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind<'a> {
    /// A JWKS.
    KeySet,
    /// `{issuer}/.well-known/openid-configuration`, which must name exactly this issuer (OpenID
    /// Connect Discovery §4.3) and an https key set.
    Discovery {
        /// The configured issuer.
        issuer: &'a str,
    },
}

impl DocumentKind<'_> {
    fn kv_key(self, url: &str) -> String {
        match self {
            Self::KeySet => kv_key(url),
            Self::Discovery { .. } => format!("{KV_DISCOVERY_PREFIX}{url}"),
        }
    }

    /// Reads a body of this kind; notes for the log besides.
    fn parse(self, body: &[u8]) -> Result<(Contents, Vec<String>), String> {
        match self {
            Self::KeySet => {
                let (keys, skipped) = KeySet::parse(body).map_err(|e| e.to_string())?;
                let notes = skipped
                    .into_iter()
                    .map(|s| format!("skipped {s}"))
                    .collect();
                Ok((Contents::Keys(keys), notes))
            }
            Self::Discovery { issuer } => {
                parse_discovery(body, issuer).map(|uri| (Contents::JwksUri(uri), Vec::new()))
            }
        }
    }
}

/// A cached document's contents.
#[derive(Debug, Clone)]
enum Contents {
    Keys(KeySet),
    JwksUri(String),
}

/// The key-set URL of an OpenID Connect configuration that names `issuer`: https (http only
/// to a loopback host, for local development), no credentials, no fragment. Any other host
/// is allowed (Firebase's issuer is securetoken.google.com, its keys on www.googleapis.com).
fn parse_discovery(body: &[u8], issuer: &str) -> Result<String, String> {
    let doc = json::parse_object(body)
        .map_err(|e| format!("OpenID configuration is not a JSON object ({e:?})"))?;
    match doc.get("issuer") {
        Some(Value::String(named)) if named == issuer => {}
        _ => return Err("OpenID configuration names another issuer".into()),
    }
    let Some(Value::String(uri)) = doc.get("jwks_uri") else {
        return Err("OpenID configuration has no jwks_uri".into());
    };
    let url = urls::parse(uri).ok_or("OpenID configuration's jwks_uri is not an http(s) URL")?;
    let secure = url.scheme == "https" || urls::is_loopback_host(url.host);
    if !secure || url.fragment.is_some() {
        return Err("OpenID configuration's jwks_uri is not https".into());
    }
    Ok(uri.clone())
}

/// What KV holds for one document; read back member by member ([`KvEntry::read`]).
#[derive(Serialize)]
struct KvEntry {
    v: u8,
    url: String,
    fetched_at_ms: u64,
    fresh_until_ms: u64,
    jwks: String,
    /// The tag over the KV key, both timestamps and the body (base64url).
    mac: String,
}

impl KvEntry {
    /// Every member present with its type, or nothing.
    fn read(text: &[u8]) -> Option<Self> {
        let picked = json::pick(
            text,
            &["v", "url", "fetched_at_ms", "fresh_until_ms", "jwks", "mac"],
        )
        .ok()?;
        let [v, url, fetched, fresh, jwks, mac] = <[_; 6]>::try_from(picked).ok()?;
        let number = |v: Option<Value>| v.as_ref().and_then(Value::as_u64);
        let string = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            _ => None,
        };
        Some(Self {
            v: number(v).and_then(|v| u8::try_from(v).ok())?,
            url: string(url)?,
            fetched_at_ms: number(fetched)?,
            fresh_until_ms: number(fresh)?,
            jwks: string(jwks)?,
            mac: string(mac)?,
        })
    }
}

/// Why a KV entry was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvRejection {
    /// Not an entry of this format, for this URL, with believable timestamps and contents.
    Unreadable,
    /// Its tag does not verify (or cannot be computed): not written by this worker.
    NotAuthentic,
}

impl JwksSnapshot {
    fn is_fresh(&self, now_ms: u64) -> bool {
        now_ms < self.fresh_until_ms
    }

    fn stale_limit_ms(&self) -> u64 {
        self.fresh_until_ms
            .saturating_add(STALE_IF_ERROR_SECS * 1000)
    }

    /// The KV entry's TTL: through the stale-if-error window, at least KV's minimum.
    fn kv_ttl_secs(&self, now_ms: u64) -> u64 {
        (self.stale_limit_ms().saturating_sub(now_ms) / 1000).max(KV_MIN_TTL_SECS)
    }

    /// A prewarm report about this snapshot.
    fn prewarmed(
        &self,
        result: &'static str,
        fresh_for_s: Option<u64>,
        error: Option<String>,
    ) -> Prewarmed {
        let (keys, jwks_uri) = match &self.contents {
            Contents::Keys(k) => (Some(k.keys().len()), None),
            Contents::JwksUri(u) => (None, Some(u.clone())),
        };
        Prewarmed {
            result,
            keys,
            fresh_for_s,
            error,
            jwks_uri,
        }
    }

    /// The tag's message for this snapshot stored under `kv_key`.
    fn mac_message(&self, kv_key: &str) -> Vec<u8> {
        integrity::message(kv_key, self.fetched_at_ms, self.fresh_until_ms, &self.body)
    }
}

/// The per-isolate part of the cache, one entry per key-set URL. Lives as long as the
/// isolate; never held borrowed across an `await`.
#[derive(Debug, Default)]
pub struct JwksMemory {
    sets: Vec<SetMemory>,
}

/// What the isolate remembers of one key set.
#[derive(Debug)]
struct SetMemory {
    url: String,
    snapshot: Option<Rc<JwksSnapshot>>,
    last_fetch_attempt_ms: Option<u64>,
    last_failure_ms: Option<u64>,
    /// When a look at KV last found nothing fresh (no look again for [`KV_RECHECK_SECS`]).
    last_kv_miss_ms: Option<u64>,
    /// The fetch under way, which every other request needing this set waits for.
    in_flight: Option<Rc<Flight>>,
    /// The KV read under way, likewise.
    kv_in_flight: Option<Rc<Flight>>,
}

/// Which of a set's single flights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The network fetch.
    Fetch,
    /// The KV read.
    KvRead,
}

impl SetMemory {
    fn slot(&mut self, slot: Slot) -> &mut Option<Rc<Flight>> {
        match slot {
            Slot::Fetch => &mut self.in_flight,
            Slot::KvRead => &mut self.kv_in_flight,
        }
    }
}

/// The outcome of one fetch, shared by the requests that wait for it.
type FetchResult = Result<Rc<JwksSnapshot>, String>;

/// One fetch (or KV read) under way.
type Flight = flight::Flight<FetchResult>;

/// The outcome of the flight under way, checked every [`IN_FLIGHT_POLL_MS`] on the waiter's
/// own timer. Bounded: the fetch has its timeout, a fetching request that ends early still
/// finishes its flight ([`FlightGuard`]), and past the timeout plus [`IN_FLIGHT_GRACE_MS`]
/// the waiter gives up.
async fn wait_for<P: Platform>(flight: &Flight, platform: &P) -> FetchResult {
    flight
        .outcome(
            platform,
            IN_FLIGHT_POLL_MS,
            FETCH_TIMEOUT_MS + IN_FLIGHT_GRACE_MS,
            || Err("the fetch in flight outlasted its timeout".into()),
        )
        .await
}

/// Held by the request that fetches (or reads KV): however that request ends (its future
/// dropped, say), its flight is finished and taken out of memory, so waiters never wait for
/// nothing.
struct FlightGuard<'a> {
    memory: &'a RefCell<JwksMemory>,
    url: &'a str,
    slot: Slot,
    flight: Rc<Flight>,
}

impl FlightGuard<'_> {
    fn finish(self, outcome: FetchResult) {
        self.flight.finish(outcome);
        // Drop clears the memory's entry.
    }
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        self.flight
            .finish_unless_finished(|| Err("the request fetching the key set ended first".into()));
        let mut memory = self.memory.borrow_mut();
        let slot = memory.set(self.url).slot(self.slot);
        if slot.as_ref().is_some_and(|f| Rc::ptr_eq(f, &self.flight)) {
            *slot = None;
        }
    }
}

impl JwksMemory {
    /// The entry for `url`, created on first use. URLs come from configuration, so the list
    /// stays as short as the number of configured key sets.
    #[expect(
        clippy::indexing_slicing,
        reason = "the index was just found or pushed"
    )]
    fn set(&mut self, url: &str) -> &mut SetMemory {
        let index = match self.sets.iter().position(|s| s.url == url) {
            Some(i) => i,
            None => {
                self.sets.push(SetMemory {
                    url: url.to_owned(),
                    snapshot: None,
                    last_fetch_attempt_ms: None,
                    last_failure_ms: None,
                    last_kv_miss_ms: None,
                    in_flight: None,
                    kv_in_flight: None,
                });
                self.sets.len() - 1
            }
        };
        &mut self.sets[index]
    }

    fn snapshot(&self, url: &str) -> Option<Rc<JwksSnapshot>> {
        self.sets
            .iter()
            .find(|s| s.url == url)
            .and_then(|s| s.snapshot.clone())
    }
}

/// Freshness in seconds from a `Cache-Control` header: `max-age` clamped to
/// [`FRESH_MIN_SECS`, `FRESH_MAX_SECS`]; `no-store`/`no-cache` and an unreadable `max-age`
/// (`-1`, `abc`: the issuer meant something short, RFC 9111 §4.2.1 calls it stale) count as
/// the minimum; no header or no `max-age` gives [`FRESH_DEFAULT_SECS`].
pub fn freshness_secs(cache_control: Option<&str>) -> u64 {
    let Some(cc) = cache_control else {
        return FRESH_DEFAULT_SECS;
    };
    let mut max_age = None;
    for directive in cc.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" || d == "no-cache" {
            return FRESH_MIN_SECS;
        }
        if let Some(v) = d.strip_prefix("max-age=") {
            max_age = Some(v.trim_matches('"').parse::<u64>().unwrap_or(FRESH_MIN_SECS));
        }
    }
    max_age.map_or(FRESH_DEFAULT_SECS, |m| {
        m.clamp(FRESH_MIN_SECS, FRESH_MAX_SECS)
    })
}

/// The cache for one JWKS URL, over this isolate's memory and the injected I/O.
#[derive(Debug)]
pub struct JwksCache<'a, H, K, P, M> {
    /// The document's URL, from configuration (never from a token).
    pub url: &'a str,
    /// What the document is.
    pub kind: DocumentKind<'a>,
    /// Outbound HTTP.
    pub http: &'a H,
    /// Workers KV.
    pub kv: &'a K,
    /// This isolate's memory.
    pub memory: &'a RefCell<JwksMemory>,
    /// Timers, for waiting on another request's fetch.
    pub platform: &'a P,
    /// Tags KV entries.
    pub mac: &'a M,
    /// The secret the tags are keyed from.
    pub secret: &'a CacheSecret,
}

impl<H: HttpClient, K: KvStore, P: Platform, M: EntryMac> JwksCache<'_, H, K, P, M> {
    /// An entry read back from KV, which is input like any other: it must be this format and
    /// this URL's, its keys must load, it cannot have been fetched in the future, it cannot
    /// claim more freshness than [`FRESH_MAX_SECS`] (a forged `fresh_until_ms` would otherwise
    /// keep a key trusted forever), and its tag must verify.
    async fn read_kv_entry(&self, text: &str, now_ms: u64) -> Result<JwksSnapshot, KvRejection> {
        let e = KvEntry::read(text.as_bytes()).ok_or(KvRejection::Unreadable)?;
        if e.v != KV_ENTRY_VERSION
            || e.url != self.url
            || e.fetched_at_ms > now_ms.saturating_add(KV_CLOCK_TOLERANCE_MS)
            || e.fresh_until_ms > e.fetched_at_ms.saturating_add(FRESH_MAX_SECS * 1000)
        {
            return Err(KvRejection::Unreadable);
        }
        let claimed = b64::decode(&e.mac).ok_or(KvRejection::NotAuthentic)?;
        let message = integrity::message(
            &self.kind.kv_key(self.url),
            e.fetched_at_ms,
            e.fresh_until_ms,
            &e.jwks,
        );
        match self.mac.tag(self.secret, &message).await {
            Ok(tag) if integrity::tags_equal(&tag, &claimed) => {}
            _ => return Err(KvRejection::NotAuthentic),
        }
        let (contents, _) = self
            .kind
            .parse(e.jwks.as_bytes())
            .map_err(|_| KvRejection::Unreadable)?;
        Ok(JwksSnapshot {
            url: e.url,
            contents,
            fetched_at_ms: e.fetched_at_ms,
            fresh_until_ms: e.fresh_until_ms,
            body: e.jwks,
        })
    }

    /// The KV entry for a snapshot, tagged; `None` when no tag can be had (then nothing is
    /// written: an untagged entry would only be refused).
    async fn kv_entry(&self, snapshot: &JwksSnapshot) -> Option<String> {
        let tag = self
            .mac
            .tag(
                self.secret,
                &snapshot.mac_message(&self.kind.kv_key(self.url)),
            )
            .await
            .ok()?;
        serde_json::to_string(&KvEntry {
            v: KV_ENTRY_VERSION,
            url: snapshot.url.clone(),
            fetched_at_ms: snapshot.fetched_at_ms,
            fresh_until_ms: snapshot.fresh_until_ms,
            jwks: snapshot.body.clone(),
            mac: b64::encode(&tag),
        })
        .ok()
    }

    /// The key for a token's `kid` and `alg`, from memory, KV or the network, at `now_ms`
    /// (a cache of kind [`DocumentKind::KeySet`]).
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Alg,
        now_ms: u64,
        trace: &mut JwksTrace,
    ) -> Result<Rc<PublicKey>, ResolveError> {
        let (snapshot, source) = self.current(now_ms, trace).await?;
        let keys = |s: &JwksSnapshot| match &s.contents {
            Contents::Keys(keys) => Ok(keys.clone()),
            Contents::JwksUri(_) => Err(ResolveError::Unavailable("not a key set".into())),
        };
        match keys(&snapshot)?.select(kid, alg) {
            Ok(key) => Ok(key.clone()),
            Err(KeyLookupError::UnknownKid)
                if source != CacheSource::Network
                    && self.unknown_kid_refetch_allowed(&snapshot, now_ms) =>
            {
                trace.notes.push("unknown kid; refetching the JWKS".into());
                let fresh = self
                    .refresh_once(now_ms, trace)
                    .await
                    .map_err(ResolveError::Unavailable)?;
                trace.source = Some(CacheSource::Network);
                keys(&fresh)?
                    .select(kid, alg)
                    .cloned()
                    .map_err(ResolveError::Key)
            }
            // The set in hand lacks the kid, and a try to fetch a newer one failed after the
            // set was fetched: whether the provider publishes that key is not known, so this
            // is the keys' trouble (503, retried), not the token's (401, which a client does
            // not retry and which would sign out everyone whose token a just-rotated key
            // signed). A set fetched after the failure (by another isolate, through KV) is
            // the provider's word: 401.
            Err(KeyLookupError::UnknownKid) => match self.last_failure_ms() {
                Some(failed) if failed >= snapshot.fetched_at_ms => {
                    Err(ResolveError::Unavailable(format!(
                        "no key for the token's kid, and the key set's last fetch failed {} s ago",
                        now_ms.saturating_sub(failed) / 1000
                    )))
                }
                _ => Err(ResolveError::Key(KeyLookupError::UnknownKid)),
            },
            Err(e) => Err(ResolveError::Key(e)),
        }
    }

    /// When the latest fetch of the set failed, if it did (a success since clears it).
    fn last_failure_ms(&self) -> Option<u64> {
        self.memory.borrow_mut().set(self.url).last_failure_ms
    }

    /// The key-set URL an OpenID Connect configuration names (a cache of kind
    /// [`DocumentKind::Discovery`]).
    pub async fn jwks_uri(
        &self,
        now_ms: u64,
        trace: &mut JwksTrace,
    ) -> Result<String, ResolveError> {
        match &self.current(now_ms, trace).await?.0.contents {
            Contents::JwksUri(uri) => Ok(uri.clone()),
            Contents::Keys(_) => Err(ResolveError::Unavailable(
                "not an OpenID configuration".into(),
            )),
        }
    }

    /// The document, from memory, KV or the network, under every rule of this module, and
    /// where it came from. Memory first; then KV, when memory has nothing or its copy has
    /// expired (at most every [`KV_RECHECK_SECS`] then), taking KV's entry if it is newer;
    /// the network only when neither is fresh.
    async fn current(
        &self,
        now_ms: u64,
        trace: &mut JwksTrace,
    ) -> Result<(Rc<JwksSnapshot>, CacheSource), ResolveError> {
        let mut snapshot = self.memory.borrow().snapshot(self.url);
        let mut source = CacheSource::Memory;
        if let Some(s) = snapshot.as_ref().filter(|s| s.is_fresh(now_ms)) {
            trace.source = Some(source);
            return Ok((Rc::clone(s), source));
        }
        let (failed_recently, kv_look_due) = {
            let mut memory = self.memory.borrow_mut();
            let set = memory.set(self.url);
            let recent = |t: &u64, secs: u64| now_ms.saturating_sub(*t) < secs * 1000;
            (
                set.last_failure_ms
                    .filter(|t| recent(t, REFRESH_RETRY_SECS)),
                // A read already under way is joined, not skipped: its outcome may be fresh.
                set.kv_in_flight.is_some()
                    || set
                        .last_kv_miss_ms
                        .is_none_or(|t| !recent(&t, KV_RECHECK_SECS)),
            )
        };
        if snapshot.is_none()
            && let Some(t) = failed_recently
        {
            // A cold isolate whose fetch just failed: 503 at once, no KV read, no fetch.
            return Err(ResolveError::Unavailable(format!(
                "the last fetch failed {} s ago; the next is not before {REFRESH_RETRY_SECS} s",
                now_ms.saturating_sub(t) / 1000
            )));
        }
        if snapshot.is_none() || kv_look_due {
            if let Ok(from_kv) = self.kv_once(now_ms, trace).await
                && snapshot
                    .as_ref()
                    .is_none_or(|m| from_kv.fetched_at_ms > m.fetched_at_ms)
            {
                snapshot = Some(from_kv);
                source = CacheSource::Kv;
            }
            // Another request may have fetched the set while this one was reading KV.
            if let Some(latest) = self.memory.borrow().snapshot(self.url)
                && snapshot
                    .as_ref()
                    .is_none_or(|s| latest.fetched_at_ms > s.fetched_at_ms)
            {
                snapshot = Some(latest);
                source = CacheSource::Memory;
            }
            if snapshot.as_ref().is_none_or(|s| !s.is_fresh(now_ms)) {
                self.memory.borrow_mut().set(self.url).last_kv_miss_ms = Some(now_ms);
            }
        }

        if snapshot.as_ref().is_none_or(|s| !s.is_fresh(now_ms)) {
            let refreshed = if failed_recently.is_some() {
                Err("refresh failed recently; backing off".to_owned())
            } else {
                self.refresh_once(now_ms, trace).await
            };
            match refreshed {
                Ok(fresh) => {
                    snapshot = Some(fresh);
                    source = CacheSource::Network;
                }
                Err(why) => match &snapshot {
                    Some(s) if now_ms < s.stale_limit_ms() => {
                        trace.notes.push(format!(
                            "JWKS refresh failed ({why}); serving keys expired {} s ago",
                            now_ms.saturating_sub(s.fresh_until_ms) / 1000
                        ));
                        source = CacheSource::Stale;
                    }
                    _ => return Err(ResolveError::Unavailable(why)),
                },
            }
        }
        let Some(snapshot) = snapshot else {
            return Err(ResolveError::Unavailable("no keys".into()));
        };
        trace.source = Some(source);
        Ok((snapshot, source))
    }

    /// KV's copy of the document, with at most one read in flight per isolate and set (as for
    /// fetches: a burst at expiry costs one read); a usable entry (believable and authentic)
    /// newer than memory's replaces it there. `Err` says why there is none.
    async fn kv_once(&self, now_ms: u64, trace: &mut JwksTrace) -> FetchResult {
        let under_way = self.memory.borrow_mut().set(self.url).kv_in_flight.clone();
        if let Some(flight) = under_way {
            return wait_for(&flight, self.platform).await;
        }
        let flight = Rc::new(Flight::default());
        self.memory.borrow_mut().set(self.url).kv_in_flight = Some(Rc::clone(&flight));
        let guard = FlightGuard {
            memory: self.memory,
            url: self.url,
            slot: Slot::KvRead,
            flight,
        };
        let outcome = self.kv_read(now_ms, trace).await;
        guard.finish(outcome.clone());
        outcome
    }

    /// One KV read of the document; a usable entry newer than memory's goes into memory.
    async fn kv_read(&self, now_ms: u64, trace: &mut JwksTrace) -> FetchResult {
        trace.kv_reads += 1;
        let text = match self
            .kv
            .get(&self.kind.kv_key(self.url), KV_READ_TIMEOUT_MS)
            .await
        {
            Ok(Some(text)) => text,
            Ok(None) => return Err("no KV entry".into()),
            Err(e) => {
                trace.notes.push(format!("KV read failed: {e}"));
                return Err(e);
            }
        };
        let entry = match self.read_kv_entry(&text, now_ms).await {
            Ok(entry) => Rc::new(entry),
            Err(rejection) => {
                let why = match rejection {
                    KvRejection::Unreadable => "KV entry unreadable; ignored",
                    KvRejection::NotAuthentic => {
                        "KV entry not authentic (its tag does not verify); ignored"
                    }
                };
                trace.notes.push(why.into());
                return Err(why.into());
            }
        };
        let mut memory = self.memory.borrow_mut();
        let set = memory.set(self.url);
        if set
            .snapshot
            .as_ref()
            .is_none_or(|m| entry.fetched_at_ms > m.fetched_at_ms)
        {
            set.snapshot = Some(Rc::clone(&entry));
        }
        Ok(entry)
    }

    /// The scheduled prewarm of this document: fetched and written to KV (awaited) unless
    /// KV's entry stays fresh for more than [`PREWARM_AHEAD_SECS`]; a failed fetch leaves
    /// KV's entry as it is, to keep serving within its stale window. Under the same rules as
    /// every fetch (timeout, size, type, parsing); the isolate's memory is updated too.
    pub async fn prewarm(&self, now_ms: u64) -> Prewarmed {
        let kv_key = self.kind.kv_key(self.url);
        let existing = match self.kv.get(&kv_key, KV_READ_TIMEOUT_MS).await {
            Ok(Some(text)) => self.read_kv_entry(&text, now_ms).await.ok(),
            _ => None,
        };
        let fresh_for = |s: &JwksSnapshot| s.fresh_until_ms.saturating_sub(now_ms) / 1000;
        if let Some(s) = existing
            .as_ref()
            .filter(|s| fresh_for(s) > PREWARM_AHEAD_SECS)
        {
            return s.prewarmed("fresh", Some(fresh_for(s)), None);
        }
        let mut trace = JwksTrace::default();
        let fetched = match self.fetch(now_ms, &mut trace).await {
            Ok(s) => s,
            // KV's entry stays; an OpenID configuration's still says where its keys are.
            Err(e) => {
                return match &existing {
                    Some(s) => {
                        let kept = Some(fresh_for(s)).filter(|f| *f > 0);
                        Prewarmed {
                            keys: None,
                            ..s.prewarmed("failed", kept, Some(e))
                        }
                    }
                    None => Prewarmed {
                        result: "failed",
                        keys: None,
                        fresh_for_s: None,
                        error: Some(e),
                        jwks_uri: None,
                    },
                };
            }
        };
        let snapshot = Rc::new(fetched);
        {
            let mut memory = self.memory.borrow_mut();
            let set = memory.set(self.url);
            set.snapshot = Some(Rc::clone(&snapshot));
            set.last_failure_ms = None;
        }
        let written = match self.kv_entry(&snapshot).await {
            Some(value) => {
                self.kv
                    .put(&kv_key, &value, snapshot.kv_ttl_secs(now_ms))
                    .await
            }
            None => Err("could not tag the entry".into()),
        };
        match written {
            Ok(()) => snapshot.prewarmed("fetched", Some(fresh_for(&snapshot)), None),
            Err(e) => snapshot.prewarmed("failed", None, Some(format!("KV write failed: {e}"))),
        }
    }

    fn unknown_kid_refetch_allowed(&self, snapshot: &JwksSnapshot, now_ms: u64) -> bool {
        let last = self
            .memory
            .borrow_mut()
            .set(self.url)
            .last_fetch_attempt_ms
            .unwrap_or(0)
            .max(snapshot.fetched_at_ms);
        now_ms.saturating_sub(last) >= UNKNOWN_KID_COOLDOWN_SECS * 1000
    }

    /// A fresh copy of the set from the network, with at most one fetch in flight per
    /// isolate and set: a request that finds one under way waits for its outcome instead of
    /// fetching too (a cold isolate under load, or a burst at expiry, costs one fetch).
    async fn refresh_once(&self, now_ms: u64, trace: &mut JwksTrace) -> FetchResult {
        let under_way = self.memory.borrow_mut().set(self.url).in_flight.clone();
        if let Some(flight) = under_way {
            trace
                .notes
                .push("waited for the fetch another request made".into());
            return wait_for(&flight, self.platform).await;
        }
        let flight = Rc::new(Flight::default());
        self.memory.borrow_mut().set(self.url).in_flight = Some(Rc::clone(&flight));
        let guard = FlightGuard {
            memory: self.memory,
            url: self.url,
            slot: Slot::Fetch,
            flight,
        };
        let outcome = self.refresh(now_ms, trace).await;
        guard.finish(outcome.clone());
        outcome
    }

    /// Fetches the JWKS; on success it replaces the isolate's snapshot and is written to KV
    /// after the response, unless KV by then holds an entry fetched as late (another isolate,
    /// or the prewarm, renewed it meanwhile): no write per isolate per expiry.
    async fn refresh(
        &self,
        now_ms: u64,
        trace: &mut JwksTrace,
    ) -> Result<Rc<JwksSnapshot>, String> {
        self.memory.borrow_mut().set(self.url).last_fetch_attempt_ms = Some(now_ms);
        trace.fetches += 1;
        let result = self.fetch(now_ms, trace).await;
        let snapshot = {
            let mut memory = self.memory.borrow_mut();
            let set = memory.set(self.url);
            match result {
                Ok(snapshot) => {
                    let snapshot = Rc::new(snapshot);
                    set.snapshot = Some(Rc::clone(&snapshot));
                    set.last_failure_ms = None;
                    snapshot
                }
                Err(e) => {
                    set.last_failure_ms = Some(now_ms);
                    return Err(e);
                }
            }
        };
        match self.kv_entry(&snapshot).await {
            Some(value) => {
                let ttl = snapshot.kv_ttl_secs(now_ms);
                self.kv.put_after_response_if_newer(
                    self.kind.kv_key(self.url),
                    value,
                    ttl,
                    snapshot.fetched_at_ms,
                );
            }
            None => trace
                .notes
                .push("no tag for the KV entry; not written".into()),
        }
        Ok(snapshot)
    }

    async fn fetch(&self, now_ms: u64, trace: &mut JwksTrace) -> Result<JwksSnapshot, String> {
        let resp = self
            .http
            .send(&OutboundRequest {
                method: Method::Get,
                url: self.url.to_owned(),
                headers: vec![(
                    "accept",
                    "application/json, application/jwk-set+json".into(),
                )],
                body: None,
                timeout_ms: FETCH_TIMEOUT_MS,
                max_response_bytes: MAX_JWKS_BYTES,
            })
            .await
            .map_err(|e| format!("JWKS fetch {e}"))?;
        if resp.status != 200 {
            return Err(format!("JWKS answered HTTP {}", resp.status));
        }
        let media = resp
            .header("content-type")
            .and_then(|c| c.split(';').next())
            .map(|m| m.trim().to_ascii_lowercase());
        if !matches!(
            media.as_deref(),
            Some("application/json" | "application/jwk-set+json")
        ) {
            return Err("JWKS content type is not JSON".into());
        }
        let (contents, notes) = self.kind.parse(&resp.body)?;
        trace.notes.extend(notes);
        let fresh = freshness_secs(resp.header("cache-control"));
        let body = String::from_utf8(resp.body).map_err(|_| "JWKS is not UTF-8".to_owned())?;
        Ok(JwksSnapshot {
            url: self.url.to_owned(),
            contents,
            fetched_at_ms: now_ms,
            fresh_until_ms: now_ms.saturating_add(fresh * 1000),
            body,
        })
    }
}

/// The KV key for a JWKS URL.
pub fn kv_key(url: &str) -> String {
    format!("{KV_KEY_PREFIX}{url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_is_clamped() {
        assert_eq!(freshness_secs(None), 600);
        assert_eq!(freshness_secs(Some("public, max-age=600")), 600);
        assert_eq!(freshness_secs(Some("max-age=86400")), 600);
        assert_eq!(freshness_secs(Some("max-age=5")), 60);
        assert_eq!(freshness_secs(Some("max-age=120, public")), 120);
        assert_eq!(freshness_secs(Some("no-store")), 60);
        assert_eq!(freshness_secs(Some("public")), 600);
        assert_eq!(freshness_secs(Some("max-age=abc")), 60);
        assert_eq!(freshness_secs(Some("max-age=-1")), 60);
    }
}
