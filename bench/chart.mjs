// Draws docs/benchmarks.png from bench/results.json and bench/micro-results.json: an HTML
// bar chart rendered by headless Chromium (no plotting library needed).
import { readFileSync, existsSync } from "node:fs";
import path from "node:path";
import { chromium } from "playwright-core";
import { ROOT } from "../dev/worker.mjs";

const r = JSON.parse(readFileSync(path.join(ROOT, "bench/results.json"), "utf8"));
const microFile = path.join(ROOT, "bench/micro-results.json");
const micro = existsSync(microFile) ? JSON.parse(readFileSync(microFile, "utf8")) : null;

// Each group is a list of bars: [who, value, css class].
const groups = [];
const pair = (title, ours, jose, unit, digits, floor) => ({
  title, unit, digits,
  rows: [["edge-attest", ours, "ours"], ["jose", jose, "jose"], ...(floor === undefined ? [] : [["runtime floor", floor, "floor"]])],
});
for (const c of Object.keys(r.summary)) {
  groups.push(pair(`CPU per exchange, c=${c} (ms, lower is better)`, r.summary[c].cpu_ms_per_exchange.ours, r.summary[c].cpu_ms_per_exchange.jose, "ms", 3, r.summary[c].floor?.cpu_ms_per_exchange));
}
if (r.repeat) {
  const c = r.repeat.concurrency;
  groups.push({
    title: `Repeat exchange (session cookies sent back), c=${c}: CPU (ms, lower is better)`, unit: "ms", digits: 3,
    rows: [["edge-attest, repeat", r.repeat.cpu_ms_per_exchange, "ours"], ["edge-attest, first", r.summary[c].cpu_ms_per_exchange.ours, "ours light"], ["jose", r.summary[c].cpu_ms_per_exchange.jose, "jose"]],
  });
}
if (r.latency) {
  for (const c of [1, 16]) {
    const l = (k) => r.latency[`${k}@${c}`]?.p50_ms;
    if (l("repeat") === undefined) continue;
    groups.push({
      title: `p50 latency, Stytch answering after 100 ms, c=${c} (ms, lower is better)`, unit: "ms", digits: 1,
      rows: [["edge-attest, repeat", l("repeat"), "ours"], ["edge-attest, first", l("first"), "ours light"], ["jose", l("jose"), "jose"]],
    });
  }
}
for (const c of Object.keys(r.summary)) {
  groups.push(pair(`Throughput, c=${c} (req/s, higher is better)`, r.summary[c].rps.ours, r.summary[c].rps.jose, "/s", 0));
}
groups.push(pair("p99 latency, c=16 (ms, lower is better)", r.summary[16].p99_ms.ours, r.summary[16].p99_ms.jose, "ms", 0));
if (micro) {
  for (const [t, v] of Object.entries(micro.results)) {
    groups.push(pair(`Verification alone, ${t.replace("valid_", "").toUpperCase()} (µs CPU, lower is better)`, v.ours_us, v.jose_us, "µs", 0));
  }
}
const gz = (n) => Object.values(r.sizes[n]).reduce((a, s) => a + s.gzip, 0) / 1024;
groups.push(pair("Bundle size, gzip (KiB)", gz("ours"), gz("jose"), "KiB", 0));
groups.push(pair("Cold start to first exchange (ms)", r.cold_start_ms.ours, r.cold_start_ms.jose, "ms", 0));

const html = `<!doctype html><meta charset="utf-8"><style>
body{font:13px system-ui,sans-serif;margin:18px;color:#1d2330;width:1060px}
h1{font-size:17px;margin:0 0 4px} p{margin:0 0 14px;color:#5b6476}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:12px 28px}
.g{border:1px solid #dfe3ea;border-radius:8px;padding:8px 12px}
.t{font-weight:600;margin-bottom:6px}.row{display:flex;align-items:center;gap:8px;margin:3px 0}
.who{width:124px;color:#5b6476}.light{opacity:.55}.floor{background:#e9ecf2;border:1px dashed #9aa3b5}.bar{height:14px;border-radius:3px}.ours{background:#3b5bdb}.jose{background:#c2c9d6}.v{font-variant-numeric:tabular-nums;white-space:nowrap}
</style><h1>edge-attest (Rust/WASM) vs the jose reference worker, bare workerd</h1>
<p>${r.machine.cores} cores (${r.machine.model}); ${r.rounds} alternating rounds of ${r.seconds} s; ${r.date.slice(0, 10)}. Medians. "runtime floor": a worker making only the runtime calls the exchange cannot skip, with no checks (bench/floor-worker).</p>
<div class="grid">${groups
  .map((g) => {
    const max = Math.max(...g.rows.map(([, v]) => v));
    // autocannon's latencies are whole milliseconds: 0 means under one.
    const f = (v) => (g.unit === "ms" && g.title.includes("latency") && v === 0 ? "< 1" : v.toFixed(g.digits));
    return `<div class="g"><div class="t">${g.title}</div>${g.rows
      .map(([who, v, cls]) => `<div class="row"><span class="who">${who}</span><div class="bar ${cls}" style="width:${Math.max(1, (300 * v) / max)}px"></div><span class="v">${f(v)} ${g.unit}</span></div>`)
      .join("")}</div>`;
  })
  .join("")}</div>`;
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
const page = await browser.newPage({ viewport: { width: 1100, height: 600 } });
await page.setContent(html);
await page.screenshot({ path: path.join(ROOT, "docs/benchmarks.png"), fullPage: true });
await browser.close();
console.log("wrote docs/benchmarks.png");
