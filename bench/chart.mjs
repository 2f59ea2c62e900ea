// Draws docs/benchmarks.png from bench/results.json and bench/micro-results.json: an HTML
// bar chart rendered by headless Chromium (no plotting library needed).
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "../dev/worker.mjs";

const r = JSON.parse(readFileSync(path.join(ROOT, "bench/results.json"), "utf8"));
const microFile = path.join(ROOT, "bench/micro-results.json");
const micro = existsSync(microFile) ? JSON.parse(readFileSync(microFile, "utf8")) : null;

const groups = [];
for (const c of Object.keys(r.summary)) {
  groups.push({ title: `CPU per exchange, c=${c} (ms, lower is better)`, ours: r.summary[c].cpu_ms_per_exchange.ours, jose: r.summary[c].cpu_ms_per_exchange.jose, floor: r.summary[c].floor?.cpu_ms_per_exchange, unit: "ms", digits: 3 });
}
for (const c of Object.keys(r.summary)) {
  groups.push({ title: `Throughput, c=${c} (req/s, higher is better)`, ours: r.summary[c].rps.ours, jose: r.summary[c].rps.jose, unit: "/s", digits: 0 });
}
groups.push({ title: "p99 latency, c=16 (ms, lower is better)", ours: r.summary[16].p99_ms.ours, jose: r.summary[16].p99_ms.jose, unit: "ms", digits: 0 });
if (micro) {
  for (const [t, v] of Object.entries(micro.results)) {
    groups.push({ title: `Verification alone, ${t.replace("valid_", "").toUpperCase()} (µs CPU, lower is better)`, ours: v.ours_us, jose: v.jose_us, unit: "µs", digits: 0 });
  }
}
const gz = (n) => Object.values(r.sizes[n]).reduce((a, s) => a + s.gzip, 0) / 1024;
groups.push({ title: "Bundle size, gzip (KiB)", ours: gz("ours"), jose: gz("jose"), unit: "KiB", digits: 0 });
groups.push({ title: "Cold start to first exchange (ms)", ours: r.cold_start_ms.ours, jose: r.cold_start_ms.jose, unit: "ms", digits: 0 });

const html = `<!doctype html><meta charset="utf-8"><style>
body{font:13px system-ui,sans-serif;margin:18px;color:#1d2330;width:1060px}
h1{font-size:17px;margin:0 0 4px} p{margin:0 0 14px;color:#5b6476}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px 28px}
.g{border:1px solid #dfe3ea;border-radius:8px;padding:8px 12px}
.t{font-weight:600;margin-bottom:6px}.row{display:flex;align-items:center;gap:8px;margin:3px 0}
.who{width:86px;color:#5b6476}.floor{background:#e9ecf2;border:1px dashed #9aa3b5}.bar{height:14px;border-radius:3px}.ours{background:#3b5bdb}.jose{background:#c2c9d6}.v{font-variant-numeric:tabular-nums;white-space:nowrap}
</style><h1>edge-attest (Rust/WASM) vs the jose reference worker, bare workerd</h1>
<p>${r.machine.cores} cores (${r.machine.model}); ${r.rounds} alternating rounds of ${r.seconds} s; ${r.date.slice(0, 10)}. Medians. "runtime floor": a worker making only the runtime calls the exchange cannot skip, with no checks (bench/floor-worker).</p>
<div class="grid">${groups
  .map((g) => {
    const max = Math.max(g.ours, g.jose, g.floor ?? 0);
    const f = (v) => v.toFixed(g.digits);
    return `<div class="g"><div class="t">${g.title}</div>
<div class="row"><span class="who">edge-attest</span><div class="bar ours" style="width:${Math.max(1, (330 * g.ours) / max)}px"></div><span class="v">${f(g.ours)} ${g.unit}</span></div>
<div class="row"><span class="who">jose</span><div class="bar jose" style="width:${Math.max(1, (330 * g.jose) / max)}px"></div><span class="v">${f(g.jose)} ${g.unit}</span></div>${
      g.floor === undefined ? "" : `<div class="row"><span class="who">runtime floor</span><div class="bar floor" style="width:${Math.max(1, (330 * g.floor) / max)}px"></div><span class="v">${f(g.floor)} ${g.unit}</span></div>`
    }</div>`;
  })
  .join("")}</div>`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
const page = await browser.newPage({ viewport: { width: 1100, height: 600 } });
await page.setContent(html);
await page.screenshot({ path: path.join(ROOT, "docs/benchmarks.png"), fullPage: true });
await browser.close();
console.log("wrote docs/benchmarks.png");
