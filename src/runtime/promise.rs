//! Awaiting a JavaScript promise without creating closures per await.
//!
//! `wasm_bindgen_futures::JsFuture` makes two wasm-bindgen closures for every promise (each
//! a JS function registered with a `FinalizationRegistry`), which showed up as extra
//! garbage-collection time under load. Here one closure is registered per isolate; each
//! promise is watched by two plain JS arrow functions that report `(slot, value, ok)` to it,
//! and the Rust future reads its slot.

use crate::runtime::task;
use js_sys::Promise;
use std::cell::{OnceCell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::JsValue;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/runtime/promise.js")]
extern "C" {
    /// Registers the callbacks, noting a trap in them for src/runtime/entry.js. Each `watch` keeps
    /// the `settle` current when it started, so that after a panic and a fresh instance a
    /// late promise of the old instance never reports into the new one's slots (the old
    /// closure refuses to run).
    fn set_callbacks(settle: &SettleFn, drain: &DrainFn);
    fn watch(p: &Promise, slot: u32);
    /// Calls [`task::drain`] from a promise reaction: a microtask without `queueMicrotask`.
    fn schedule_drain();
}

/// The one closure through which every watched promise reports.
type SettleFn = Closure<dyn FnMut(u32, JsValue, bool)>;
type DrainFn = Closure<dyn FnMut()>;

#[derive(Default)]
struct Slot {
    result: Option<Result<JsValue, JsValue>>,
    waker: Option<Waker>,
    /// The future was dropped before the promise settled: free the slot when it does.
    abandoned: bool,
}

#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

thread_local! {
    static SLOTS: RefCell<Slots> = RefCell::default();
    static CALLBACKS: OnceCell<(SettleFn, DrainFn)> = const { OnceCell::new() };
}

/// Registers the per-isolate callbacks (once): promise settlements and the task scheduler.
pub fn init() {
    CALLBACKS.with(|cell| {
        cell.get_or_init(|| {
            let settle = Closure::new(settle as fn(u32, JsValue, bool));
            let drain = Closure::new(task::drain as fn());
            set_callbacks(&settle, &drain);
            task::set_scheduler(schedule_drain);
            (settle, drain)
        });
    });
}

/// A watched promise settled: record the outcome and poll the task waiting for it, all
/// inside this callback (see [`task::callback`]).
fn settle(slot: u32, value: JsValue, ok: bool) {
    task::callback(|| settle_slot(slot, value, ok));
}

fn settle_slot(slot: u32, value: JsValue, ok: bool) {
    let waker = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        let entry = s.slots.get_mut(slot as usize)?;
        if entry.abandoned {
            *entry = Slot::default();
            s.free.push(slot);
            return None;
        }
        entry.result = Some(if ok { Ok(value) } else { Err(value) });
        entry.waker.take()
    });
    if let Some(w) = waker {
        w.wake();
    }
}

/// The message of a JS error or rejection reason, for logs and error details.
pub fn js_message(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &"message".into())
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| "unknown error".into())
}

/// A promise's outcome, as a future.
#[derive(Debug)]
pub struct Settled {
    slot: u32,
    done: bool,
}

/// Awaits `promise`: `Ok(value)` when it fulfils, `Err(reason)` when it rejects.
pub fn settled(promise: &Promise) -> Settled {
    init();
    let slot = SLOTS.with(|s| {
        let mut s = s.borrow_mut();
        match s.free.pop() {
            Some(slot) => slot,
            None => {
                s.slots.push(Slot::default());
                u32::try_from(s.slots.len() - 1).unwrap_or(u32::MAX)
            }
        }
    });
    watch(promise, slot);
    Settled { slot, done: false }
}

impl Future for Settled {
    type Output = Result<JsValue, JsValue>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let slot = self.slot;
        let ready = SLOTS.with(|s| {
            let mut s = s.borrow_mut();
            let entry = s.slots.get_mut(slot as usize)?;
            match entry.result.take() {
                Some(result) => {
                    *entry = Slot::default();
                    s.free.push(slot);
                    Some(result)
                }
                None => {
                    entry.waker = Some(cx.waker().clone());
                    None
                }
            }
        });
        match ready {
            Some(result) => {
                self.done = true;
                Poll::Ready(result)
            }
            None => Poll::Pending,
        }
    }
}

impl Drop for Settled {
    fn drop(&mut self) {
        if !self.done {
            SLOTS.with(|s| {
                if let Some(entry) = s.borrow_mut().slots.get_mut(self.slot as usize) {
                    entry.abandoned = true;
                    entry.waker = None;
                }
            });
        }
    }
}
