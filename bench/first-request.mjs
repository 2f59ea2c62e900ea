// What the first request of an isolate pays once its module is loaded: the part of a cold
// start a user waits for, since Cloudflare starts the isolate while the TLS handshake of a new
// connection is still going (docs/benchmarks.md, "Cold start"). For each variant, a fresh
// `workerd serve` (and an empty KV), then, once its socket accepts and half a second has
// passed (the module evaluated, start-up work done), one request timed from the client:
//   ours/jose/floor exchange   a first POST /api/exchange (key set fetched, one Stytch call)
//   ours gateway               a first GET through PROTECT with a live session cookie
//                              (Stytch's session key set fetched, forwarded to an app)
// with the stand-ins answering at once, and the exchanges again with Stytch 100 ms away (its
// attest; key sets at once). FIRST_ROUNDS rounds (default 8), the order shuffled in each; prints medians,
// the median of same-round differences to jose (the excess in ms) and ratios. Writes
// bench/first-request-results.json.
//   node bench/first-request.mjs       (after `make build`; uses build/ as it is)
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { writeFileSync, rmSync } from "node:fs";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { benchVars, bundle, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

const ROUNDS = Number(process.env.FIRST_ROUNDS ?? 8);
// V8 flags for every process (an experiment: production's cannot be set), e.g.
// FIRST_V8_FLAGS=--no-wasm-lazy-compilation: the first request with all of the WASM compiled
// before it, what work done at start-up could at best take off it.
const V8_FLAGS = (process.env.FIRST_V8_FLAGS ?? "").split(" ").filter(Boolean);
const SETTLE_MS = 500;
const out = path.join(ROOT, "bench", "out", "first-request");
rmSync(out, { recursive: true, force: true });

const bundles = {
  ours: bundle("tests/integration/wrangler.toml", path.join(out, "ours")),
  jose: bundle("bench/jose-worker/wrangler.toml", path.join(out, "jose")),
  floor: bundle("bench/floor-worker/wrangler.toml", path.join(out, "floor")),
};

const supabase = await startSupabase();
const stytch = await startStytchStub();
const appServer = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end("ok"));
});
await new Promise((r) => appServer.listen(0, "127.0.0.1", r));
const PROTECT = JSON.stringify([{ path: "/app/*", upstream: `http://127.0.0.1:${appServer.address().port}` }]);
const vars = benchVars(supabase, stytch);
const token = await supabase.mint({ alg: "ES256", expiresIn: 6 * 3600 });
const body = JSON.stringify({ access_token: token });

const exchange = (url) => fetch(`${url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body });
const variants = {
  "ours exchange": { bundle: bundles.ours, kv: true, request: exchange },
  "jose exchange": { bundle: bundles.jose, request: exchange },
  "floor exchange": { bundle: bundles.floor, request: exchange },
  // A fresh session JWT for each (it lives five minutes), signed before the clock starts.
  "ours gateway": { bundle: bundles.ours, kv: true, vars: { PROTECT }, prepare: () => stytch.sessionCookie(token), request: (url, cookie) => fetch(`${url}/app/x`, { headers: { cookie } }) },
};

/** Milliseconds of the first request, sent SETTLE_MS after the fresh process accepts. */
async function firstRequest(name, v, stytchDelayMs) {
  stytch.stats.delayMs = stytchDelayMs;
  const kv = v.kv ? await startKv() : null;
  const w = await startWorkerd({ name: name.replace(/\W+/g, "-"), bundle: v.bundle, vars: { ...vars, ...v.vars }, kvPort: kv?.port ?? null, workdir: out, v8Flags: V8_FLAGS });
  try {
    const port = Number(new URL(w.url).port);
    for (let i = 0; ; i++) {
      const open = await new Promise((r) => {
        const s = net.connect(port, "127.0.0.1", () => (s.end(), r(true)));
        s.on("error", () => r(false));
      });
      if (open) break;
      if (i > 10_000) throw new Error(`${name} did not start:\n${w.stderr()}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const prepared = await v.prepare?.();
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const t0 = process.hrtime.bigint();
    const res = await v.request(w.url, prepared);
    await res.arrayBuffer();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (res.status !== 200) throw new Error(`${name}: status ${res.status}\n${w.stderr()}`);
    return ms;
  } finally {
    await w.stop();
    await kv?.close();
  }
}

const cases = [];
// The gateway request calls no Stytch API (only its key set): timed with Stytch at once only.
for (const delay of [0, 100]) for (const n of Object.keys(variants)) if (delay === 0 || n !== "ours gateway") cases.push({ key: `${n}, Stytch ${delay} ms`, n, delay });
const samples = Object.fromEntries(cases.map((c) => [c.key, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of [...cases].sort(() => Math.random() - 0.5)) samples[c.key].push(await firstRequest(c.n, variants[c.n], c.delay));
  process.stdout.write(`round ${round + 1}/${ROUNDS}\r`);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const medians = Object.fromEntries(Object.entries(samples).map(([k, xs]) => [k, median(xs)]));
console.log(`\nthe first request of an isolate whose module is loaded (${SETTLE_MS} ms after it accepts), ms, medians of ${ROUNDS} rounds:`);
for (const [k, v] of Object.entries(medians)) console.log(`  ${k.padEnd(34)} ${v.toFixed(1)}`);
const compared = {};
for (const delay of [0, 100]) {
  for (const n of ["ours exchange", "floor exchange", "ours gateway"]) {
    const a = samples[`${n}, Stytch ${delay} ms`];
    if (a === undefined) continue;
    const b = samples[`jose exchange, Stytch ${delay} ms`];
    compared[`${n} - jose exchange, Stytch ${delay} ms`] = { excess_ms: median(a.map((x, i) => x - b[i])), ratio: median(a.map((x, i) => x / b[i])) };
  }
}
console.log("against jose's first exchange (median of same-round differences and ratios):");
for (const [k, v] of Object.entries(compared)) console.log(`  ${k.padEnd(44)} ${v.excess_ms >= 0 ? "+" : ""}${v.excess_ms.toFixed(1)} ms  ${v.ratio.toFixed(2)}x`);
writeFileSync(path.join(ROOT, "bench", `first-request-results${V8_FLAGS.length ? "-flags" : ""}.json`), JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, settle_ms: SETTLE_MS, v8_flags: V8_FLAGS, medians_ms: medians, compared, samples }, null, 1) + "\n");
await supabase.close?.();
await stytch.close?.();
appServer.close();
process.exit(0);
