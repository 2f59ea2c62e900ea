// The verification alone inside workerd: parse + key selection + signature + claims, ES256
// and RS256, edge-attest (Rust/WASM + WebCrypto) against jose's jwtVerify. Each request runs
// the verification n times; the figure is workerd's CPU (user+system, /proc) per
// verification, median of alternating rounds. Needs build-selftest/ (make test builds it).
import { readFileSync, writeFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { bundle, cpuSeconds, startKv, startWorkerd } from "./harness.mjs";

const fixtures = JSON.parse(readFileSync(path.join(ROOT, "tests/fixtures/tokens.json"), "utf8"));
const token = (name) => fixtures.cases.find((c) => c.name === name).token;
const out = path.join(ROOT, "bench", "out", "micro");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, "wrangler.toml"), `name = "micro"\nmain = "../../../build-selftest/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
const kv = await startKv();
const workers = {
  ours: await startWorkerd({
    name: "ours",
    bundle: bundle(path.join(out, "wrangler.toml"), path.join(out, "ours")),
    vars: { SUPABASE_URL: "https://abcd.supabase.co", STYTCH_PROJECT_ID: "project-test-micro", STYTCH_SECRET: "s", STYTCH_PROFILE_ID: "p" },
    kvPort: kv.port,
    workdir: out,
  }),
  jose: await startWorkerd({ name: "jose", bundle: bundle("bench/jose-verify/wrangler.toml", path.join(out, "jose")), vars: {}, workdir: out }),
};
const paths = { ours: "/__selftest/verify-loop", jose: "/" };
const N = Number(process.env.MICRO_N ?? 2000);
const ROUNDS = Number(process.env.MICRO_ROUNDS ?? 5);

async function run(name, tokenName, n) {
  const body = JSON.stringify({ jwks: fixtures.jwks, token: token(tokenName), issuer: fixtures.issuer, now: fixtures.now, n });
  for (let i = 0; ; i++) {
    try {
      const cpu0 = cpuSeconds(workers[name].pid);
      const res = await fetch(`${workers[name].url}${paths[name]}`, { method: "POST", headers: { "content-type": "application/json" }, body });
      const { verified } = await res.json();
      if (verified !== n) throw new Error(`${name} verified ${verified}/${n}`);
      return ((cpuSeconds(workers[name].pid) - cpu0) * 1e6) / n;
    } catch (e) {
      if (i > 200 || String(e.message).includes("verified")) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {};
for (const tokenName of ["valid_es256", "valid_rs256"]) {
  for (const name of ["ours", "jose"]) await run(name, tokenName, 300); // warm-up, JIT and tier-up
  const samples = { ours: [], jose: [] };
  for (let r = 0; r < ROUNDS; r++) for (const name of r % 2 ? ["jose", "ours"] : ["ours", "jose"]) samples[name].push(await run(name, tokenName, N));
  results[tokenName] = { ours_us: median(samples.ours), jose_us: median(samples.jose) };
}
console.log(`verification alone in workerd, CPU µs per token (median of ${ROUNDS} alternating rounds of ${N})`);
console.log("  token        ours    jose   ours/jose");
for (const [t, r] of Object.entries(results)) console.log(`  ${t.replace("valid_", "").padEnd(10)}${r.ours_us.toFixed(1).padStart(7)}${r.jose_us.toFixed(1).padStart(8)}${(r.ours_us / r.jose_us).toFixed(2).padStart(10)}`);
writeFileSync(path.join(ROOT, "bench", "micro-results.json"), JSON.stringify({ date: new Date().toISOString(), n: N, rounds: ROUNDS, results }, null, 1) + "\n");
for (const w of Object.values(workers)) await w.stop();
await kv.close();
