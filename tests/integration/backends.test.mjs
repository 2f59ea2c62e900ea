// The WebCrypto backend (what the worker verifies with) and the pure-Rust backend (what
// `cargo test` verifies with) must agree. This runs both inside workerd on the same
// signatures, through the test-only build (feature `selftest`, build-selftest/).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setup, json } from "./helpers.mjs";

const fixtures = JSON.parse(readFileSync(new URL("../fixtures/tokens.json", import.meta.url), "utf8"));
const token = (name) => fixtures.cases.find((c) => c.name === name).token;

let ctx;
before(async () => {
  ctx = await setup({ script: "build-selftest/index.js" });
});
after(async () => ctx?.close());

test("WebCrypto and pure-Rust backends agree on valid, high-S, tampered and zero signatures", async () => {
  const expectations = {
    valid_es256: true,
    valid_es256_high_s: true,
    valid_rs256: true,
    valid_eddsa: true,
    tampered_signature: false,
    tampered_payload: false,
    tampered_rs256: false,
    tampered_eddsa: false,
    signed_by_other_key: false,
    es256_r_s_zero: false,
    es256_r_zero: false,
    es256_s_zero: false,
    es256_s_equals_n: false,
    es256_r_above_n: false,
    es256_der_signature: false,
    rs256_short_signature: false,
  };
  const names = Object.keys(expectations);
  const res = await fetch(`${ctx.worker.url}/__selftest/backends`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jwks: fixtures.jwks, tokens: names.map(token) }),
  });
  const results = await json(res);
  assert.equal(res.status, 200);
  names.forEach((name, i) => {
    assert.deepEqual(results[i], { webcrypto: expectations[name], rust: expectations[name] }, name);
  });
});

test("the agreement holds for tokens the Supabase stand-in mints now", async () => {
  const tokens = [];
  for (const alg of ["ES256", "ES256", "ES256", "ES256", "RS256", "EdDSA"]) tokens.push(await ctx.supabase.mint({ alg }));
  const res = await fetch(`${ctx.worker.url}/__selftest/backends`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jwks: ctx.supabase.jwks(), tokens }),
  });
  for (const r of await json(res)) assert.deepEqual(r, { webcrypto: true, rust: true });
});

test("WebCrypto and the Rust backend tag KV entries alike (HKDF-SHA256, then HMAC-SHA256)", async () => {
  const messages = ["", "edge-attest key cache entry v2\n23:jwks:v2:https://a/jwks.json\n1\n2\n{}", "x".repeat(70_000)];
  for (const secret of ["secret-test-integration-NEVER-LOGGED", "0123456789abcdef0123456789abcdef", "ü"]) {
    const res = await fetch(`${ctx.worker.url}/__selftest/mac`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ secret, messages }),
    });
    const results = await json(res);
    assert.equal(results.length, messages.length);
    for (const r of results) {
      assert.match(r.webcrypto, /^[0-9a-f]{64}$/);
      assert.equal(r.webcrypto, r.rust, secret);
    }
  }
});

test("the shipped build has no self-test route", async () => {
  const plain = await setup();
  try {
    const res = await fetch(`${plain.worker.url}/__selftest/backends`, { method: "POST", body: "{}" });
    assert.equal(res.status, 404);
  } finally {
    await plain.close();
  }
});
