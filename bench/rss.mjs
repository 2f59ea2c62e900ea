// Memory of the workerd process under sustained load, edge-attest beside the jose reference
// worker (bare workerd, the benchmark's stand-ins): RSS after 5k, 20k, 40k and 60k exchanges
// at concurrency 32. Puts the soak's memory figure in context: a leak grows with the count,
// the runtime's own heap sizing levels off, and does so for any worker.
//   node bench/rss.mjs [first|repeat]   (repeat: edge-attest only, with session cookies)
import autocannon from "autocannon";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, startKv, startStytchStub, startWorkerd } from "./harness.mjs";
const out = path.join(ROOT, "bench/out/rss");
const supabase = await startSupabase(); const stytch = await startStytchStub(); const kv = await startKv();
const vars = { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: "project-test-bench", STYTCH_SECRET: "s", STYTCH_PROFILE_ID: "p", STYTCH_API_BASE: stytch.url };
const token = await supabase.mint({ expiresIn: 6 * 3600 });
const body = JSON.stringify({ access_token: token });
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))[1]) / 1024;
const mode = process.argv[2] ?? "first";
const cookie = mode === "repeat" ? await stytch.sessionCookie(token) : undefined;
for (const [name, cfg] of [["ours", "tests/integration/wrangler.toml"], ["jose", "bench/jose-worker/wrangler.toml"]]) {
  if (mode === "repeat" && name === "jose") continue;
  const b = bundle(cfg, path.join(out, name));
  const w = await startWorkerd({ name, bundle: b, vars, kvPort: name === "ours" ? kv.port : null, workdir: path.join(out, "wd-" + name) });
  for (let i = 0; ; i++) { try { await (await fetch(`${w.url}/healthz`)).arrayBuffer(); break; } catch { await new Promise((r) => setTimeout(r, 20)); } }
  const samples = [];
  let done = 0;
  for (const n of [5000, 20000, 40000, 60000]) {
    await new Promise((res, rej) => autocannon({ url: `${w.url}/api/exchange`, method: "POST", headers: { "content-type": "application/json", ...(cookie ? { cookie } : {}) }, body, connections: 32, amount: n - done }, (e, r) => (e ? rej(e) : res(r))));
    done = n; samples.push(`${n}: ${rss(w.pid).toFixed(0)} MB`);
  }
  console.log(name, mode, samples.join(", "));
  await w.stop();
}
await Promise.all([supabase.close(), stytch.close(), kv.close()]);
