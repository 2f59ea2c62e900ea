// What the key cache costs a fleet: N worker processes (isolates, as in N Cloudflare
// locations) sharing one KV, the scheduled prewarm firing in one of them, user traffic on all,
// for a simulated hour; then key-set fetches (at the Supabase stand-in), KV reads and KV
// writes (at the KV service) per hour, after a start-up (one prewarm run, one request per
// process) counted apart. Time is compressed tenfold: key sets are fresh for
// 60 s instead of Supabase's 600 s, and the cron fires every 30 s instead of every 5 minutes,
// so MINUTES (6) of real time stand for an hour. Builds run one after the other, each on a
// fresh KV and fresh counters:
//   node bench/kvsim.mjs build-before build-after     (ISOLATES=4, RPS=4 per isolate, MINUTES=6)
// KV here is consistent at once; Workers KV takes up to 60 s to show a write in other
// locations, which adds fetches to both builds for isolates whose copy expires within a minute
// of the prewarm's write (docs/scale.md).
import path from "node:path";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

const builds = process.argv.slice(2);
if (builds.length === 0) {
  console.error("usage: node bench/kvsim.mjs <build-dir> [<build-dir> ...]");
  process.exit(2);
}
const ISOLATES = Number(process.env.ISOLATES ?? 4);
const RPS = Number(process.env.RPS ?? 4);
const MINUTES = Number(process.env.MINUTES ?? 6);
const SCALE = 10; // 60 s freshness for 600 s; a 30 s cron for 5 minutes
const CRON_MS = 300_000 / SCALE;
const out = path.join(ROOT, "bench", "out", "kvsim");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
for (const build of builds) {
  const supabase = await startSupabase();
  supabase.state.cacheControl = `public, max-age=${600 / SCALE}`;
  const stytch = await startStytchStub();
  const kv = await startKv();
  const vars = { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: "project-test-bench", STYTCH_SECRET: "secret-test-bench", STYTCH_PROFILE_ID: "p", STYTCH_API_BASE: stytch.url };
  const config = path.join(out, `${build}.toml`);
  writeFileSync(config, `name = "kvsim"\nmain = "../../../${build}/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
  const b = bundle(config, path.join(out, build));
  const workers = [];
  for (let i = 0; i < ISOLATES; i++) {
    workers.push(await startWorkerd({ name: `${build}-${i}`, bundle: b, vars, kvPort: kv.port, workdir: path.join(out, `wd-${build}-${i}`), scheduledRoute: i === 0 }));
  }
  for (const w of workers) {
    for (let i = 0; ; i++) {
      try {
        await (await fetch(`${w.url}/healthz`)).arrayBuffer();
        break;
      } catch {
        if (i > 300) throw new Error(`${w.name} did not start:\n${w.stderr()}`);
        await sleep(20);
      }
    }
  }
  const token = await supabase.mint({ expiresIn: 6 * 3600 });
  const body = JSON.stringify({ access_token: token });
  // Start-up, not counted: the prewarm fills KV, then each process takes its first copy.
  const startup = { fetches: supabase.state.fetches, gets: kv.stats.gets, puts: kv.stats.puts };
  await (await fetch(`${workers[0].url}/__bench/scheduled`)).arrayBuffer();
  for (const w of workers) await (await fetch(`${w.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body })).arrayBuffer();
  const before = { fetches: supabase.state.fetches, gets: kv.stats.gets, puts: kv.stats.puts };
  const started = { fetches: before.fetches - startup.fetches, kv_reads: before.gets - startup.gets, kv_writes: before.puts - startup.puts };
  const end = Date.now() + MINUTES * 60_000;
  let exchanges = 0;
  let failed = 0;
  let runs = 0;
  const cron = (async () => {
    for (let at = Date.now() + CRON_MS; at < end; at += CRON_MS) {
      await sleep(Math.max(0, at - Date.now()));
      const r = await fetch(`${workers[0].url}/__bench/scheduled`);
      await r.arrayBuffer();
      if (r.ok) runs++;
    }
  })();
  const traffic = workers.map(async (w) => {
    for (let at = Date.now(); at < end; at += 1000 / RPS) {
      await sleep(Math.max(0, at - Date.now()));
      const r = await fetch(`${w.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body });
      await r.arrayBuffer();
      if (r.status === 200) exchanges++;
      else failed++;
    }
  });
  await Promise.all([cron, ...traffic]);
  const perHour = (n) => Math.round((n * 60) / (MINUTES * SCALE));
  const row = {
    build,
    isolates: ISOLATES,
    exchanges,
    failed,
    cron_runs: runs,
    jwks_fetches: supabase.state.fetches - before.fetches,
    kv_reads: kv.stats.gets - before.gets,
    kv_writes: kv.stats.puts - before.puts,
    startup: started,
  };
  row.per_hour = { jwks_fetches: perHour(row.jwks_fetches), kv_reads: perHour(row.kv_reads), kv_writes: perHour(row.kv_writes) };
  results.push(row);
  console.log(JSON.stringify(row));
  for (const w of workers) await w.stop();
  await Promise.all([supabase.close(), stytch.close(), kv.close()]);
}
console.log("\nper simulated hour after start-up (the prewarm included; start-up in the JSON lines above):");
console.log("build                 isolates  key-set fetches  KV reads  KV writes  exchanges");
for (const r of results) {
  console.log(`${r.build.padEnd(22)}${String(r.isolates).padStart(8)}${String(r.per_hour.jwks_fetches).padStart(17)}${String(r.per_hour.kv_reads).padStart(10)}${String(r.per_hour.kv_writes).padStart(11)}${String(r.exchanges).padStart(11)}`);
}
writeFileSync(path.join(ROOT, "bench", "kvsim-results.json"), JSON.stringify({ when: new Date().toISOString(), isolates: ISOLATES, rps_per_isolate: RPS, minutes: MINUTES, scale: SCALE, results }, null, 1) + "\n");
