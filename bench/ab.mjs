// A/B of builds (or the reference workers) in the benchmark's bare workerd set-up: how each
// change in docs/benchmarks.md was judged before `make bench`.
//   OUT_DIR=build-b bash scripts/build.sh          # the variant, next to build/
//   node bench/ab.mjs build build-b [jose] [floor]
// Every worker runs at once; rounds alternate their order. Prints per-round CPU per request
// (workerd process, /proc), requests/s and p99, then medians and, for each worker after the
// first, the median of its same-round CPU ratios to the first (the machine's drift cancels
// out of those). ROUNDS (8), SECS (3), CONN (16), ROUTE (/api/exchange; /healthz also works),
// REPEAT=1 (send the Stytch session cookies of the same login: the repeat exchange).
// A build name ending in "+limits" (build+limits) runs that build with the two rate-limit
// bindings (an in-memory stand-in, bench/harness.mjs): what the checks cost. "+b2b" runs it
// as a Stytch B2B deployment (the organization from the token's app_metadata.org_id; the
// stub answers member sessions): what B2B costs against the same build as consumer.
// "+noaal" sends REPEAT cookies whose session link has no `aal` (the link of builds before
// the assurance level was part of it), so such a build can be compared on repeat exchanges.
// "gateway-floor+gateway" is the gateway's runtime floor (bench/gateway-floor-worker).
// "+gateway" runs the build as the auth gateway (PROTECT /app/* to a minimal app server in
// this process) and sends GET /app/x with the session cookies instead: with REPEAT=1,
// `node bench/ab.mjs build build+gateway` is a gateway request against a repeat exchange.
// "+policy" (with "+gateway") gives that rule requirements the session meets (`roles` and
// `require_aal`): `REPEAT=1 node bench/ab.mjs build+gateway build+gateway+policy` is what a
// rule's authorization costs.
import autocannon from "autocannon";
import http from "node:http";
import { writeFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, startKv, startStytchStub, startWorkerd, cpuSeconds, BENCH_ORG, B2B_VARS } from "./harness.mjs";

const names = process.argv.slice(2);
if (names.length < 2) {
  console.error("usage: node bench/ab.mjs <build-dir|jose|floor> <build-dir|jose|floor> ...");
  process.exit(2);
}
const ROUNDS = Number(process.env.ROUNDS ?? 8);
const SECS = Number(process.env.SECS ?? 3);
const CONN = Number(process.env.CONN ?? 16);
const ROUTE = process.env.ROUTE ?? "/api/exchange";
const out = path.join(ROOT, "bench", "out", "ab");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const supabase = await startSupabase();
const stytch = await startStytchStub();
const kv = await startKv();
// The app behind "+gateway" workers: answers at once, so the worker's CPU is what is measured.
const appServer = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => res.end("ok"));
});
await new Promise((r) => appServer.listen(0, "127.0.0.1", r));
const upstream = `http://127.0.0.1:${appServer.address().port}`;
const PROTECT = JSON.stringify([{ path: "/app/*", upstream }]);
const PROTECT_POLICY = JSON.stringify([{ path: "/app/*", upstream, roles: ["stytch_user", "stytch_member"], require_aal: "aal1" }]);
const vars = { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: "project-test-bench", STYTCH_SECRET: "secret-test-bench", STYTCH_PROFILE_ID: "p", STYTCH_API_BASE: stytch.url };
const workers = [];
for (const n of names) {
  const rateLimits = n.includes("+limits");
  const b2b = n.includes("+b2b");
  const noAal = n.includes("+noaal");
  const gateway = n.includes("+gateway");
  const policy = n.includes("+policy");
  const dir = n.replace(/\+(limits|b2b|noaal|gateway|policy)/g, "");
  let config = { jose: "bench/jose-worker/wrangler.toml", floor: "bench/floor-worker/wrangler.toml", "gateway-floor": "bench/gateway-floor-worker/wrangler.toml" }[dir];
  if (!config) {
    config = path.join(out, `${n}.toml`);
    writeFileSync(config, `name = "ab"\nmain = "../../../${dir}/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
  }
  const b = bundle(config, path.join(out, n));
  const ownKv = !["jose", "floor", "gateway-floor"].includes(dir);
  const workerVars = { ...vars, ...(b2b ? B2B_VARS : {}), ...(gateway ? { PROTECT: policy ? PROTECT_POLICY : PROTECT } : {}) };
  workers.push({ n, b2b, noAal, gateway, w: await startWorkerd({ name: n, bundle: b, vars: workerVars, kvPort: ownKv ? kv.port : null, workdir: path.join(out, `wd-${n}`), rateLimits }) });
}
// One token for every worker: a consumer worker ignores the organization in app_metadata.
const token = await supabase.mint({ expiresIn: 6 * 3600, claims: { app_metadata: { provider: "email", providers: ["email"], org_id: BENCH_ORG } } });
const body = JSON.stringify({ access_token: token });
const get = ROUTE === "/healthz" || ROUTE === "/api/session";
const cookieOf = async (b2b, aal) => (process.env.REPEAT ? { cookie: await stytch.sessionCookie(token, { b2b, aal }) } : {});
const cookies = {
  consumer: await cookieOf(false, true),
  b2b: await cookieOf(true, true),
  "consumer-noaal": await cookieOf(false, false),
  "b2b-noaal": await cookieOf(true, false),
};
const load = (w, duration, b2b, noAal, gateway) =>
  new Promise((res, rej) =>
    autocannon(
      gateway
        ? { url: `${w.url}/app/x`, method: "GET", headers: cookies[`${b2b ? "b2b" : "consumer"}${noAal ? "-noaal" : ""}`], connections: CONN, duration }
        : { url: `${w.url}${ROUTE}`, method: get ? "GET" : "POST", headers: { "content-type": "application/json", ...cookies[`${b2b ? "b2b" : "consumer"}${noAal ? "-noaal" : ""}`] }, body: get ? undefined : body, connections: CONN, duration },
      (e, r) => (e ? rej(e) : res(r)),
    ),
  );
for (const { n, w, b2b, noAal, gateway } of workers) {
  for (let i = 0; ; i++) {
    try {
      await (await fetch(`${w.url}/healthz`)).arrayBuffer();
      break;
    } catch {
      if (i > 300) throw new Error(`${n} did not start:\n${w.stderr()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await load(w, 2, b2b, noAal, gateway);
}

const res = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const { n, w, b2b, noAal, gateway } of r % 2 ? [...workers].reverse() : workers) {
    const c0 = cpuSeconds(w.pid);
    const x = await load(w, SECS, b2b, noAal, gateway);
    res[n].push({ us: ((cpuSeconds(w.pid) - c0) * 1e6) / x["2xx"], rps: x["2xx"] / SECS, p99: x.latency.p99, bad: x.non2xx + x.errors });
  }
  console.log(`round ${r + 1}: ` + names.map((n) => { const s = res[n][r]; return `${n} ${s.us.toFixed(0)} µs ${s.rps.toFixed(0)}/s p99 ${s.p99} ms${s.bad ? ` ${s.bad} bad` : ""}`; }).join(" | "));
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
for (const n of names) console.log(`${n}: median ${med(res[n].map((x) => x.us)).toFixed(0)} µs CPU per request, ${med(res[n].map((x) => x.rps)).toFixed(0)} requests/s, p99 ${med(res[n].map((x) => x.p99))} ms`);
for (const n of names.slice(1)) console.log(`${n} / ${names[0]}: CPU ratio ${med(res[n].map((x, i) => x.us / res[names[0]][i].us)).toFixed(3)} (median of same-round ratios)`);
for (const { w } of workers) await w.stop();
await Promise.all([supabase.close(), stytch.close(), kv.close(), new Promise((r) => appServer.close(r))]);
