// `make demo`: the stand-ins for Supabase and Stytch, the compiled worker in workerd and the
// demo page, all on this machine with no account and no network. Prints the URLs and one line
// per request the worker handles; Ctrl-C stops every process it started.
import { startDemo } from "./demo-lib.mjs";

const port = (name, fallback) => Number(process.env[name] ?? fallback);
// `make demo B2B=1`: a Stytch B2B project (members in organizations) instead of a consumer one.
const b2b = !["", "0", "false", undefined].includes(process.env.B2B);
const demo = await startDemo({
  b2b,
  workerPort: port("WORKER_PORT", 8787),
  pagePort: port("PAGE_PORT", 5173),
  otherPagePort: port("OTHER_PAGE_PORT", 5174),
  supabasePort: port("SUPABASE_PORT", 54321),
  stytchPort: port("STYTCH_PORT", 4010),
  appPort: port("APP_PORT", 4020),
  onWorkerLine: (line) => {
    if (!line.startsWith("{")) return;
    try {
      const l = JSON.parse(line);
      if (!l.route) return;
      const ms = Object.entries(l.ms).map(([k, v]) => `${k} ${v} ms`).join(", ");
      const extra = [l.cache && `keys: ${l.cache}`, l.detail && `why: ${l.detail}`, l.stytch_request_id && `stytch ${l.stytch_request_id}`]
        .filter(Boolean)
        .join("; ");
      const route = l.route === "healthz" ? "/healthz" : l.route === "gateway" ? `gateway (rule ${l.rule ?? "-"})` : `/api/${l.route}`;
      console.log(`  ${new Date().toISOString().slice(11, 19)} ${l.method} ${route} → ${l.status} ${l.outcome} (${ms})${extra ? ` ${extra}` : ""}`);
    } catch {}
  },
});

console.log(`
edge-attest demo (everything local; no accounts, no network)${demo.b2b ? `

  Stytch B2B: every Supabase user is a member of Acme, users @globex.example of Globex
  (their app_metadata.org_id); the worker names that organization in each attest.` : ""}

  open the app      ${demo.pageUrl}
  the same page on a disallowed origin: ${demo.otherPageUrl}

  worker            ${demo.workerUrl}   POST /api/exchange, GET /api/session, POST /api/logout, GET /healthz,
                    and the gateway: /app-api/* goes on to the app with the session's identity
  app stand-in      ${demo.app.url}   the protected API behind the gateway
  Supabase stand-in ${demo.supabase.url}  JWKS ${demo.supabase.issuer}/.well-known/jwks.json
  Stytch stand-in   ${demo.stytch.url}

Requests the worker handles appear below. Ctrl-C stops everything.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping the worker, the stand-ins and the page server…");
  await demo.stop();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
