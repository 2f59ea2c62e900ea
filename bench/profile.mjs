// The V8-only CPU profile (JS and WASM functions, through the inspector) of edge-attest (or
// the jose worker) under load in a bare workerd, summarised by self time. `make profile`
// (bench/perf.mjs) is the whole-process one. Build with names first:
//   CARGO_PROFILE_RELEASE_STRIP=false OUT_DIR=build-prof bash scripts/build.sh
//   node bench/profile.mjs [ours|jose]
import autocannon from "autocannon";
import { writeFileSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { ROOT, freePort } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { bundle, startKv, startStytchStub, startWorkerd } from "./harness.mjs";

const which = process.argv[2] ?? "ours";
const out = path.join(ROOT, "bench", "out", "profile");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
let config = "bench/jose-worker/wrangler.toml";
if (which === "ours") {
  config = path.join(out, "wrangler.toml");
  writeFileSync(config, `name = "prof"\nmain = "../../../build-prof/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
}
const b = bundle(config, path.join(out, which));
const supabase = await startSupabase();
const stytch = await startStytchStub();
const kv = await startKv();
const vars = { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: "project-test-bench", STYTCH_SECRET: "secret-test-bench", STYTCH_PROFILE_ID: "p", STYTCH_API_BASE: stytch.url };
const inspectorPort = await freePort();
const w = await startWorkerd({ name: which, bundle: b, vars, kvPort: which === "ours" ? kv.port : null, workdir: out, inspectorPort });
const body = JSON.stringify({ access_token: await supabase.mint({ expiresIn: 6 * 3600 }) });
const load = (duration) => new Promise((res, rej) => autocannon({ url: `${w.url}/api/exchange`, method: "POST", headers: { "content-type": "application/json" }, body, connections: 16, duration }, (e, r) => (e ? rej(e) : res(r))));
for (let i = 0; ; i++) {
  try { await (await fetch(`${w.url}/healthz`)).text(); break; } catch { if (i > 200) throw new Error(w.stderr()); await new Promise((r) => setTimeout(r, 20)); }
}
await load(2);

const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json();
const ws = new WebSocket(targets[0].webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
let id = 0;
const pending = new Map();
ws.addEventListener("message", (ev) => {
  const msg = JSON.parse(ev.data);
  if (msg.id && pending.has(msg.id)) { pending.get(msg.id)(msg); pending.delete(msg.id); }
});
const call = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
await call("Profiler.enable");
await call("Profiler.setSamplingInterval", { interval: 50 });
await call("Profiler.start");
const r = await load(4);
const { result } = await call("Profiler.stop");
ws.close();
const profile = result.profile;
writeFileSync(path.join(out, `${which}.cpuprofile`), JSON.stringify(profile));

const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map();
const counts = new Map();
for (const s of profile.samples) counts.set(s, (counts.get(s) ?? 0) + 1);
let total = 0;
for (const [nodeId, n] of counts) {
  const node = byId.get(nodeId);
  const f = node.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url ? path.basename(f.url) : ""}${f.url ? `:${f.lineNumber}` : ""}`;
  self.set(key, (self.get(key) ?? 0) + n);
  total += n;
}
console.log(`${which}: ${r["2xx"]} exchanges, ${total} samples; top self time:`);
for (const [k, n] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 45)) console.log(`${((100 * n) / total).toFixed(1).padStart(6)}%  ${k}`);
await w.stop();
await Promise.all([supabase.close(), stytch.close(), kv.close()]);
