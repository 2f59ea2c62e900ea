//! Fakes of the worker's I/O that behave like the platform where it matters: KV refuses TTLs
//! under 60 s and only sees writes once the response is done (waitUntil); the HTTP fake
//! fails the test on any call nobody scripted; the clock only moves when told (or by sleep).

use edge_attest::app::limits::{Limit, RateLimiter};
use edge_attest::app::{IsolateNotes, Refreshes, Services};
use edge_attest::config::{Config, ConfigError};
use edge_attest::http::{
    Answer, ForwardRequest, Forwarded, Forwarder, HttpClient, IncomingRequest, LogLevel,
    OutboundRequest, OutboundResponse, Platform, Response, TransportError,
};
use edge_attest::keys::cache::{JwksMemory, KvStore};
use edge_attest::keys::crypto::RustCryptoBackend;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};

pub type Reply = Result<OutboundResponse, TransportError>;

/// Scripted upstreams: JWKS and Stytch answers are queued per kind; every call is recorded.
#[derive(Default)]
pub struct FakeHttp {
    pub jwks: RefCell<VecDeque<Reply>>,
    /// Served whenever the JWKS queue is empty (a healthy issuer); `None` = unexpected call.
    pub jwks_default: RefCell<Option<Reply>>,
    pub stytch: RefCell<VecDeque<Reply>>,
    /// Stytch's session key set (`/v1/sessions/jwks/{project}`); `None` = unexpected call.
    pub stytch_jwks: RefCell<Option<Reply>>,
    pub calls: RefCell<Vec<OutboundRequest>>,
    /// A key-set fetch stays under way for this many polls (other requests run meanwhile).
    pub jwks_pending_polls: Cell<u32>,
    /// A Stytch API call stays under way for this many polls, likewise.
    pub stytch_pending_polls: Cell<u32>,
    /// Answers by exact URL (other providers' key sets and OpenID configurations), tried first.
    pub routes: RefCell<HashMap<String, Reply>>,
}

/// The app behind the gateway: records every request it receives (with its body) and answers
/// from a script, or 200 `ok` by default. In front of it, the edge location's cache as the
/// glue keeps it for `shared_cache` requests: answered from it by URL when it holds one
/// (the app not asked), and the app's answer kept when `shared_cacheable` allows.
#[derive(Default)]
pub struct FakeApp {
    pub received: RefCell<Vec<(ForwardRequest, Vec<u8>)>>,
    pub replies: RefCell<VecDeque<Result<Forwarded<String>, TransportError>>>,
    pub cache: RefCell<HashMap<String, Forwarded<String>>>,
}

impl FakeApp {
    /// Queues the app's next answer.
    pub fn reply(&self, status: u16, headers: &[(&str, &str)], body: &str) {
        self.replies.borrow_mut().push_back(Ok(Forwarded {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
            from_cache: false,
        }));
    }
    /// Queues a failure of the next forward.
    pub fn fail(&self, e: TransportError) {
        self.replies.borrow_mut().push_back(Err(e));
    }
}

/// A request body a test hands the worker: what the app receives of it when forwarded.
pub trait TestBody: edge_attest::http::BodySource + edge_attest::http::AllHeaders {
    fn forwarded(self) -> Vec<u8>;
}

impl TestBody for Vec<u8> {
    fn forwarded(self) -> Vec<u8> {
        self
    }
}

impl<B: TestBody> Forwarder<B> for FakeApp {
    type Answer = String;
    async fn forward(
        &self,
        req: ForwardRequest,
        body: B,
    ) -> Result<Forwarded<String>, TransportError> {
        if let Some(key) = &req.shared_cache
            && let Some(hit) = self.cache.borrow().get(key)
        {
            return Ok(Forwarded {
                from_cache: true,
                ..hit.clone()
            });
        }
        let shared = req.shared_cache.clone();
        self.received.borrow_mut().push((req, body.forwarded()));
        let answer = self.replies.borrow_mut().pop_front().unwrap_or_else(|| {
            Ok(Forwarded {
                status: 200,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: "ok".into(),
                from_cache: false,
            })
        });
        if let Ok(a) = &answer
            && let Some(key) = shared
            && edge_attest::gateway::forward::shared_cacheable(a.status, &a.headers)
        {
            self.cache.borrow_mut().insert(key, a.clone());
        }
        answer
    }
}

/// An answer as a test reads it: the app's body (a string here) in place of the worker's.
pub fn response_of(answer: Answer<String>) -> Response {
    match answer {
        Answer::Own(r) => r,
        Answer::Forwarded(f) => Response {
            status: f.status,
            headers: f.headers,
            body: f.body,
        },
    }
}

/// Pending for `n` polls, waking itself each time: an I/O that is still under way.
async fn under_way(n: u32) {
    let mut left = n;
    std::future::poll_fn(|cx| {
        if left == 0 {
            std::task::Poll::Ready(())
        } else {
            left -= 1;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

impl FakeHttp {
    pub fn calls_to(&self, path_suffix: &str) -> Vec<OutboundRequest> {
        self.calls
            .borrow()
            .iter()
            .filter(|c| c.url.ends_with(path_suffix))
            .cloned()
            .collect()
    }
    pub fn jwks_fetches(&self) -> usize {
        self.calls_to("jwks.json").len()
    }
    /// Calls to Stytch's API (not its public key set).
    pub fn stytch_calls(&self) -> Vec<OutboundRequest> {
        self.calls
            .borrow()
            .iter()
            .filter(|c| c.url.contains(STYTCH_API) && !c.url.contains(STYTCH_JWKS_PATH))
            .cloned()
            .collect()
    }
    /// Calls to exactly `url`.
    pub fn calls_of(&self, url: &str) -> usize {
        self.calls.borrow().iter().filter(|c| c.url == url).count()
    }
    pub fn route(&self, url: &str, reply: Reply) {
        self.routes.borrow_mut().insert(url.to_owned(), reply);
    }
    pub fn stytch_jwks_fetches(&self) -> usize {
        self.calls
            .borrow()
            .iter()
            .filter(|c| c.url.contains(STYTCH_JWKS_PATH))
            .count()
    }
    pub fn push_stytch(&self, r: Reply) {
        self.stytch.borrow_mut().push_back(r);
    }
    pub fn push_jwks(&self, r: Reply) {
        self.jwks.borrow_mut().push_back(r);
    }
}

impl HttpClient for FakeHttp {
    async fn send(&self, req: &OutboundRequest) -> Reply {
        self.calls.borrow_mut().push(req.clone());
        if req.url.ends_with("jwks.json") || req.url.contains(STYTCH_JWKS_PATH) {
            under_way(self.jwks_pending_polls.get()).await;
        }
        if let Some(reply) = self.routes.borrow().get(&req.url) {
            return reply.clone();
        }
        if req.url.ends_with("jwks.json") {
            let next = self.jwks.borrow_mut().pop_front();
            return next
                .or_else(|| self.jwks_default.borrow().clone())
                .unwrap_or_else(|| panic!("unexpected JWKS fetch"));
        }
        if req.url.contains(STYTCH_JWKS_PATH) {
            return self
                .stytch_jwks
                .borrow()
                .clone()
                .unwrap_or_else(|| panic!("unexpected Stytch key-set fetch"));
        }
        if req.url.contains(STYTCH_API) {
            under_way(self.stytch_pending_polls.get()).await;
            return self
                .stytch
                .borrow_mut()
                .pop_front()
                .unwrap_or_else(|| panic!("unexpected Stytch call to {}", req.url));
        }
        panic!("unexpected outbound call to {}", req.url)
    }
}

/// Workers KV: values with expiry; writes land only when `flush` runs (after the response),
/// and only over an entry fetched earlier (as the glue does).
#[derive(Default)]
pub struct FakeKv {
    pub store: RefCell<HashMap<String, (String, u64)>>,
    pub pending: RefCell<Vec<(String, String, u64, u64)>>,
    /// Writes made (awaited or after a response).
    pub puts: Cell<u32>,
    /// Writes after a response left out because KV held an entry fetched as late.
    pub skipped_puts: Cell<u32>,
    pub gets: Cell<u32>,
    pub clock: Option<std::rc::Rc<Cell<u64>>>,
    /// The nth read stays under way for n times this many polls (other requests run
    /// meanwhile, and reads end at different times).
    pub pending_polls: Cell<u32>,
    /// Every awaited write fails.
    pub failing_puts: Cell<bool>,
}

impl FakeKv {
    /// Runs the deferred writes, as the runtime does after the response (waitUntil): each
    /// only if KV does not hold an entry fetched at or after its own (as glue.js checks).
    pub fn flush(&self, now_ms: u64) {
        for (k, v, ttl, fetched_at) in self.pending.borrow_mut().drain(..) {
            assert!(ttl >= 60, "KV rejects expirationTtl under 60 s (got {ttl})");
            let held_at = self
                .store
                .borrow()
                .get(&k)
                .filter(|(_, exp)| now_ms < *exp)
                .and_then(|(text, _)| serde_json::from_str::<serde_json::Value>(text).ok())
                .and_then(|e| e["fetched_at_ms"].as_u64());
            if held_at.is_some_and(|h| {
                h >= fetched_at && h <= now_ms + edge_attest::keys::cache::KV_CLOCK_TOLERANCE_MS
            }) {
                self.skipped_puts.set(self.skipped_puts.get() + 1);
                continue;
            }
            self.puts.set(self.puts.get() + 1);
            self.store.borrow_mut().insert(k, (v, now_ms + ttl * 1000));
        }
    }
}

impl KvStore for FakeKv {
    async fn get(&self, key: &str, timeout_ms: u32) -> Result<Option<String>, String> {
        assert_eq!(timeout_ms, edge_attest::keys::cache::KV_READ_TIMEOUT_MS);
        self.gets.set(self.gets.get() + 1);
        under_way(self.pending_polls.get() * self.gets.get()).await;
        let now = self.clock.as_ref().map_or(0, |c| c.get());
        Ok(self
            .store
            .borrow()
            .get(key)
            .filter(|(_, exp)| now < *exp)
            .map(|(v, _)| v.clone()))
    }
    fn put_after_response_if_newer(
        &self,
        key: String,
        value: String,
        ttl_secs: u64,
        fetched_at_ms: u64,
    ) {
        self.pending
            .borrow_mut()
            .push((key, value, ttl_secs, fetched_at_ms));
    }
    async fn put(&self, key: &str, value: &str, ttl_secs: u64) -> Result<(), String> {
        if self.failing_puts.get() {
            return Err("KV put failed".into());
        }
        assert!(
            ttl_secs >= 60,
            "KV rejects expirationTtl under 60 s (got {ttl_secs})"
        );
        let now = self.clock.as_ref().map_or(0, |c| c.get());
        self.puts.set(self.puts.get() + 1);
        self.store
            .borrow_mut()
            .insert(key.to_owned(), (value.to_owned(), now + ttl_secs * 1000));
        Ok(())
    }
}

/// The Rate Limiting bindings as the local runtime simulates them: a fixed window per
/// binding (`floor(now / period)`), a counter per key, refused once the count reaches the
/// limit. A binding left `None` is not configured.
#[derive(Default)]
pub struct FakeLimiter {
    /// `(limit, period_secs)` of `IP_RATE_LIMITER`.
    pub ip: Cell<Option<(u32, u64)>>,
    /// `(limit, period_secs)` of `USER_RATE_LIMITER`.
    pub user: Cell<Option<(u32, u64)>>,
    /// Every check, in order.
    pub calls: RefCell<Vec<(Limit, String)>>,
    /// Every check fails (a broken binding).
    pub failing: Cell<bool>,
    /// A check stays under way for this many polls (the binding is I/O: other requests run
    /// meanwhile).
    pub pending_polls: Cell<u32>,
    counts: RefCell<HashMap<(&'static str, u64, String), u32>>,
    clock: Option<std::rc::Rc<Cell<u64>>>,
}

impl FakeLimiter {
    /// How many checks of `limit` were made.
    pub fn checks_of(&self, limit: Limit) -> usize {
        self.calls
            .borrow()
            .iter()
            .filter(|(l, _)| *l == limit)
            .count()
    }
}

impl RateLimiter for FakeLimiter {
    async fn check(&self, limit: Limit, key: &str) -> Result<Option<bool>, String> {
        self.calls.borrow_mut().push((limit, key.to_owned()));
        under_way(self.pending_polls.get()).await;
        let config = match limit {
            Limit::Ip => self.ip.get(),
            Limit::User => self.user.get(),
        };
        let Some((max, period)) = config else {
            return Ok(None);
        };
        if self.failing.get() {
            return Err("the binding threw".into());
        }
        let now = self.clock.as_ref().map_or(0, |c| c.get());
        let window = now / (period * 1000);
        let mut counts = self.counts.borrow_mut();
        let count = counts
            .entry((limit.binding(), window, key.to_owned()))
            .or_default();
        if *count >= max {
            return Ok(Some(false));
        }
        *count += 1;
        Ok(Some(true))
    }
}

/// A clock that moves only when told or when the code sleeps.
pub struct FakePlatform {
    pub now_ms: std::rc::Rc<Cell<u64>>,
    pub sleeps: RefCell<Vec<u32>>,
    pub logs: RefCell<Vec<String>>,
    /// The level of each line in `logs`.
    pub levels: RefCell<Vec<LogLevel>>,
    pub random: Cell<u32>,
}

impl FakePlatform {
    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ms: std::rc::Rc::new(Cell::new(now_ms)),
            sleeps: RefCell::default(),
            logs: RefCell::default(),
            levels: RefCell::default(),
            random: Cell::new(12_345),
        }
    }
    pub fn advance_secs(&self, s: u64) {
        self.now_ms.set(self.now_ms.get() + s * 1000);
    }
    pub fn last_log(&self) -> serde_json::Value {
        serde_json::from_str(self.logs.borrow().last().expect("a log line")).expect("JSON log line")
    }
}

impl Platform for FakePlatform {
    fn now_ms(&self) -> u64 {
        self.now_ms.get()
    }
    /// Moves the clock, and lets other tasks run once, as a timer does.
    async fn sleep(&self, ms: u32) {
        self.sleeps.borrow_mut().push(ms);
        self.now_ms.set(self.now_ms.get() + u64::from(ms));
        under_way(1).await;
    }
    fn random_u32(&self) -> u32 {
        self.random.get()
    }
    fn log(&self, level: LogLevel, line: &str) {
        self.levels.borrow_mut().push(level);
        self.logs.borrow_mut().push(line.to_owned());
    }
}

/// A body that fails the test if the handler reads it (for "checked before the body").
pub struct UnreadableBody;

impl edge_attest::http::BodySource for UnreadableBody {
    async fn read(self, _limit: usize) -> Result<Vec<u8>, edge_attest::http::BodyError> {
        panic!("the body must not be read")
    }
}

impl edge_attest::http::AllHeaders for UnreadableBody {
    fn all_headers(&self, read: &[(String, String)]) -> Vec<(String, String)> {
        read.to_vec()
    }
}

impl TestBody for UnreadableBody {
    fn forwarded(self) -> Vec<u8> {
        panic!("the body must not be forwarded")
    }
}

pub fn json_reply(status: u16, body: serde_json::Value) -> Reply {
    Ok(OutboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    })
}

/// One worker isolate with its fakes.
pub struct World {
    pub http: FakeHttp,
    /// The app behind the gateway.
    pub app: FakeApp,
    pub kv: FakeKv,
    pub limits: FakeLimiter,
    pub platform: FakePlatform,
    pub jwks: RefCell<JwksMemory>,
    pub notes: IsolateNotes,
    pub refreshes: Refreshes,
    pub vars: HashMap<String, String>,
}

/// In the URL of Stytch's session key sets, consumer (`/v1/sessions/jwks/`) and B2B
/// (`/v1/b2b/sessions/jwks/`).
pub const STYTCH_JWKS_PATH: &str = "/sessions/jwks/";
/// In the URL of every Stytch session call, consumer and B2B.
pub const STYTCH_API: &str = "/sessions/";
pub const SUPABASE: &str = "https://abcd.supabase.co";
pub const JWKS_URL: &str = "https://abcd.supabase.co/auth/v1/.well-known/jwks.json";
pub const PROJECT: &str = "project-test-11111111";
pub const SECRET: &str = "secret-test-SHOULD-NEVER-LEAK";
pub const PROFILE: &str = "trusted-auth-token-profile-test-1";
pub const WORKER: &str = "https://app.example.com";

impl World {
    pub fn new() -> Self {
        let platform = FakePlatform::new(super::fixtures::now() as u64 * 1000);
        let kv = FakeKv {
            clock: Some(platform.now_ms.clone()),
            ..FakeKv::default()
        };
        let limits = FakeLimiter {
            clock: Some(platform.now_ms.clone()),
            ..FakeLimiter::default()
        };
        let w = Self {
            http: FakeHttp::default(),
            app: FakeApp::default(),
            kv,
            limits,
            platform,
            jwks: RefCell::default(),
            notes: IsolateNotes::default(),
            refreshes: Refreshes::default(),
            vars: [
                ("SUPABASE_URL", SUPABASE),
                ("STYTCH_PROJECT_ID", PROJECT),
                ("STYTCH_SECRET", SECRET),
                ("STYTCH_PROFILE_ID", PROFILE),
                ("JWT_ALGORITHMS", "ES256,RS256,EdDSA"),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        };
        w.serve_jwks("jwks", "public, max-age=600");
        *w.http.stytch_jwks.borrow_mut() = Some(stytch_jwks_reply());
        w
    }

    pub fn var(mut self, k: &str, v: &str) -> Self {
        self.vars.insert(k.into(), v.into());
        self
    }

    pub fn config(&self) -> Result<Config, ConfigError> {
        Config::from_lookup(&|n| self.vars.get(n).cloned())
    }

    /// The issuer serves fixture set `which` from now on.
    pub fn serve_jwks(&self, which: &str, cache_control: &str) {
        *self.http.jwks_default.borrow_mut() = Some(jwks_reply(which, cache_control));
    }

    /// A new isolate as the key cache sees it: empty memory, same KV. (What the isolate
    /// logged once is kept: a test of those notices starts a `World` of its own.)
    pub fn new_isolate(&self) {
        *self.jwks.borrow_mut() = JwksMemory::default();
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Response {
        self.run(incoming(method, path, headers, body))
    }

    /// The same request `n` times at once (one isolate, interleaved at every await).
    pub fn request_all(
        &self,
        n: usize,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Vec<Response> {
        self.run_all((0..n).map(|_| incoming(method, path, headers, "")))
    }

    /// Runs `requests` at once in this isolate, interleaved at every await; then the
    /// waitUntil work.
    pub fn run_all(
        &self,
        requests: impl Iterator<Item = IncomingRequest<Vec<u8>>>,
    ) -> Vec<Response> {
        let config = self.config();
        let services = self.services();
        let all = futures_util::future::join_all(
            requests.map(|r| services.handle(config.as_ref(), r, &self.app)),
        );
        let responses = futures_executor::block_on(all)
            .into_iter()
            .map(response_of)
            .collect();
        self.kv.flush(self.platform.now_ms());
        responses
    }

    /// The handler's I/O: this world's fakes.
    pub fn services(
        &self,
    ) -> Services<'_, FakeHttp, FakeKv, RustCryptoBackend, FakePlatform, FakeLimiter> {
        Services {
            http: &self.http,
            kv: &self.kv,
            backend: &RustCryptoBackend,
            platform: &self.platform,
            jwks: &self.jwks,
            limits: &self.limits,
            notes: &self.notes,
            refreshes: &self.refreshes,
        }
    }

    /// One scheduled run (the key-set prewarm); whether it renewed everything.
    pub fn prewarm(&self) -> bool {
        let config = self.config();
        futures_executor::block_on(self.services().prewarm(config.as_ref(), "*/5 * * * *"))
    }

    pub fn run<B: TestBody>(&self, req: IncomingRequest<B>) -> Response {
        let config = self.config();
        let services = self.services();
        let resp = response_of(futures_executor::block_on(services.handle(
            config.as_ref(),
            req,
            &self.app,
        )));
        // The response is out: now the waitUntil work runs.
        self.kv.flush(self.platform.now_ms());
        resp
    }

    /// Runs the requests of `tokens` (exchanges) at once in this isolate, as concurrent
    /// requests of one isolate run; then the waitUntil work.
    pub fn exchange_all(&self, tokens: &[String]) -> Vec<Response> {
        self.run_all(tokens.iter().map(|t| {
            let body = serde_json::json!({ "access_token": t }).to_string();
            incoming(
                "POST",
                "/api/exchange",
                &[("content-type", "application/json")],
                &body,
            )
        }))
    }

    /// POST /api/exchange with the token in the JSON body.
    pub fn exchange(&self, token: &str) -> Response {
        let body = serde_json::json!({ "access_token": token }).to_string();
        self.request(
            "POST",
            "/api/exchange",
            &[("content-type", "application/json")],
            &body,
        )
    }

    /// POST /api/exchange with the token in the JSON body and a `Cookie` header.
    pub fn exchange_with_cookies(&self, token: &str, cookie: &str) -> Response {
        let body = serde_json::json!({ "access_token": token }).to_string();
        self.request(
            "POST",
            "/api/exchange",
            &[("content-type", "application/json"), ("cookie", cookie)],
            &body,
        )
    }

    /// POST /api/exchange with a JSON body, from a page on `origin`.
    pub fn post_json_from(&self, origin: &str, body: &str) -> Response {
        self.request(
            "POST",
            "/api/exchange",
            &[("origin", origin), ("content-type", "application/json")],
            body,
        )
    }

    /// Queues one successful B2B attest answer shaped like Stytch's (member in
    /// `organization-test-44444444`, slug `acme`).
    pub fn stytch_member_ok(&self) {
        let exp_unix = self.platform.now_ms() / 1000 + 3600;
        self.http
            .push_stytch(json_reply(200, attest_member_body(exp_unix as i64)));
    }

    /// Queues one successful attest answer shaped like Stytch's.
    pub fn stytch_ok(&self) {
        let exp_unix = self.platform.now_ms() / 1000 + 3600;
        self.http
            .push_stytch(json_reply(200, attest_body(exp_unix as i64)));
    }
}

/// Stytch's session key set from the fixtures, as Stytch serves it (no Cache-Control).
pub fn stytch_jwks_reply() -> Reply {
    Ok(OutboundResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: super::fixtures::fixtures()["stytch"]["jwks"]
            .to_string()
            .into_bytes(),
    })
}

pub fn jwks_reply(which: &str, cache_control: &str) -> Reply {
    Ok(OutboundResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("cache-control".into(), cache_control.into()),
        ],
        body: super::fixtures::fixtures()[which].to_string().into_bytes(),
    })
}

/// Unix seconds → RFC 3339.
pub fn rfc3339(unix: i64) -> String {
    let d = edge_attest::formats::time::format_http_date(unix); // "Sat, 28 Nov 2026 21:42:15 GMT"
    let parts: Vec<&str> = d.split(' ').collect();
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == parts[2])
    .unwrap()
        + 1;
    format!("{}-{month:02}-{}T{}Z", parts[3], parts[1], parts[4])
}

pub fn attest_body(expires_at: i64) -> serde_json::Value {
    serde_json::json!({
        "status_code": 200,
        "request_id": "request-id-test-55555555",
        "user_id": "user-test-22222222",
        "user": { "user_id": "user-test-22222222", "emails": [], "status": "active" },
        "session_token": "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q",
        "session_jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2ln",
        "session": {
            "session_id": "session-test-33333333",
            "user_id": "user-test-22222222",
            "started_at": rfc3339(expires_at - 3600),
            "last_accessed_at": rfc3339(expires_at - 3600),
            "expires_at": rfc3339(expires_at),
            "authentication_factors": [{
                "type": "trusted_auth_token",
                "delivery_method": "trusted_token_exchange",
                "trusted_auth_token_factor": { "token_id": "0b6f8a52" }
            }],
            "roles": []
        }
    })
}

/// A session JWT as Stytch's answers carry one, for the worker to hand on (never verified by
/// it): `exp` five minutes after `iat`, as Stytch's.
pub fn answered_jwt(iat: i64) -> String {
    use base64::Engine as _;
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    format!(
        "{}.{}.c2ln",
        b64(serde_json::json!({"alg": "RS256", "typ": "JWT"})),
        b64(serde_json::json!({"sub": "user-test-22222222", "iat": iat, "exp": iat + 300}))
    )
}

/// Stytch's answer to `sessions/authenticate` for the fixtures' session, live until
/// `expires_at`, with a new session token and a JWT minted at the fixtures' `now` (and the
/// fixtures' link among its custom claims).
pub fn authenticate_answer(expires_at: i64) -> Reply {
    json_reply(200, authenticate_body(expires_at))
}

/// The body of [`authenticate_answer`], to edit.
pub fn authenticate_body(expires_at: i64) -> serde_json::Value {
    let mut body = attest_body(expires_at);
    if let Some(obj) = body.as_object_mut() {
        obj.remove("user_id"); // Authenticate names the user in the session only
    }
    body["session"]["custom_claims"] =
        serde_json::json!({ "edge_attest": super::fixtures::fixtures()["stytch"]["link"] });
    body["session_token"] = serde_json::json!("refreshed-session-token");
    body["session_jwt"] = serde_json::json!(answered_jwt(super::fixtures::now()));
    body
}

/// Stytch's error answer (stytch-node `StytchErrorJSON`), request id `request-id-test-err`.
pub fn stytch_error(status: u16, error_type: &str) -> Reply {
    json_reply(
        status,
        serde_json::json!({
            "status_code": status, "request_id": "request-id-test-err", "error_type": error_type,
            "error_message": "x", "error_url": "https://stytch.com/docs/api/errors"
        }),
    )
}

/// A B2B attest answer (stytch-node `B2BSessionsAttestResponse`).
pub fn attest_member_body(expires_at: i64) -> serde_json::Value {
    let organization = serde_json::json!({
        "organization_id": "organization-test-44444444",
        "organization_slug": "acme",
        "organization_name": "Acme"
    });
    serde_json::json!({
        "status_code": 200,
        "request_id": "request-id-test-66666666",
        "member_id": "member-test-22222222",
        "member": { "member_id": "member-test-22222222", "email_address": "ada@example.com", "status": "active" },
        "organization": organization,
        "session_token": "mZAYn5aLEqKUlZ_Ad9U_fWr38GaAQ1oFAhT8ds245v7Q",
        "session_jwt": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZW1iZXIifQ.c2ln",
        "member_session": {
            "member_session_id": "member-session-test-33333333",
            "member_id": "member-test-22222222",
            "started_at": rfc3339(expires_at - 3600),
            "last_accessed_at": rfc3339(expires_at - 3600),
            "expires_at": rfc3339(expires_at),
            "authentication_factors": [],
            "organization_id": "organization-test-44444444",
            "organization_slug": "acme",
            "roles": ["stytch_member"]
        }
    })
}

pub fn body_json(r: &Response) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or(serde_json::Value::Null)
}

/// A request to the worker, header names lower-cased as the runtime gives them.
pub fn incoming(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> IncomingRequest<Vec<u8>> {
    IncomingRequest {
        method: method.into(),
        url: format!("{WORKER}{path}"),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
            .collect(),
        body: body.as_bytes().to_vec(),
    }
}
