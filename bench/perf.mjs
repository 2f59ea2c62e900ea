// `make profile`: where a worker's CPU goes, the whole workerd process included (the runtime's
// C++, the kernel, the WASM and JS code), sampled with Linux `perf` under the benchmark's
// load (c=16, or PROFILE_CONNECTIONS) for edge-attest, the jose reference and the runtime floor side by side.
// Prints µs per exchange by category and the hottest functions of edge-attest's own code.
// Needs `perf` (Debian: linux-perf) and a build with symbol names in build-prof/ (the
// Makefile target builds it). `node bench/profile.mjs` is the V8-only (inspector) profile.
// PROFILE_GATEWAY=1: the auth gateway instead (GET /app/x with a live session, PROTECT to a
// minimal app server here), beside the gateway's runtime floor (bench/gateway-floor-worker).
//
// This is how the costs in docs/benchmarks.md were found: workerd's `queueMicrotask` behind
// wasm-bindgen-futures' executor, the per-request WorkerEntrypoint class of worker-build's
// entry, the boundary crossings per header.
import autocannon from "autocannon";
import http from "node:http";
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, cpuSeconds, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

const SECONDS = Number(process.env.PROFILE_SECONDS ?? 4);
const CONNECTIONS = Number(process.env.PROFILE_CONNECTIONS ?? 16);
const out = path.join(ROOT, "bench", "out", "perf");
try {
  execFileSync("perf", ["--version"], { stdio: "ignore" });
} catch {
  console.error("perf is not installed (Debian: apt-get install linux-perf)");
  process.exit(1);
}
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, "ours.toml"), `name = "prof"\nmain = "../../../build-prof/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
const GATEWAY = Boolean(process.env.PROFILE_GATEWAY);
const configs = { ours: path.join(out, "ours.toml"), jose: "bench/jose-worker/wrangler.toml", floor: GATEWAY ? "bench/gateway-floor-worker/wrangler.toml" : "bench/floor-worker/wrangler.toml" };

// Leaf-symbol categories, first match wins.
const CATEGORIES = [
  ["signature check (BoringSSL)", /nistz256|ecp_|beeu_|bn_|sha256|SHA256|ECDSA|rsaz_|RSA_/],
  ["WASM and JS code (JIT)", /^(JS:|Stub:)/],
  ["V8 builtins (promises, API calls, interpreter)", /^Builtins_/],
  ["garbage collection", /v8::internal::(Heap|Scavenger|MarkCompact|Minor|Marking|Sweeper|GlobalHandles|Evacuat|ConcurrentMarking|IncrementalMarking|MemoryChunk|PagedSpace|Young|Remembered|SlotSet)|cppgc|HeapTracer/],
  ["malloc", /tcmalloc|TCMalloc|malloc|cfree|^free/],
  ["other V8", /v8::|v8_/],
  ["workerd runtime (jsg, api, IoContext)", /workerd::|edgeworker/],
  ["HTTP and event loop (kj, hyper, tokio)", /kj::|kj_|capnp|hyper|tokio|mio|httparse|h2::|bytes::/],
];

async function profile(name, env) {
  const b = bundle(configs[name], path.join(out, name));
  const w = await startWorkerd({ name, bundle: b, vars: env.vars, kvPort: name === "ours" ? env.kv.port : null, workdir: out, v8Flags: ["--perf-basic-prof"] });
  const request = GATEWAY
    ? { url: `${w.url}/app/x`, method: "GET", headers: { cookie: env.cookie } }
    : { url: `${w.url}/api/exchange`, method: "POST", headers: { "content-type": "application/json" }, body: env.body };
  const load = (duration) =>
    new Promise((res, rej) => autocannon({ ...request, connections: CONNECTIONS, duration }, (e, r) => (e ? rej(e) : res(r))));
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(request.url, request);
      await r.arrayBuffer();
      if (r.status === 200) break;
    } catch {}
    if (i > 300) throw new Error(`${name} did not start:\n${w.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  await load(2);
  const data = path.join(out, `${name}.data`);
  const perf = spawn("perf", ["record", "-q", "-F", "2000", "-g", "-o", data, "-p", String(w.pid), "--", "sleep", String(SECONDS)], { stdio: "ignore" });
  const cpu0 = cpuSeconds(w.pid);
  const r = await load(SECONDS);
  const usPerExchange = ((cpuSeconds(w.pid) - cpu0) * 1e6) / r["2xx"];
  await new Promise((res) => perf.once("exit", res));
  await w.stop();
  const script = execFileSync("perf", ["script", "-i", data, "-F", "ip,sym,dso"], { maxBuffer: 1 << 30 }).toString();
  const samples = script.split("\n\n").map((block) =>
    block
      .split("\n")
      .map((l) => l.trim().replace(/^[0-9a-f]+ /, ""))
      .filter(Boolean),
  ).filter((s) => s.length);
  return { usPerExchange, samples, errors: r.non2xx + r.errors };
}

const clean = (frame) => frame.replace(/ \((.*)\)$/, "").replace(/::h[0-9a-f]{16}/g, "").replace(/-\d+-(turbofan|liftoff|maglev|sparkplug)$/, "");
function categorise({ samples, usPerExchange }) {
  const us = usPerExchange / samples.length;
  const by = Object.fromEntries([...CATEGORIES.map(([c]) => [c, 0]), ["kernel", 0], ["other", 0]]);
  for (const s of samples) {
    const leaf = s[0];
    if (leaf.includes("[kernel.kallsyms]")) {
      by.kernel += us;
      continue;
    }
    const sym = clean(leaf);
    const hit = CATEGORIES.find(([, re]) => re.test(sym));
    by[hit ? hit[0] : "other"] += us;
  }
  return by;
}

const supabase = await startSupabase();
const stytch = await startStytchStub();
const kv = await startKv();
const appServer = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end("ok"));
});
await new Promise((r) => appServer.listen(0, "127.0.0.1", r));
const token = await supabase.mint({ alg: "ES256", expiresIn: 6 * 3600 });
const env = {
  kv,
  body: JSON.stringify({ access_token: token }),
  cookie: await stytch.sessionCookie(token),
  vars: {
    SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: "project-test-bench", STYTCH_SECRET: "secret-test-bench", STYTCH_PROFILE_ID: "p", STYTCH_API_BASE: stytch.url,
    ...(GATEWAY ? { PROTECT: JSON.stringify([{ path: "/app/*", upstream: `http://127.0.0.1:${appServer.address().port}` }]) } : {}),
  },
};
const runs = {};
for (const name of GATEWAY ? ["ours", "floor"] : ["ours", "jose", "floor"]) {
  console.log(`profiling ${name} …`);
  runs[name] = await profile(name, env);
}
await Promise.all([supabase.close(), stytch.close(), kv.close(), new Promise((r) => appServer.close(r))]);
if (GATEWAY) runs.jose = { usPerExchange: 0, samples: [] };

const cats = Object.fromEntries(Object.entries(runs).map(([n, r]) => [n, categorise(r)]));
console.log(`\nCPU µs per exchange by category (perf, ${SECONDS} s at c=${CONNECTIONS}; sampling adds some overhead, compare columns)`);
console.log(`  ${"category".padEnd(48)}${"ours".padStart(8)}${"jose".padStart(8)}${"floor".padStart(8)}`);
for (const c of Object.keys(cats.ours)) {
  console.log(`  ${c.padEnd(48)}${cats.ours[c].toFixed(0).padStart(8)}${cats.jose[c].toFixed(0).padStart(8)}${cats.floor[c].toFixed(0).padStart(8)}`);
}
console.log(`  ${"total".padEnd(48)}${runs.ours.usPerExchange.toFixed(0).padStart(8)}${runs.jose.usPerExchange.toFixed(0).padStart(8)}${runs.floor.usPerExchange.toFixed(0).padStart(8)}`);

// edge-attest's own code: JIT self time by function, and inclusive by Rust function.
const us = runs.ours.usPerExchange / runs.ours.samples.length;
const self = new Map();
const incl = new Map();
for (const s of runs.ours.samples) {
  if (!/^(JS:|Stub:)/.test(s[0])) continue;
  const leaf = clean(s[0]);
  self.set(leaf, (self.get(leaf) ?? 0) + us);
  for (const f of new Set(s.map(clean))) if (f.startsWith("JS:edge_attest::")) incl.set(f, (incl.get(f) ?? 0) + us);
}
const top = (m, n) => [...m].sort((a, b) => b[1] - a[1]).slice(0, n);
console.log("\nedge-attest's WASM/JS, self time (µs per exchange):");
for (const [f, v] of top(self, 20)) console.log(`  ${v.toFixed(1).padStart(6)}  ${f.slice(3, 140)}`);
console.log("\nedge-attest's Rust functions, WASM time spent in them and their callees (µs per exchange):");
for (const [f, v] of top(incl, 20)) console.log(`  ${v.toFixed(1).padStart(6)}  ${f.slice(3, 140)}`);
console.log(`\nperf data: ${path.relative(ROOT, out)}/{ours,jose,floor}.data (perf report -i …)`);
