// The isolate is set up when its module is evaluated, before any request (src/runtime/entry.js,
// `prepare_isolate`): the configuration is read and checked then, so its work and V8's
// compiling of its reader are not paid by the first request a user waits for. Seen from
// outside in bare workerd (no wrangler dev, which sends nothing either): a broken
// configuration is reported on stderr before any request, and a good one answers its first
// request as always.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { bundle, startKv, startWorkerd, waitAccepting } from "../../bench/harness.mjs";
import { ROOT } from "../../dev/worker.mjs";

const out = mkdtempSync(path.join(os.tmpdir(), "edge-attest-startup-"));
after(() => rmSync(out, { recursive: true, force: true }));
const b = bundle(path.join(ROOT, "tests/integration/wrangler.toml"), path.join(out, "bundle"));

async function started(vars) {
  const kv = await startKv();
  const w = await startWorkerd({ name: "startup", bundle: b, vars, kvPort: kv.port, workdir: out });
  await waitAccepting(w);
  await new Promise((r) => setTimeout(r, 300));
  return { w, kv, stop: async () => (await w.stop(), await kv.close()) };
}

const VARS = {
  SUPABASE_URL: "https://abcdefghijklmnopqrst.supabase.co",
  STYTCH_PROJECT_ID: "project-test-11111111-2222-3333-4444-555555555555",
  STYTCH_SECRET: "secret-test-startup",
  STYTCH_PROFILE_ID: "trusted-auth-token-profile-test-startup",
};

test("a broken configuration is reported when the module loads, before any request", async () => {
  const { w, stop } = await started({ ...VARS, SUPABASE_URL: "http://not-loopback.example" });
  try {
    const before = w.stderr();
    assert.match(before, /\{"config_error":"SUPABASE_URL: must use https/, "logged at start-up, with no request sent");
    assert.equal(before.match(/config_error/g).length, 1);
    const res = await fetch(`${w.url}/healthz`);
    assert.equal(res.status, 500);
    assert.equal((await res.json()).error, "misconfigured");
    assert.equal(w.stderr().match(/"config_error"/g).length, 1, "once per isolate, not again on the request");
  } finally {
    await stop();
  }
});

test("a good configuration logs nothing at start-up, and the first request is answered", async () => {
  const { w, stop } = await started(VARS);
  try {
    assert.doesNotMatch(w.stderr(), /config_error|Uncaught|Error/);
    const res = await fetch(`${w.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ok");
  } finally {
    await stop();
  }
});
