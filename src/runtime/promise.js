// JavaScript half of src/runtime/promise.rs, imported by wasm-bindgen: one settle callback per
// isolate for every awaited promise, and the microtask that drains the executor's queue.
let settle, drain;
const resolved = Promise.resolve();
const TRAPPED = Symbol.for('edge-attest.wasm-trapped');
const FAIL_IN_FLIGHT = Symbol.for('edge-attest.fail-in-flight');
function guarded(f) {
  return (...args) => {
    try {
      f(...args);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) {
        globalThis[TRAPPED] = true;
        globalThis[FAIL_IN_FLIGHT]?.();
      }
      throw e;
    }
  };
}
export function set_callbacks(s, d) { settle = guarded(s); drain = guarded(d); }
export function watch(p, slot) {
  const s = settle;
  p.then((v) => s(slot, v, true), (e) => s(slot, e, false));
}
export function schedule_drain() { resolved.then(drain); }
