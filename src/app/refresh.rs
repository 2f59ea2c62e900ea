//! The session refreshes of an isolate: those under way, which other requests of the same
//! session wait for rather than refreshing too, and those just made, which a later request
//! with the same expired JWT is answered from. A page load fires several requests with the
//! same expired session JWT, at once or over a few hundred milliseconds; they share one
//! `sessions/authenticate` instead of one each (which would spend the project's Stytch quota
//! and the session's rate limit on duplicates).

use super::Failure;
use crate::gateway::MIN_JWT_SECS_LEFT;
use crate::http::flight::Flight;
use crate::jwt::token::UnverifiedToken;
use crate::stytch::api::{self as stytch, Attested};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// At most this many refreshes are shared at once per isolate; past that, a request refreshes
/// on its own (memory stays bounded whatever the traffic).
pub const MAX_SHARED_REFRESHES: usize = 64;
/// A request waiting for another's refresh checks its outcome this often (on a timer of its
/// own, see [`crate::http::flight`]); small next to a Stytch round trip.
pub(super) const REFRESH_POLL_MS: u32 = 10;
/// How long a waiter waits at most: every attempt's timeout, the backoff between them, and a
/// margin for timer slack. The refreshing request's own timeouts end it sooner.
pub(super) const REFRESH_WAIT_MS: u32 = stytch::TIMEOUT_MS * stytch::MAX_ATTEMPTS
    + stytch::BACKOFF_MIN_MS
    + stytch::BACKOFF_JITTER_MS
    + 500;

/// One refresh under way, and its outcome once known: Stytch's answer, or the rate limit that
/// refused it (which refuses the waiters of the same session too).
pub(super) type RefreshFlight = Flight<Result<stytch::Call<Attested>, Failure>>;

/// At most this many refreshes are remembered per isolate (the oldest goes first): each
/// holds a session's new token and JWT (about 2 KB), so memory stays under a megabyte, and a
/// page's requests come within seconds of each other, long before a few hundred other
/// sessions have refreshed in the same isolate.
pub const MAX_REMEMBERED_REFRESHES: usize = 256;

/// A refresh just made: Stytch's answer, for the requests that still carry the JWT it
/// replaced.
#[derive(Debug)]
struct Remembered {
    /// The session token the refresh was made with.
    token: String,
    /// The signature of the session JWT it replaced: names that very JWT (it verified).
    replaced: String,
    answer: Attested,
    /// Unix seconds after which the answer is not given: when its JWT has
    /// [`MIN_JWT_SECS_LEFT`] left, as a request carrying it would then refresh too.
    until: i64,
}

/// The session refreshes of this isolate: under way, by session token, and just made, by
/// session token and replaced JWT. In memory only; failures are never remembered.
#[derive(Debug, Default)]
pub struct Refreshes {
    under_way: RefCell<Vec<(String, Rc<RefreshFlight>)>>,
    remembered: RefCell<VecDeque<Remembered>>,
}

/// The signature segment of a compact JWT (what names it, once it has verified).
fn signature_of(jwt: &str) -> &str {
    jwt.rsplit('.').next().unwrap_or(jwt)
}

impl Refreshes {
    /// The refresh of `token` another request is making, if any.
    pub(super) fn joinable(&self, token: &str) -> Option<Rc<RefreshFlight>> {
        self.under_way
            .borrow()
            .iter()
            .find(|(t, _)| t == token)
            .map(|(_, f)| Rc::clone(f))
    }

    /// The answer of a refresh made moments ago with `token`, for a request that still carries
    /// the JWT it replaced, `old_jwt`, while the new JWT has [`MIN_JWT_SECS_LEFT`] left at
    /// `now` (Unix seconds).
    pub(super) fn remembered(&self, token: &str, old_jwt: &str, now: i64) -> Option<Attested> {
        let replaced = signature_of(old_jwt);
        let mut remembered = self.remembered.borrow_mut();
        remembered.retain(|r| r.until > now);
        remembered
            .iter()
            .find(|r| r.token == token && r.replaced == replaced)
            .map(|r| r.answer.clone())
    }

    /// Keeps a successful refresh of `token`, which replaced `old_jwt`, for the requests that
    /// still carry that JWT: until its new JWT (whose `exp` Stytch wrote) has
    /// [`MIN_JWT_SECS_LEFT`] left, never past the session's end. Not kept when that `exp`
    /// cannot be read.
    pub(super) fn remember(&self, token: &str, old_jwt: &str, answer: &Attested, now: i64) {
        let Some(exp) = UnverifiedToken::parse(&answer.session_jwt)
            .ok()
            .and_then(|t| t.unverified_expiry())
        else {
            return;
        };
        let until = exp
            .saturating_sub(MIN_JWT_SECS_LEFT)
            .min(answer.expires_at_unix);
        if until <= now {
            return;
        }
        let mut remembered = self.remembered.borrow_mut();
        remembered.retain(|r| r.until > now && r.token != token);
        while remembered.len() >= MAX_REMEMBERED_REFRESHES {
            remembered.pop_front();
        }
        remembered.push_back(Remembered {
            token: token.to_owned(),
            replaced: signature_of(old_jwt).to_owned(),
            answer: answer.clone(),
            until,
        });
    }

    /// Forgets every refresh of the session `session_id` (it was just revoked).
    pub(super) fn forget_session(&self, session_id: &str) {
        self.remembered
            .borrow_mut()
            .retain(|r| r.answer.session_id != session_id);
    }

    /// How many refreshes are remembered (the soak and tests read it).
    pub fn remembered_count(&self) -> usize {
        self.remembered.borrow().len()
    }

    /// Registers this request's refresh of `token` for others to wait for; `None` when
    /// [`MAX_SHARED_REFRESHES`] are already under way.
    pub(super) fn start<'r>(&'r self, token: &str) -> Option<RefreshGuard<'r>> {
        let mut under_way = self.under_way.borrow_mut();
        if under_way.len() >= MAX_SHARED_REFRESHES {
            return None;
        }
        let flight = Rc::new(Flight::default());
        under_way.push((token.to_owned(), Rc::clone(&flight)));
        Some(RefreshGuard {
            refreshes: self,
            flight,
        })
    }
}

/// Held by the refreshing request: however it ends, its flight is finished (waiters of a
/// request that ended first get a transport error, and answer 502 `upstream_error`) and forgotten.
pub(super) struct RefreshGuard<'r> {
    refreshes: &'r Refreshes,
    flight: Rc<RefreshFlight>,
}

impl RefreshGuard<'_> {
    pub(super) fn finish(self, outcome: &Result<stytch::Call<Attested>, Failure>) {
        self.flight.finish(outcome.clone());
    }
}

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        self.flight.finish_unless_finished(|| {
            Ok(refresh_failed(
                "the request refreshing the session ended first",
            ))
        });
        self.refreshes
            .under_way
            .borrow_mut()
            .retain(|(_, f)| !Rc::ptr_eq(f, &self.flight));
    }
}

/// A refresh that did not happen, as waiters see it: a transport failure (502 `upstream_error`, cookies kept).
pub(super) fn refresh_failed(why: &str) -> stytch::Call<Attested> {
    stytch::Call {
        result: Err(stytch::StytchError::Network(why.into())),
        request_id: None,
        attempts: 0,
    }
}
