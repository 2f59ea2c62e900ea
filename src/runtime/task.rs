//! Runs a request's future to completion without `wasm-bindgen-futures`' executor.
//!
//! That executor polls every woken future from a `queueMicrotask` callback. In workerd
//! `queueMicrotask` is a runtime API that wraps each callback in a native function object
//! and calls it back from C++: measured with `perf`, about 60 µs per exchange for the three
//! or four wake-ups a request needs, as much as the ES256 signature check.
//!
//! Here a wake only queues the task. Queued tasks are polled when the JS callback that woke
//! them returns into [`callback`] (the glue runs every promise settlement through it, so an
//! awaited promise costs no extra turn of the event loop), or, for a wake from elsewhere (a
//! timer, a `wasm-bindgen-futures` promise), from one microtask scheduled with the function
//! given to [`set_scheduler`]. Polling never happens inside `wake` itself: futures such as
//! `worker::Delay` wake before they record that they are ready. The first poll happens in
//! [`start`], so a request that needs no I/O (`/healthz`, a refused Origin, a malformed
//! token) is answered synchronously.
//!
//! Runtime-free: the glue decides how a late result reaches JavaScript (a promise it
//! resolves) and how a microtask is scheduled; the tests drive it natively.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

type BoxedFuture = Pin<Box<dyn Future<Output = ()>>>;

#[derive(Default)]
struct Slot {
    /// The task's future; `None` while it is being polled or once it has finished.
    future: Option<BoxedFuture>,
    /// Bumped when the slot is reused, so a waker kept past its task's end wakes nothing.
    generation: u32,
    /// Already in `READY`: a second wake before the poll adds nothing.
    queued: bool,
}

thread_local! {
    static TASKS: RefCell<Vec<Slot>> = const { RefCell::new(Vec::new()) };
    static FREE: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    static READY: RefCell<Vec<(usize, u32)>> = const { RefCell::new(Vec::new()) };
    /// Inside [`callback`]: queued tasks are polled before it returns.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
    /// A microtask that will call [`drain`] is already scheduled.
    static SCHEDULED: Cell<bool> = const { Cell::new(false) };
    static SCHEDULER: Cell<Option<fn()>> = const { Cell::new(None) };
}

/// Sets how a wake from outside [`callback`] gets its task polled: `schedule` must arrange
/// for [`drain`] to be called soon (in the glue, one promise reaction).
pub fn set_scheduler(schedule: fn()) {
    SCHEDULER.with(|s| s.set(Some(schedule)));
}

/// Wakes one task. `Send + Sync` only because [`Waker`] demands it: it holds two integers,
/// and the slab it indexes is thread-local.
struct TaskWaker {
    index: usize,
    generation: u32,
}

impl Wake for TaskWaker {
    fn wake(self: Arc<Self>) {
        enqueue(self.index, self.generation);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        enqueue(self.index, self.generation);
    }
}

fn enqueue(index: usize, generation: u32) {
    let fresh = TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        match tasks.get_mut(index) {
            Some(slot) if slot.generation == generation && !slot.queued => {
                slot.queued = true;
                true
            }
            _ => false,
        }
    });
    if !fresh {
        return;
    }
    READY.with(|r| r.borrow_mut().push((index, generation)));
    if !IN_CALLBACK.with(Cell::get)
        && !SCHEDULED.with(|s| s.replace(true))
        && let Some(schedule) = SCHEDULER.with(Cell::get)
    {
        schedule();
    }
}

/// Runs `f`, the body of a JS callback into WASM, then polls every task it woke (and every
/// task those polls woke) before returning.
pub fn callback<R>(f: impl FnOnce() -> R) -> R {
    let outer = IN_CALLBACK.with(|c| c.replace(true));
    let result = f();
    if !outer {
        while let Some((index, generation)) = READY.with(|r| r.borrow_mut().pop()) {
            poll_task(index, generation);
        }
        IN_CALLBACK.with(|c| c.set(false));
    }
    result
}

/// Polls the tasks woken outside a [`callback`]; what the scheduler's microtask calls.
pub fn drain() {
    SCHEDULED.with(|s| s.set(false));
    callback(|| ());
}

fn poll_task(index: usize, generation: u32) {
    // Take the future out so that no borrow of the slab is held while it runs.
    let taken = TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        let slot = tasks
            .get_mut(index)
            .filter(|s| s.generation == generation)?;
        slot.queued = false;
        slot.future.take()
    });
    let Some(mut future) = taken else {
        return;
    };
    let waker = Waker::from(Arc::new(TaskWaker { index, generation }));
    let mut cx = Context::from_waker(&waker);
    // A finished future is dropped here, before the slab is borrowed again: dropping it
    // may run code of its own.
    let unfinished = match future.as_mut().poll(&mut cx) {
        Poll::Ready(()) => None,
        Poll::Pending => Some(future),
    };
    TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        let Some(slot) = tasks.get_mut(index) else {
            return;
        };
        match unfinished {
            None => {
                slot.generation = slot.generation.wrapping_add(1);
                slot.queued = false;
                FREE.with(|f| f.borrow_mut().push(index));
            }
            Some(future) => slot.future = Some(future),
        }
    });
}

/// Where a task's result goes: kept for the caller of [`start`], or handed to the callback
/// set with [`Pending::on_done`].
enum Delivery<T> {
    Waiting,
    Ready(T),
    Callback(Box<dyn FnOnce(T)>),
}

/// Starts `future` and polls it once, at once.
pub fn start<T: 'static>(future: impl Future<Output = T> + 'static) -> Started<T> {
    let delivery = Rc::new(RefCell::new(Delivery::Waiting));
    let task: BoxedFuture = {
        let delivery = Rc::clone(&delivery);
        Box::pin(async move {
            let value = future.await;
            let previous = delivery.replace(Delivery::Waiting);
            match previous {
                Delivery::Callback(deliver) => deliver(value),
                Delivery::Waiting | Delivery::Ready(_) => {
                    *delivery.borrow_mut() = Delivery::Ready(value);
                }
            }
        })
    };
    let (index, generation) = TASKS.with(|tasks| {
        let mut tasks = tasks.borrow_mut();
        let index = FREE.with(|f| f.borrow_mut().pop()).unwrap_or_else(|| {
            tasks.push(Slot::default());
            tasks.len() - 1
        });
        let generation = tasks.get_mut(index).map_or(0, |slot| {
            slot.future = Some(task);
            slot.generation
        });
        (index, generation)
    });
    callback(|| enqueue(index, generation));
    let state = delivery.replace(Delivery::Waiting);
    match state {
        Delivery::Ready(value) => Started::Done(value),
        Delivery::Waiting | Delivery::Callback(_) => Started::Pending(Pending { delivery }),
    }
}

/// What [`start`] found after the first poll.
pub enum Started<T> {
    /// The future finished without waiting for anything.
    Done(T),
    /// The future is waiting; its result will go where [`Pending::on_done`] says.
    Pending(Pending<T>),
}

impl<T> std::fmt::Debug for Started<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Started::Done(_) => "Started::Done",
            Started::Pending(_) => "Started::Pending",
        })
    }
}

/// A started task that has not finished.
pub struct Pending<T> {
    delivery: Rc<RefCell<Delivery<T>>>,
}

impl<T> std::fmt::Debug for Pending<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

impl<T: 'static> Pending<T> {
    /// Hands the result to `deliver` when the task finishes. Nothing can poll the task
    /// between [`start`] returning and this call (both run in the same turn of a
    /// single-threaded event loop), so no result is missed.
    pub fn on_done(self, deliver: impl FnOnce(T) + 'static) {
        let previous = self.delivery.replace(Delivery::Waiting);
        match previous {
            Delivery::Ready(value) => deliver(value),
            Delivery::Waiting | Delivery::Callback(_) => {
                *self.delivery.borrow_mut() = Delivery::Callback(Box::new(deliver));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A future that is pending until `fire` is called, then ready with its value.
    #[derive(Clone, Default)]
    struct Trigger {
        state: Rc<RefCell<(Option<u32>, Option<Waker>)>>,
    }

    impl Trigger {
        fn fire(&self, value: u32) {
            let waker = {
                let mut s = self.state.borrow_mut();
                s.0 = Some(value);
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        }
        fn wait(&self) -> impl Future<Output = u32> + use<> {
            let state = Rc::clone(&self.state);
            std::future::poll_fn(move |cx| {
                let mut s = state.borrow_mut();
                match s.0.take() {
                    Some(v) => Poll::Ready(v),
                    None => {
                        s.1 = Some(cx.waker().clone());
                        Poll::Pending
                    }
                }
            })
        }
    }

    fn collect<T: 'static>(p: Pending<T>) -> Rc<RefCell<Option<T>>> {
        let out = Rc::new(RefCell::new(None));
        let sink = Rc::clone(&out);
        p.on_done(move |v| *sink.borrow_mut() = Some(v));
        out
    }

    #[test]
    fn a_future_without_waits_finishes_synchronously() {
        match start(async { 7 }) {
            Started::Done(v) => assert_eq!(v, 7),
            Started::Pending(_) => panic!("should be done"),
        }
    }

    #[test]
    fn a_waiting_future_is_polled_when_woken_and_delivers_once() {
        let t = Trigger::default();
        let w = t.wait();
        let Started::Pending(p) = start(async move { w.await + 1 }) else {
            panic!("should be pending");
        };
        let out = collect(p);
        assert_eq!(*out.borrow(), None);
        callback(|| t.fire(41));
        assert_eq!(*out.borrow(), Some(42));
    }

    #[test]
    fn several_waits_in_sequence() {
        let (a, b) = (Trigger::default(), Trigger::default());
        let (wa, wb) = (a.wait(), b.wait());
        let Started::Pending(p) = start(async move { wa.await * 10 + wb.await }) else {
            panic!("should be pending");
        };
        let out = collect(p);
        callback(|| a.fire(3));
        assert_eq!(*out.borrow(), None);
        callback(|| b.fire(4));
        assert_eq!(*out.borrow(), Some(34));
    }

    #[test]
    fn a_wake_during_its_own_poll_polls_again() {
        // The future wakes itself while being polled, as a future whose awaited value is
        // already there may do: the executor must poll again rather than drop the wake.
        let mut first = true;
        let fut = std::future::poll_fn(move |cx| {
            if first {
                first = false;
                cx.waker().wake_by_ref();
                Poll::Pending
            } else {
                Poll::Ready(5)
            }
        });
        match start(fut) {
            Started::Done(v) => assert_eq!(v, 5),
            Started::Pending(_) => panic!("the self-wake was lost"),
        }
    }

    #[test]
    fn a_stale_waker_does_not_poll_the_slots_next_task() {
        let t = Trigger::default();
        let w = t.wait();
        let Started::Pending(p) = start(w) else {
            panic!("should be pending");
        };
        let kept = t.state.borrow().1.clone();
        let out = collect(p);
        callback(|| t.fire(1));
        assert_eq!(*out.borrow(), Some(1));
        // The slot is reused by a new task; the old waker must not poll it.
        let polls = Rc::new(Cell::new(0));
        let counted = Rc::clone(&polls);
        let Started::Pending(_next) = start(std::future::poll_fn(move |_| {
            counted.set(counted.get() + 1);
            Poll::<()>::Pending
        })) else {
            panic!("should be pending");
        };
        assert_eq!(polls.get(), 1);
        if let Some(w) = kept {
            callback(|| w.wake());
        }
        assert_eq!(polls.get(), 1);
    }

    thread_local! {
        static SCHEDULED_DRAINS: Cell<u32> = const { Cell::new(0) };
    }

    #[test]
    fn a_wake_outside_a_callback_is_polled_by_one_scheduled_drain_not_inside_wake() {
        // Like worker::Delay: the timer callback wakes first and records that it is ready
        // afterwards, so polling inside `wake` would see it still pending and hang.
        set_scheduler(|| SCHEDULED_DRAINS.with(|n| n.set(n.get() + 1)));
        let ready = Rc::new(Cell::new(false));
        let slot: Rc<RefCell<Option<Waker>>> = Rc::default();
        let (r, w) = (Rc::clone(&ready), Rc::clone(&slot));
        let fut = std::future::poll_fn(move |cx| {
            if r.get() {
                Poll::Ready(9)
            } else {
                *w.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        });
        let Started::Pending(p) = start(fut) else {
            panic!("should be pending");
        };
        let out = collect(p);
        let waker = slot.borrow_mut().take().unwrap();
        waker.wake_by_ref();
        waker.wake_by_ref();
        ready.set(true);
        assert_eq!(*out.borrow(), None, "polled inside wake");
        assert_eq!(
            SCHEDULED_DRAINS.with(Cell::get),
            1,
            "one drain for two wakes"
        );
        drain();
        assert_eq!(*out.borrow(), Some(9));
    }
}
