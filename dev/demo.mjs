// `make demo`: the stand-ins for Supabase and Stytch and the compiled worker in workerd, all
// on 127.0.0.1, with no account and no network. Prints what to try; Ctrl-C stops everything.
import { startSupabase, startStytch } from "./standins.mjs";
import { startWorker } from "./worker.mjs";

const PROJECT_ID = "project-test-00000000-0000-4000-8000-000000000000";
const SECRET = "secret-test-demo-only";
const PROFILE_ID = "trusted-auth-token-profile-test-demo";

const supabase = await startSupabase({ port: Number(process.env.SUPABASE_PORT ?? 54321) });
const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase, port: Number(process.env.STYTCH_PORT ?? 4010) });
const worker = await startWorker({
  port: Number(process.env.WORKER_PORT ?? 8787),
  vars: { SUPABASE_URL: supabase.url, STYTCH_PROJECT_ID: PROJECT_ID, STYTCH_SECRET: SECRET, STYTCH_PROFILE_ID: PROFILE_ID, STYTCH_API_BASE: stytch.url },
  onLine: (line) => {
    if (line.startsWith("{")) {
      try {
        const l = JSON.parse(line);
        if (l.route) console.log(`  ${l.method} ${l.route} → ${l.status} ${l.outcome} (total ${l.ms.total} ms${l.cache ? `, keys from ${l.cache}` : ""}${l.stytch_request_id ? `, stytch ${l.stytch_request_id}` : ""})`);
      } catch {}
    }
  },
});

console.log(`
edge-attest demo
  worker            ${worker.url}   (POST /api/exchange, POST /api/logout, GET /healthz)
  Supabase stand-in ${supabase.url}  (JWKS ${supabase.issuer}/.well-known/jwks.json)
  Stytch stand-in   ${stytch.url}

Try it:
  TOKEN=$(curl -s -X POST ${supabase.url}/auth/v1/token | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -i -X POST ${worker.url}/api/exchange -H 'content-type: application/json' -d "{\\"access_token\\":\\"$TOKEN\\"}"

Each request the worker handles is printed below. Ctrl-C stops everything.
`);

let stopping = false;
async function shutdown() {
  if (stopping) return;
  stopping = true;
  console.log("\nstopping…");
  await worker.stop();
  await supabase.close();
  await stytch.close();
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
