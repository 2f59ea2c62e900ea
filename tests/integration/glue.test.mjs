// The JavaScript half of the glue on its own, where its logic has rules of its own: the KV
// write after a response is made only over an entry fetched earlier (src/runtime/glue.js,
// kv_put_newer_later). The namespace is an in-memory one with Workers KV's get/put signature.
import { test } from "node:test";
import assert from "node:assert/strict";
import { kv_put_newer_later } from "../../src/runtime/glue.js";

function namespace(initial = {}) {
  const store = new Map(Object.entries(initial));
  const puts = [];
  return {
    store,
    puts,
    get: async (key, type) => (assert.equal(type, "text"), store.get(key) ?? null),
    put: async (key, value, opts) => (puts.push([key, opts.expirationTtl]), store.set(key, value)),
  };
}

async function write(ns, fetchedAt) {
  const pending = [];
  kv_put_newer_later({ waitUntil: (p) => pending.push(p) }, ns, "jwks:v2:u", JSON.stringify({ v: 2, fetched_at_ms: fetchedAt }), 4200, fetchedAt, 5000);
  assert.equal(pending.length, 1, "handed to waitUntil");
  await Promise.all(pending);
}

test("a fetch's entry is written over nothing, an older entry, or one that is not an entry", async () => {
  const now = Date.now();
  for (const held of [undefined, JSON.stringify({ fetched_at_ms: now - 1 }), "not json", JSON.stringify({ v: 2 })]) {
    const ns = namespace(held === undefined ? {} : { "jwks:v2:u": held });
    await write(ns, now);
    assert.deepEqual(ns.puts, [["jwks:v2:u", 4200]], String(held));
  }
});

test("an entry fetched as late is not overwritten; one claiming a time beyond the clock tolerance is", async () => {
  const now = Date.now();
  for (const [heldAt, written] of [[now, false], [now + 1000, false], [now + 60_000, true]]) {
    const ns = namespace({ "jwks:v2:u": JSON.stringify({ fetched_at_ms: heldAt }) });
    await write(ns, now);
    assert.equal(ns.puts.length, written ? 1 : 0, `held at now${heldAt >= now ? "+" : ""}${heldAt - now} ms`);
  }
});
