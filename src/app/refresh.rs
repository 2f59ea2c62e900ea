//! The session refreshes under way in an isolate, which other requests of the same session
//! wait for rather than refreshing too. A page load fires several requests with the same
//! expired session JWT at once; they share one `sessions/authenticate` instead of one each
//! (which would spend the project's Stytch quota and the user's rate limit on duplicates).

use super::Failure;
use crate::http::flight::Flight;
use crate::stytch::api::{self as stytch, Attested};
use std::cell::RefCell;
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

/// The session refreshes under way in this isolate, by session token. A page load fires
/// several requests with the same expired session JWT at once; they share one
/// `sessions/authenticate` instead of one each (which would spend the project's Stytch quota
/// and the user's rate limit on duplicates). In memory only, for as long as the call lasts.
#[derive(Debug, Default)]
pub struct Refreshes {
    under_way: RefCell<Vec<(String, Rc<RefreshFlight>)>>,
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
/// request that ended first get a transport error, and answer 503) and forgotten.
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

/// A refresh that did not happen, as waiters see it: a transport failure (503, cookies kept).
pub(super) fn refresh_failed(why: &str) -> stytch::Call<Attested> {
    stytch::Call {
        result: Err(stytch::StytchError::Network(why.into())),
        request_id: None,
        attempts: 0,
    }
}
