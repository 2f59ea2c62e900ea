// `make bench`: edge-attest (Rust/WASM) side by side with the jose reference worker, both
// bundled as `wrangler deploy` would upload them and run in a bare `workerd serve` (no
// wrangler proxy layers), against the same stand-ins on 127.0.0.1. Alternating A/B rounds;
// prints medians and ours/jose ratios, and writes bench/results.json. The runtime floor
// (bench/floor-worker: only the runtime calls the exchange cannot skip, no checks) runs in
// the same rounds, to show how much of each worker's CPU is the runtime's. Each round also
// measures edge-attest's repeat exchange (the browser sends back the Stytch session cookies
// of the same login: answered at the edge), and a last section measures latency with the
// Stytch stub answering after 100 ms (a transcontinental round trip). A two-provider
// configuration (PROVIDERS: the Supabase project and an Auth0-like issuer found through its
// OpenID configuration) is measured in the same rounds, with a token of each, and so is the
// auth gateway: GET /app/x with the session cookies through PROTECT to a minimal app server
// here, beside the gateway's runtime floor (bench/gateway-floor-worker).
//   BENCH_ROUNDS (default 5), BENCH_SECONDS per measurement (default 3),
//   BENCH_SKIP_BUILD=1 to measure build/ as it is (e.g. a build with other settings)
import autocannon from "autocannon";
import http from "node:http";
import { execFileSync } from "node:child_process";
import { writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase, startIssuer } from "../dev/standins.mjs";
import { benchVars, bundle, cpuSeconds, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

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
  gateway_floor: bundle("bench/gateway-floor-worker/wrangler.toml", path.join(out, "gateway-floor")),
};
const NAMES = ["ours", "jose", "floor"];

const supabase = await startSupabase();
const auth0 = await startIssuer({ flavor: "auth0" });
const stytch = await startStytchStub();
const kv = await startKv();
const vars = benchVars(supabase, stytch);
const token = await supabase.mint({ alg: "ES256", expiresIn: 6 * 3600 });
const body = JSON.stringify({ access_token: token });
const auth0Body = JSON.stringify({ access_token: await auth0.mint({ expiresIn: 6 * 3600 }) });
const twoProviders = {
  ...vars,
  PROVIDERS: JSON.stringify([
    { name: "supabase", preset: "supabase", project_url: supabase.url, stytch_profile_id: "p1", allow_unverified_email: true },
    { name: "auth0", issuer: auth0.issuer, audiences: [auth0.audience], stytch_profile_id: "p2" },
  ]),
};
// The app behind the gateway: answers at once (its own CPU is not the worker's), counted.
const app = { requests: 0 };
const appServer = http.createServer((req, res) => {
  app.requests++;
  req.resume();
  req.on("end", () => res.end("ok"));
});
await new Promise((r) => appServer.listen(0, "127.0.0.1", r));
const gatewayVars = { ...vars, PROTECT: JSON.stringify([{ path: "/app/*", upstream: `http://127.0.0.1:${appServer.address().port}` }]) };
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
workers.ours2 = await startWorkerd({ name: "ours2", bundle: bundles.ours, vars: twoProviders, kvPort: kv.port, workdir: out });
workers.gateway = await startWorkerd({ name: "gateway", bundle: bundles.ours, vars: gatewayVars, kvPort: kv.port, workdir: out });
workers.gateway_floor = await startWorkerd({ name: "gateway_floor", bundle: bundles.gateway_floor, vars: gatewayVars, kvPort: null, workdir: out });
for (const name of ["ours2", "gateway", "gateway_floor"]) {
  for (let i = 0; ; i++) {
    try {
      await (await fetch(`${workers[name].url}/healthz`)).arrayBuffer();
      break;
    } catch {}
    if (i > 1500) throw new Error(`${name} did not start:\n${workers[name].stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function load(url, connections, duration, cookie, payload = body) {
  const headers = { "content-type": "application/json", ...(cookie ? { cookie } : {}) };
  return new Promise((resolve, reject) => {
    autocannon(
      { url: `${url}/api/exchange`, method: "POST", headers, body: payload, connections, duration },
      (err, res) => (err ? reject(err) : resolve(res)),
    );
  });
}

/** One measurement; `repeat` sends the cookies of the session the first exchange made. */
async function measure(name, connections, { repeat = false, seconds = SECONDS, payload = body } = {}) {
  const w = workers[name];
  const cookie = repeat ? await stytch.sessionCookie(token) : undefined;
  const before = { cpu: cpuSeconds(w.pid), jwks: supabase.state.fetches, kv: kv.stats.gets, stytch: stytch.stats.calls };
  const r = await load(w.url, connections, seconds, cookie, payload);
  const ok = r["2xx"];
  return {
    cpu_ms_per_exchange: ((cpuSeconds(w.pid) - before.cpu) * 1000) / ok,
    rps: ok / (r.duration || SECONDS),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    stytch_calls: stytch.stats.calls - before.stytch,
    errors: r.non2xx + r.errors + r.timeouts,
    jwks_fetches: supabase.state.fetches - before.jwks,
    kv_reads: kv.stats.gets - before.kv,
    subrequests_per_exchange: (stytch.stats.calls - before.stytch + supabase.state.fetches - before.jwks + kv.stats.gets - before.kv) / ok,
  };
}

/** One gateway measurement: GET /app/x with the session cookies of the benchmark's login. */
async function measureGateway(name, connections = 16) {
  const w = workers[name];
  const cookie = await stytch.sessionCookie(token);
  const before = { cpu: cpuSeconds(w.pid), jwks: supabase.state.fetches, kv: kv.stats.gets, stytch: stytch.stats.calls, jwksStytch: stytch.stats.jwks, app: app.requests };
  const r = await new Promise((resolve, reject) =>
    autocannon({ url: `${w.url}/app/x`, method: "GET", headers: { cookie }, connections, duration: SECONDS }, (e, res) => (e ? reject(e) : resolve(res))),
  );
  const ok = r["2xx"];
  const others = stytch.stats.calls - before.stytch + stytch.stats.jwks - before.jwksStytch + supabase.state.fetches - before.jwks + kv.stats.gets - before.kv;
  return {
    cpu_ms_per_request: ((cpuSeconds(w.pid) - before.cpu) * 1000) / ok,
    rps: ok / (r.duration || SECONDS),
    p50_ms: r.latency.p50,
    p99_ms: r.latency.p99,
    errors: r.non2xx + r.errors + r.timeouts,
    app_requests_per_request: (app.requests - before.app) / ok,
    other_subrequests_per_request: others / ok,
  };
}

console.log("warming up …");
for (const name of NAMES) await load(workers[name].url, 16, 2);
await load(workers.ours.url, 16, 2, await stytch.sessionCookie(token)); // Stytch's keys, once
await load(workers.ours2.url, 16, 2);
await load(workers.ours2.url, 16, 2, undefined, auth0Body);
await measureGateway("gateway");
await measureGateway("gateway_floor");

const REPEAT_C = 16;
const samples = { ours: {}, jose: {}, floor: {}, repeat: { [REPEAT_C]: [] }, two_providers: { supabase: [], auth0: [] }, gateway: [], gateway_floor: [] };
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 ? [...NAMES].reverse() : NAMES;
  for (const c of CONCURRENCY) {
    for (const name of order) {
      (samples[name][c] ??= []).push(await measure(name, c));
    }
  }
  samples.repeat[REPEAT_C].push(await measure("ours", REPEAT_C, { repeat: true }));
  samples.two_providers.supabase.push(await measure("ours2", REPEAT_C));
  samples.two_providers.auth0.push(await measure("ours2", REPEAT_C, { payload: auth0Body }));
  samples.gateway.push(await measureGateway("gateway"));
  samples.gateway_floor.push(await measureGateway("gateway_floor"));
  console.log(`round ${round + 1}/${ROUNDS} done`);
}

// Latency as a user far from Stytch sees it: the stub answers attest after 100 ms. Unloaded
// (c=1) and under load (c=16); first and repeat exchanges of edge-attest, and jose's.
stytch.stats.delayMs = 100;
const LATENCY = { seconds: 5, rounds: 3, concurrency: [1, 16] };
const latencySamples = {};
for (let round = 0; round < LATENCY.rounds; round++) {
  for (const c of LATENCY.concurrency) {
    for (const [kind, name, repeat] of [["first", "ours", false], ["repeat", "ours", true], ["jose", "jose", false]]) {
      const m = await measure(name, c, { repeat, seconds: LATENCY.seconds });
      (latencySamples[`${kind}@${c}`] ??= []).push(m);
    }
  }
}
stytch.stats.delayMs = 0;

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
// The repeat exchange, against the first exchange and jose's in the same rounds.
const rep = samples.repeat[REPEAT_C];
const repeatSummary = {};
const sameRound = (m, other) => median(rep.map((s, i) => s[m] / other[i][m]).filter(Number.isFinite));
Object.assign(repeatSummary, {
  concurrency: REPEAT_C,
  ...Object.fromEntries(metrics.map((m) => [m, median(rep.map((s) => s[m]))])),
  stytch_calls_per_exchange: median(rep.map((s) => s.stytch_calls / (s.rps * SECONDS))),
  cpu_ratio_to_jose: sameRound("cpu_ms_per_exchange", samples.jose[REPEAT_C]),
  cpu_ratio_to_first: sameRound("cpu_ms_per_exchange", samples.ours[REPEAT_C]),
});
const twoProviders2 = Object.fromEntries(
  ["supabase", "auth0"].map((p) => {
    const xs = samples.two_providers[p];
    return [p, { cpu_ms_per_exchange: median(xs.map((x) => x.cpu_ms_per_exchange)), cpu_ratio_to_single: median(xs.map((x, i) => x.cpu_ms_per_exchange / samples.ours[REPEAT_C][i].cpu_ms_per_exchange)), rps: median(xs.map((x) => x.rps)), errors: median(xs.map((x) => x.errors)), subrequests_per_exchange: median(xs.map((x) => x.subrequests_per_exchange)) }];
  }),
);
// The gateway, against the repeat exchange and its runtime floor in the same rounds.
const gw = samples.gateway;
const gatewaySummary = {
  concurrency: 16,
  cpu_ms_per_request: median(gw.map((x) => x.cpu_ms_per_request)),
  cpu_ratio_to_repeat_exchange: median(gw.map((x, i) => x.cpu_ms_per_request / rep[i].cpu_ms_per_exchange)),
  cpu_ratio_to_gateway_floor: median(gw.map((x, i) => x.cpu_ms_per_request / samples.gateway_floor[i].cpu_ms_per_request)),
  floor_cpu_ms_per_request: median(samples.gateway_floor.map((x) => x.cpu_ms_per_request)),
  floor_cpu_ratio_to_repeat_exchange: median(samples.gateway_floor.map((x, i) => x.cpu_ms_per_request / rep[i].cpu_ms_per_exchange)),
  rps: median(gw.map((x) => x.rps)),
  p50_ms: median(gw.map((x) => x.p50_ms)),
  p99_ms: median(gw.map((x) => x.p99_ms)),
  errors: median(gw.map((x) => x.errors)),
  app_requests_per_request: median(gw.map((x) => x.app_requests_per_request)),
  other_subrequests_per_request: median(gw.map((x) => x.other_subrequests_per_request)),
};
const latencySummary = Object.fromEntries(
  Object.entries(latencySamples).map(([k, xs]) => [k, { p50_ms: median(xs.map((x) => x.p50_ms)), p99_ms: median(xs.map((x) => x.p99_ms)), errors: median(xs.map((x) => x.errors)), subrequests_per_exchange: median(xs.map((x) => x.subrequests_per_exchange)) }]),
);

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
const r = repeatSummary;
console.log(`\nrepeat exchange (session cookies of the same login), concurrency ${r.concurrency}`);
console.log(`  CPU ${fmt(r.cpu_ms_per_exchange, 3)} ms per exchange: ${fmt(r.cpu_ratio_to_jose)} x jose's exchange, ${fmt(r.cpu_ratio_to_first)} x our first exchange`);
console.log(`  subrequests per exchange ${fmt(r.subrequests_per_exchange)} (Stytch ${fmt(r.stytch_calls_per_exchange)}, JWKS fetches ${r.jwks_fetches}, KV reads ${r.kv_reads}), ${fmt(r.rps, 0)} requests/s, p50 ${r.p50_ms} ms, p99 ${r.p99_ms} ms, errors ${r.errors}`);
console.log(`\ntwo providers (PROVIDERS: Supabase preset + an Auth0-like issuer by OpenID configuration), concurrency ${REPEAT_C}`);
for (const [p, v] of Object.entries(twoProviders2)) {
  console.log(`  ${p.padEnd(9)} token: CPU ${fmt(v.cpu_ms_per_exchange, 3)} ms per exchange (${fmt(v.cpu_ratio_to_single)} x the single-provider worker's), ${fmt(v.rps, 0)} requests/s, ${v.errors} errors`);
}
const g = gatewaySummary;
console.log(`\nauth gateway (GET /app/x with a live session, PROTECT to a local app), concurrency ${g.concurrency}`);
console.log(`  CPU ${fmt(g.cpu_ms_per_request, 3)} ms per request: ${fmt(g.cpu_ratio_to_repeat_exchange)} x the repeat exchange, ${fmt(g.cpu_ratio_to_gateway_floor)} x the gateway's runtime floor (${fmt(g.floor_cpu_ms_per_request, 3)} ms, ${fmt(g.floor_cpu_ratio_to_repeat_exchange)} x the repeat exchange)`);
console.log(`  subrequests per request: the app ${fmt(g.app_requests_per_request)}, anything else ${fmt(g.other_subrequests_per_request)}; ${fmt(g.rps, 0)} requests/s, p50 ${g.p50_ms} ms, p99 ${g.p99_ms} ms, errors ${g.errors}`);
console.log("\nlatency with the Stytch stub answering after 100 ms (median of 3 rounds of 5 s)");
console.log("  exchange            c   p50 ms   p99 ms   subrequests");
for (const [k, v] of Object.entries(latencySummary)) {
  const [kind, c] = k.split("@");
  console.log(`  ${kind.padEnd(18)}${c.padStart(3)}${String(v.p50_ms).padStart(9)}${String(v.p99_ms).padStart(9)}${fmt(v.subrequests_per_exchange).padStart(14)}`);
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
  repeat: repeatSummary,
  two_providers: twoProviders2,
  gateway: gatewaySummary,
  latency: latencySummary,
  samples,
  sizes: Object.fromEntries(Object.entries(bundles).map(([n, b]) => [n, b.sizes])),
  cold_start_ms: coldStartMs,
};
writeFileSync(path.join(ROOT, "bench", "results.json"), JSON.stringify(results, null, 1) + "\n");
console.log("\nwrote bench/results.json");

for (const w of Object.values(workers)) await w.stop();
await Promise.all([supabase.close(), auth0.close(), stytch.close(), kv.close(), new Promise((r) => appServer.close(r))]);
