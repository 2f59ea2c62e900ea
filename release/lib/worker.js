// The worker's own WASM, loaded in Node for `edge-attest check`: the configuration is checked
// by the code that runs in production (src/runtime/glue.rs `check_configuration`), not by a
// re-implementation. The glue imports the WASM the way wrangler's bundler wants it
// (`import wasmModule from "./index_bg.wasm"`, a compiled module); Node needs a loader hook
// for that, registered here (Node >= 20.6).

import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const HOOKS = `
import { readFile } from 'node:fs/promises';
export async function load(url, context, next) {
  if (!url.endsWith('.wasm')) return next(url, context);
  const bytes = await readFile(new URL(url));
  return {
    format: 'module',
    shortCircuit: true,
    source: 'export default new WebAssembly.Module(Buffer.from("' + bytes.toString('base64') + '", "base64"));',
  };
}`;

let registered = false;

/** The glue module's exports (`check_configuration` among them). */
export async function loadWorker(gluePath) {
  if (!registered) {
    register('data:text/javascript,' + encodeURIComponent(HOOKS), import.meta.url);
    registered = true;
  }
  return import(pathToFileURL(gluePath).href);
}

/**
 * What workers-rs accepts as a KV namespace binding (it checks the constructor's name). The
 * check needs only to know that wrangler.toml declares one; nothing is read or written.
 */
export class KvNamespace {}

/** A `[[ratelimits]]` binding as the worker sees it: an object with `limit()`. */
export function rateLimitBinding() {
  return { limit: async () => ({ success: true }) };
}
