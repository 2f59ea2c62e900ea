//! Single flight: one call under way that other requests of the isolate wait for instead of
//! making their own (the key cache's fetches and KV reads, the gateway's session refreshes).
//!
//! A waiter polls the outcome on a timer of its own rather than being woken by the request
//! making the call: in the Workers runtime a request's code must run in that request's own
//! context, and a wake-up from another request would resume the waiter in the caller's
//! (workerd cancels such continuations and the waiter hangs). The caller holds the flight
//! through a guard that finishes it however the caller ends, so waiters never wait for
//! nothing, and every wait is bounded besides.

use super::Platform;
use std::cell::RefCell;

/// One call under way, and its outcome once known.
#[derive(Debug)]
pub struct Flight<T> {
    outcome: RefCell<Option<T>>,
}

impl<T> Default for Flight<T> {
    fn default() -> Self {
        Self {
            outcome: RefCell::new(None),
        }
    }
}

impl<T: Clone> Flight<T> {
    /// Records the outcome every waiter gets.
    pub fn finish(&self, outcome: T) {
        *self.outcome.borrow_mut() = Some(outcome);
    }

    /// Finishes the flight with `outcome()` unless it already has an outcome: what a caller's
    /// guard does when the caller ends, however it ends, so that no waiter waits for nothing.
    pub fn finish_unless_finished(&self, outcome: impl FnOnce() -> T) {
        let mut held = self.outcome.borrow_mut();
        if held.is_none() {
            *held = Some(outcome());
        }
    }

    /// The outcome, checked every `poll_ms` on the waiter's own timer; after `limit_ms`
    /// without one, `gave_up()`.
    pub async fn outcome<P: Platform>(
        &self,
        platform: &P,
        poll_ms: u32,
        limit_ms: u32,
        gave_up: impl FnOnce() -> T,
    ) -> T {
        let mut waited = 0;
        loop {
            if let Some(outcome) = self.outcome.borrow().clone() {
                return outcome;
            }
            if waited > limit_ms {
                return gave_up();
            }
            platform.sleep(poll_ms).await;
            waited += poll_ms;
        }
    }
}
