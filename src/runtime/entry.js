// The worker's entry module, copied to build/index.js by scripts/build.sh next to the
// wasm-bindgen output in build/glue/.
//
// A plain handler object, not worker-build's default entry: that one exports a
// WorkerEntrypoint class, which workerd constructs for every request, behind Proxies that
// re-wrap each method on every access. Measured in workerd, it cost about 19 µs CPU per
// request (/healthz 125 -> 106 µs).
import { fetch, __wbg_reset_state } from "./glue/index.js";

// A Rust panic is a WASM trap (`panic = "abort"`), after which the module's memory may be
// half-updated. Whoever sees the RuntimeError (here, or the promise callbacks of
// src/runtime/promise.js) sets this flag, and the next request first replaces the instance with a
// fresh one. Requests still waiting on the old instance fail: its callbacks refuse to run
// once it is replaced, and the runtime answers them with an error.
const TRAPPED = Symbol.for("edge-attest.wasm-trapped");

export default {
  fetch(request, env, ctx) {
    if (globalThis[TRAPPED]) {
      globalThis[TRAPPED] = false;
      __wbg_reset_state();
      console.error(JSON.stringify({ wasm_reinitialized: "after a panic" }));
    }
    try {
      return fetch(request, env, ctx);
    } catch (e) {
      if (e instanceof WebAssembly.RuntimeError) globalThis[TRAPPED] = true;
      throw e;
    }
  },
};
