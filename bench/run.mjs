// `make bench`: edge-attest (Rust/WASM) side by side with the jose reference worker, both
// bundled as `wrangler deploy` would upload them and run in a bare `workerd serve` (no
// wrangler proxy layers), against the same stand-ins on 127.0.0.1. Alternating A/B rounds;
// prints medians and ours/jose ratios, and writes bench/results.json. The runtime floor
// (bench/floor-worker: only the runtime calls the exchange cannot skip, no checks) runs in
// the same rounds, to show how much of each worker's CPU is the runtime's.
//   BENCH_ROUNDS (default 5), BENCH_SECONDS per measurement (default 3),
//   BENCH_SKIP_BUILD=1 to measure build/ as it is (e.g. a build with other settings)
import autocannon from "autocannon";
import { execFileSync } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, cpuSeconds, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = [1, 16, 64];
const out = path.join(ROOT, "bench", "out");

if (!process.env.BENCH_SKIP_BUILD) {
  console.log("building edge-attest (release) …");
  execFileSync("bash", [path.join(ROOT, "scripts/build.sh")], { cwd: ROOT, stdio: ["ignore", "inherit", "inherit"] });
}
rmSync(out, { recursive: true, force: true });
const bundles = {
  ours: bundle("tests/integration/wrangler.toml", path.join(out, "ours")),
  jose: bundle("bench/jose-worker/wrangler.toml", path.join(out, "jose")),
  floor: bundle("bench/floor-worker/wrangler.toml", path.join(out, "floor")),
};
const NAMES = ["ours", "jose", "floor"];

const supabase = await startSupabase();
const stytch = await startStytchStub();
const kv = await startKv();
const vars = {
  SUPABASE_URL: supabase.url,
  STYTCH_PROJECT_ID: "project-test-bench",
  STYTCH_SECRET: "secret-test-bench",
  STYTCH_PROFILE_ID: "trusted-auth-token-profile-test-bench",
  STYTCH_API_BASE: stytch.url,
};
const token = await supabase.mint({ alg: "ES256", expiresIn: 6 * 3600 });
const body = JSON.stringify({ access_token: token });
const post = (url) => fetch(`${url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body });

// Cold start: from spawning workerd to the first successful exchange (includes the JWKS fetch).
const workers = {};
const coldStartMs = {};
for (const name of NAMES) {
  const w = await startWorkerd({ name, bundle: bundles[name], vars, kvPort: name === "ours" ? kv.port : null, workdir: out });
  for (;;) {
    try {
      const r = await post(w.url);
      await r.arrayBuffer();
      if (r.status === 200) break;
      throw new Error(`status ${r.status}`);
    } catch (e) {
      if (Number(process.hrtime.bigint() - w.started) > 30e9) throw new Error(`${name} did not start: ${e.message}\n${w.stderr()}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  coldStartMs[name] = Number(process.hrtime.bigint() - w.started) / 1e6;
  workers[name] = w;
}

function load(url, connections, duration) {
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}/api/exchange`, method: "POST", headers: { "content-type": "application/json" }, body, connections, duration },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

async function measure(name, connections) {
  const w = workers[name];
  const before = { cpu: cpuSeconds(w.pid), jwks: supabase.state.fetches, kv: kv.stats.gets, stytch: stytch.stats.calls };
  const r = await load(w.url, connections, SECONDS);
  const ok = r["2xx"];
  return {
    cpu_ms_per_exchange: ((cpuSeconds(w.pid) - before.cpu) * 1000) / ok,
    rps: ok / (r.duration || SECONDS),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.non2xx + r.errors + r.timeouts,
    jwks_fetches: supabase.state.fetches - before.jwks,
    kv_reads: kv.stats.gets - before.kv,
    subrequests_per_exchange: (stytch.stats.calls - before.stytch + supabase.state.fetches - before.jwks + kv.stats.gets - before.kv) / ok,
  };
}

console.log("warming up …");
for (const name of NAMES) await load(workers[name].url, 16, 2);

const samples = { ours: {}, jose: {}, floor: {} };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? [...NAMES].reverse() : NAMES;
  for (const c of CONCURRENCY) {
    for (const name of order) {
      (samples[name][c] ??= []).push(await measure(name, c));
    }
  }
  console.log(`round ${round + 1}/${ROUNDS} done`);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const metrics = ["cpu_ms_per_exchange", "rps", "p50_ms", "p99_ms", "errors", "jwks_fetches", "kv_reads", "subrequests_per_exchange"];
const summary = {};
for (const c of CONCURRENCY) {
  summary[c] = {};
  for (const m of metrics) {
    const ours = median(samples.ours[c].map((s) => s[m]));
    const jose = median(samples.jose[c].map((s) => s[m]));
    // The machine's speed drifts between minutes: the ratio is the median of same-round
    // ratios, which drift cancels out of, not the ratio of the medians.
    const ratios = samples.ours[c].map((s, i) => s[m] / samples.jose[c][i][m]).filter(Number.isFinite);
    summary[c][m] = { ours, jose, ratio: ratios.length ? median(ratios) : null };
  }
  // The floor: CPU and requests/s only, with its ratio to jose the same way.
  const floorRatio = (m) => median(samples.floor[c].map((s, i) => s[m] / samples.jose[c][i][m]));
  summary[c].floor = {
    cpu_ms_per_exchange: median(samples.floor[c].map((s) => s.cpu_ms_per_exchange)),
    cpu_ratio_to_jose: floorRatio("cpu_ms_per_exchange"),
    rps: median(samples.floor[c].map((s) => s.rps)),
    errors: median(samples.floor[c].map((s) => s.errors)),
  };
}

const fmt = (v, d = 2) => (v === null || Number.isNaN(v) ? "-" : Number(v).toFixed(d));
const gz = (b) => Object.values(b.sizes).reduce((n, s) => n + s.gzip, 0);
console.log(`\nedge-attest vs jose reference, bare workerd, ${os.cpus().length} cores (${os.cpus()[0].model}), ${ROUNDS} alternating rounds of ${SECONDS} s; medians, ratio = median of same-round ratios`);
for (const c of CONCURRENCY) {
  console.log(`\nconcurrency ${c}`);
  console.log("  metric                      ours        jose    ours/jose");
  for (const m of metrics) {
    const { ours, jose, ratio } = summary[c][m];
    const d = m.includes("ms") ? 3 : m === "rps" ? 0 : 2;
    console.log(`  ${m.padEnd(26)}${fmt(ours, d).padStart(8)}${fmt(jose, d).padStart(12)}${fmt(ratio).padStart(12)}`);
  }
  const f = summary[c].floor;
  console.log(`  runtime floor: ${fmt(f.cpu_ms_per_exchange, 3)} ms CPU per exchange (${fmt(f.cpu_ratio_to_jose)} x jose), ${fmt(f.rps, 0)} requests/s, ${f.errors} errors`);
}
console.log("\nsize (gzip -9)");
for (const [name, b] of Object.entries(bundles)) {
  for (const [f, s] of Object.entries(b.sizes)) console.log(`  ${name.padEnd(5)} ${f.replace(/^[0-9a-f]{40}-/, "").padEnd(18)} ${String(s.raw).padStart(8)} B raw ${String(s.gzip).padStart(8)} B gzip`);
}
console.log(`  total gzip: ours ${gz(bundles.ours)} B, jose ${gz(bundles.jose)} B`);
console.log(`\ncold start to first successful exchange: ours ${fmt(coldStartMs.ours, 0)} ms, jose ${fmt(coldStartMs.jose, 0)} ms (floor ${fmt(coldStartMs.floor, 0)} ms)`);

const results = {
  date: new Date().toISOString(),
  machine: { cores: os.cpus().length, model: os.cpus()[0].model },
  rounds: ROUNDS,
  seconds: SECONDS,
  summary,
  samples,
  sizes: Object.fromEntries(Object.entries(bundles).map(([n, b]) => [n, b.sizes])),
  cold_start_ms: coldStartMs,
};
writeFileSync(path.join(ROOT, "bench", "results.json"), JSON.stringify(results, null, 1) + "\n");
console.log("\nwrote bench/results.json");

for (const w of Object.values(workers)) await w.stop();
await Promise.all([supabase.close(), stytch.close(), kv.close()]);
