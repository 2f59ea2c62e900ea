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
// bench/first-request-results.json. Then what V8 compiles, and with which tier, at start-up
// and on each first request, grouped by module (edge-attest's folders and each crate): from a
// traced process of build-prof/, the same code with the name section (`make size` builds it;
// FIRST_TRACE=0 skips this; FIRST_TOP=N also lists the N largest functions a first exchange
// compiles).
//   node bench/first-request.mjs       (after `make build`; uses build/ as it is)
import http from "node:http";
import path from "node:path";
import { existsSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { benchVars, bundle, startKv, startStytchStub, startWorkerd, waitAccepting } from "./harness.mjs";
import { moduleOf, readWasm } from "./wasm.mjs";

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
    await waitAccepting(w);
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

/**
 * One traced process of `b` (`--trace-wasm-compilation-times`: a line per function compiled,
 * with its index, tier and body size): what compiled by the time the module was loaded
 * (SETTLE_MS after it accepts) and during `request`, as [{index, tier, bytes}] per phase.
 */
async function tracedPhases(b, extraVars, request) {
  const kv = await startKv();
  const w = await startWorkerd({ name: "trace", bundle: b, vars: { ...vars, ...extraVars }, kvPort: kv.port, workdir: out, v8Flags: ["--trace-wasm-compilation-times", ...V8_FLAGS], keepStdout: true });
  try {
    await waitAccepting(w);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const startup = w.stdout().length;
    const res = await request(w.url);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`traced request: status ${res.status}\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
    const text = w.stdout();
    const parse = (slice) =>
      [...slice.matchAll(/^Compiled function \S*#(\d+) using (\w+), took \d+ .s and \d+ bytes; bodysize (\d+)/gm)].map((m) => ({ index: Number(m[1]), tier: m[2], bytes: Number(m[3]) }));
    return { startup: parse(text.slice(0, startup)), request: parse(text.slice(startup)) };
  } finally {
    await w.stop();
    await kv.close();
  }
}

let compiled = null;
const profDir = path.join(ROOT, "build-prof");
if (process.env.FIRST_TRACE !== "0") {
  if (!existsSync(path.join(profDir, "glue", "index_bg.wasm"))) {
    console.log("no build-prof/ (make size builds it): the compile split by module is skipped");
  } else {
    const { names } = readWasm(readFileSync(path.join(profDir, "glue", "index_bg.wasm")));
    writeFileSync(path.join(out, "prof.toml"), `name = "prof"\nmain = "../../../build-prof/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
    const prof = bundle(path.join(out, "prof.toml"), path.join(out, "b-prof"));
    const exchangeRun = await tracedPhases(prof, {}, exchange);
    const gatewayCookie = await stytch.sessionCookie(token);
    const gatewayRun = await tracedPhases(prof, { PROTECT }, (url) => fetch(`${url}/app/x`, { headers: { cookie: gatewayCookie } }));
    const phases = { "start-up": exchangeRun.startup, "first exchange": exchangeRun.request, "first gateway request": gatewayRun.request };
    const table = new Map();
    const tiers = {};
    for (const [phase, fns] of Object.entries(phases)) {
      for (const f of fns) {
        const m = moduleOf(names.get(f.index) ?? "");
        const row = table.get(m) ?? {};
        row[phase] = (row[phase] ?? 0) + f.bytes;
        table.set(m, row);
        const t = (tiers[phase] ??= {});
        t[f.tier] = (t[f.tier] ?? 0) + 1;
      }
    }
    const kb = (n) => ((n ?? 0) / 1024).toFixed(1).padStart(8);
    console.log(`what V8 compiles of build-prof (KB of function bodies), at start-up and on each first request:`);
    console.log(`  ${"start-up".padStart(8)} ${"exchange".padStart(8)} ${"gateway".padStart(8)}  module`);
    const total = (phase) => Object.values(phases[phase]).reduce((a, f) => a + f.bytes, 0);
    for (const [m, row] of [...table].sort((a, b) => (b[1]["first exchange"] ?? 0) - (a[1]["first exchange"] ?? 0))) {
      console.log(`  ${kb(row["start-up"])} ${kb(row["first exchange"])} ${kb(row["first gateway request"])}  ${m}`);
    }
    console.log(`  ${kb(total("start-up"))} ${kb(total("first exchange"))} ${kb(total("first gateway request"))}  all (${Object.entries(tiers).map(([p, t]) => `${p}: ${Object.entries(t).map(([k, n]) => `${n} ${k}`).join(", ")}`).join("; ")})`);
    // FIRST_TOP=N: the N largest functions a first exchange compiles, by name.
    const top = Number(process.env.FIRST_TOP ?? 0);
    if (top > 0) {
      console.log(`the ${top} largest functions a first exchange compiles (bytes of body):`);
      for (const f of [...phases["first exchange"]].sort((a, b) => b.bytes - a.bytes).slice(0, top)) {
        console.log(`  ${String(f.bytes).padStart(6)}  ${(names.get(f.index) ?? `#${f.index}`).slice(0, 150)}`);
      }
    }
    compiled = { tiers, by_module_bytes: Object.fromEntries(table) };
  }
}
writeFileSync(path.join(ROOT, "bench", `first-request-results${V8_FLAGS.length ? "-flags" : ""}.json`), JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, settle_ms: SETTLE_MS, v8_flags: V8_FLAGS, medians_ms: medians, compared, samples, compiled }, null, 1) + "\n");
await supabase.close?.();
await stytch.close?.();
appServer.close();
process.exit(0);
