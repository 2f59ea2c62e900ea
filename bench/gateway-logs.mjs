// What the gateway's two cost settings do, counted in the real runtime (wrangler dev, whose
// Cache API keeps answers like an edge location's), against the stand-ins:
//   - GATEWAY_LOG_SAMPLE_RATE: the worker's log lines per 1,000 gateway requests at 1, 0.1 and
//     0.01, for a mix of 900 requests with a live session (forwarded: sampled), 50 without one
//     (401: always written) and 50 for a public asset;
//   - cache = "shared" on the asset rule: how many of the 50 asset requests reached the app,
//     against a rule without it.
// Cloudflare's own invocation log (one event per request, not the worker's) is not counted:
// it is the same at every rate (docs/scale.md, "The gateway").
//   node bench/gateway-logs.mjs       (after `make build`; writes bench/gateway-logs-results.json)
import { writeFileSync } from "node:fs";
import path from "node:path";
import { startSupabase, startStytch, startApp } from "../dev/standins.mjs";
import { startWorker, ROOT } from "../dev/worker.mjs";
import { BENCH_STYTCH, benchVars } from "./harness.mjs";

const MIX = { session: 900, none: 50, asset: 50 };

const supabase = await startSupabase();
const stytch = await startStytch({ ...BENCH_STYTCH, supabase });
const app = await startApp({ stytch, projectId: BENCH_STYTCH.projectId });

async function run(rate, cache) {
  const worker = await startWorker({
    vars: {
      ...benchVars(supabase, stytch),
      GATEWAY_LOG_SAMPLE_RATE: String(rate),
      PROTECT: JSON.stringify([
        { path: "/assets/*", upstream: app.url, require_session: false, cache },
        { path: "/app/*", upstream: app.url },
      ]),
    },
  });
  try {
    const token = await supabase.mint({ claims: { email: "ada@example.com" } });
    const signedIn = await fetch(`${worker.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ access_token: token }) });
    const cookie = signedIn.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    const before = worker.logs.filter((l) => l.route === "gateway").length;
    const asset = `/assets/app-${cache}-${rate}.js`;
    const seenBefore = app.requests.filter((r) => r.url === asset).length;
    const order = [...Array(MIX.session).fill("session"), ...Array(MIX.none).fill("none"), ...Array(MIX.asset).fill("asset")].sort(() => Math.random() - 0.5);
    const statuses = {};
    for (const kind of order) {
      const res = kind === "asset" ? await fetch(`${worker.url}${asset}`) : await fetch(`${worker.url}/app/x`, { headers: kind === "session" ? { cookie } : {} });
      await res.arrayBuffer();
      statuses[`${kind} ${res.status}`] = (statuses[`${kind} ${res.status}`] ?? 0) + 1;
    }
    // Lines arrive after their responses.
    await new Promise((r) => setTimeout(r, 500));
    const lines = worker.logs.filter((l) => l.route === "gateway").slice(before);
    const success = lines.filter((l) => l.status < 400).length;
    return {
      rate,
      cache,
      requests: order.length,
      statuses,
      worker_lines_per_1000: Math.round((lines.length * 1000) / order.length),
      success_lines: success,
      refusal_lines: lines.length - success,
      asset_requests_reaching_the_app: app.requests.filter((r) => r.url === asset).length - seenBefore,
    };
  } finally {
    await worker.stop();
  }
}

const results = [];
for (const [rate, cache] of [[1, "no-store"], [0.1, "shared"], [0.01, "shared"], [0, "shared"]]) {
  const r = await run(rate, cache);
  results.push(r);
  console.log(`rate ${String(rate).padEnd(4)} cache ${cache.padEnd(8)}: ${r.worker_lines_per_1000} worker lines per 1,000 gateway requests (${r.success_lines} success, ${r.refusal_lines} refusal lines); ${r.asset_requests_reaching_the_app} of ${MIX.asset} asset requests reached the app`);
}
writeFileSync(path.join(ROOT, "bench", "gateway-logs-results.json"), JSON.stringify({ date: new Date().toISOString(), mix: MIX, results }, null, 1) + "\n");
await app.close();
await stytch.close();
await supabase.close();
