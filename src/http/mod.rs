//! The HTTP shapes the core works with, and the I/O traits the glue implements.
//!
//! The core never touches the Workers runtime: incoming requests arrive as
//! [`IncomingRequest`], answers leave as [`Response`], and outbound calls (JWKS, Stytch) go
//! through [`HttpClient`]. The glue adapts the runtime's Request, Response and `fetch` to these.

pub mod flight;
pub mod wire;

use std::fmt;

/// The request headers the handler reads; the glue fetches only these.
pub const REQUEST_HEADERS: [&str; 6] = [
    "origin",
    "content-type",
    "content-length",
    "authorization",
    "cookie",
    "cf-connecting-ip",
];
/// The upstream response headers the core reads (JWKS freshness and type, Stytch's
/// `Retry-After`).
pub const RESPONSE_HEADERS: [&str; 3] = ["content-type", "cache-control", "retry-after"];

/// How long browsers may cache a preflight answer, the worker's own routes' and those the
/// gateway answers for the app's.
pub const PREFLIGHT_MAX_AGE_SECS: u32 = 600;

/// An incoming request. Header names are lower-case.
#[derive(Debug)]
pub struct IncomingRequest<B> {
    /// Upper-case method.
    pub method: String,
    /// The full request URL.
    pub url: String,
    /// Headers, names lower-cased; repeated headers appear repeatedly.
    pub headers: Vec<(String, String)>,
    /// The body, read only when the handler decides to.
    pub body: B,
}

impl<B> IncomingRequest<B> {
    /// First value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A request body that can be read once, up to a limit.
#[allow(async_fn_in_trait)] // single-threaded runtime, used through generics
pub trait BodySource {
    /// Reads the whole body, or fails with [`BodyError::TooLarge`] as soon as it passes
    /// `limit` bytes.
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError>;
}

/// Why a request body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// The body is longer than the limit.
    TooLarge,
    /// The client went away or the stream failed.
    Io(String),
}

impl BodySource for Vec<u8> {
    async fn read(self, limit: usize) -> Result<Vec<u8>, BodyError> {
        if self.len() > limit {
            Err(BodyError::TooLarge)
        } else {
            Ok(self)
        }
    }
}

/// The request headers beyond those the handler reads: every one, as the gateway forwards
/// them. Read only for a request a gateway rule covers.
pub trait AllHeaders {
    /// Every header of the request, names lower-cased, in order; `read` holds the ones
    /// already read (a test's request holds them all).
    fn all_headers(&self, read: &[(String, String)]) -> Vec<(String, String)>;
}

impl AllHeaders for Vec<u8> {
    fn all_headers(&self, read: &[(String, String)]) -> Vec<(String, String)> {
        read.to_vec()
    }
}

/// A request the gateway sends on to the app: the incoming request's method and body, to
/// `url`, with the headers the gateway decided. Redirects are never followed, the answer is
/// not cached unless `shared_cache` says so, and only its head is waited for: its body
/// streams back as it comes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardRequest {
    /// Absolute URL: the app's origin, and the request's own path and query.
    pub url: String,
    /// The incoming request's method.
    pub method: String,
    /// Every header to send, names lower-case.
    pub headers: Vec<(String, String)>,
    /// Whether the incoming request's body goes along (never for GET and HEAD, nor for a
    /// forwarded CORS preflight).
    pub with_body: bool,
    /// Give up on the answer's status and headers after this long.
    pub headers_timeout_ms: u32,
    /// The key (the public URL) under which the edge location's cache answers this request
    /// when it holds one, and keeps the app's answer when
    /// [`crate::gateway::forward::shared_cacheable`] allows: a `cache = "shared"` rule's
    /// `GET`, which carries only the headers such an answer may depend on.
    pub shared_cache: Option<String>,
}

/// The app's answer, its body not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded<A> {
    /// HTTP status.
    pub status: u16,
    /// Every header, names lower-cased, `set-cookie` repeated.
    pub headers: Vec<(String, String)>,
    /// The body (and, for a 101, the socket), passed back untouched.
    pub body: A,
    /// Answered from the edge location's cache, without a request to the app.
    pub from_cache: bool,
}

/// Sends a request on to the app with the incoming body streamed (the gateway's `fetch`).
#[allow(async_fn_in_trait)]
pub trait Forwarder<Body> {
    /// The answer's body as the runtime holds it.
    type Answer;
    /// Sends `req` with `body`, and waits for the answer's head only.
    async fn forward(
        &self,
        req: ForwardRequest,
        body: Body,
    ) -> Result<Forwarded<Self::Answer>, TransportError>;
}

/// What the worker answers: its own response, or the app's passed through the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer<A> {
    /// Made by the worker.
    Own(Response),
    /// The app's answer, with the head the gateway decided.
    Forwarded(Forwarded<A>),
}

impl<A> Answer<A> {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Own(r) => r.status,
            Self::Forwarded(f) => f.status,
        }
    }
}

/// An answer from the worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers in order; `set-cookie` may repeat and must be appended, not set.
    pub headers: Vec<(String, String)>,
    /// The body (JSON, or empty).
    pub body: String,
}

impl Response {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive).
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Outbound HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
}

/// An outbound call. Redirects are never followed: a 3xx comes back as it is.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Request headers.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body, if any.
    pub body: Option<String>,
    /// Abort the call (connect, headers and body) after this long.
    pub timeout_ms: u32,
    /// Abort reading the body past this many bytes.
    pub max_response_bytes: usize,
}

/// An outbound call's answer. Header names are lower-case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body, at most the requested number of bytes.
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// First value of header `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why an outbound call produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// No complete answer within the timeout.
    Timeout,
    /// Connection failure or a broken stream.
    Network(String),
    /// The body passed the size limit.
    TooLarge,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Network(why) => write!(f, "network error: {why}"),
            Self::TooLarge => f.write_str("response body too large"),
        }
    }
}

/// Sends outbound HTTP requests (the worker's `fetch`).
#[allow(async_fn_in_trait)]
pub trait HttpClient {
    /// Sends `req` and reads the whole answer within its timeout and size limit. By
    /// reference: a retry sends the same request again.
    async fn send(&self, req: &OutboundRequest) -> Result<OutboundResponse, TransportError>;
}

/// What the core needs from the runtime besides HTTP and KV: a clock for durations, sleep
/// for retry backoff, randomness for jitter, and the log.
#[allow(async_fn_in_trait)]
pub trait Platform {
    /// Milliseconds since the Unix epoch. Validation never calls this: the handler reads it
    /// once and passes `now` down.
    fn now_ms(&self) -> u64;
    /// Waits `ms` milliseconds.
    async fn sleep(&self, ms: u32);
    /// A random number (jitter only; not for secrets).
    fn random_u32(&self) -> u32;
    /// Writes one log line at `level`.
    fn log(&self, level: LogLevel, line: &str);
}

/// How serious a log line is. Workers Logs takes a line's level from the console method that
/// wrote it (`console.log`, `console.warn`, `console.error`) and filters by it
/// (docs/operations.md). The discriminant is what the runtime glue passes to JavaScript.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// `console.log`: an answer below 400, a prewarm that renewed everything.
    Info = 0,
    /// `console.warn`: a 4xx answer (the request was refused), a deployment notice.
    Warn = 1,
    /// `console.error`: a 5xx answer (the worker, its configuration or a service it calls
    /// failed), a prewarm that failed.
    Error = 2,
}

impl LogLevel {
    /// The level of the log line of an answer with `status`.
    #[must_use]
    pub const fn of_status(status: u16) -> Self {
        match status {
            500.. => Self::Error,
            400..=499 => Self::Warn,
            _ => Self::Info,
        }
    }
}
