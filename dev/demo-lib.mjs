// Everything `make demo` runs, as one function, so the browser test drives exactly the demo:
// the Supabase and Stytch stand-ins, the compiled worker in workerd, and the demo page served
// on its own origin (allowed by the worker) and on a second origin that is not allowed.
import http from "node:http";
import { readFileSync } from "node:fs";
import { startSupabase, startStytch, startApp } from "./standins.mjs";
import { startWorker } from "./worker.mjs";

export const PROJECT_ID = "project-test-00000000-0000-4000-8000-000000000000";
export const SECRET = "secret-test-demo-only";
export const PROFILE_ID = "trusted-auth-token-profile-test-demo";

const PAGE = readFileSync(new URL("./demo-page.html", import.meta.url), "utf8");
/** What the page loads besides itself: supabase-js (its browser build) and the client module. */
const ASSETS = {
  "/vendor/supabase.js": new URL("../node_modules/@supabase/supabase-js/dist/umd/supabase.js", import.meta.url),
  "/client/index.js": new URL("../client/index.js", import.meta.url),
};

/** Serves the demo page with `window.DEMO = config()` filled in, and its scripts. */
function servePage(port, config) {
  const server = http.createServer((req, res) => {
    const path = new URL(req.url, "http://x").pathname;
    if (ASSETS[path]) {
      res.writeHead(200, { "content-type": "text/javascript; charset=utf-8", "cache-control": "no-store" });
      return res.end(readFileSync(ASSETS[path]));
    }
    if (path !== "/" && path !== "/index.html") {
      res.writeHead(404, { "content-type": "text/plain" });
      return res.end("not found");
    }
    const html = PAGE.replace("/*DEMO_CONFIG*/", `window.DEMO = ${JSON.stringify(config())};`);
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    res.end(html);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve(server));
  });
}

function closeServer(server) {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** The demo's Stytch B2B organizations: users of globex.example are Globex's, everyone else Acme's. */
export const ORGANIZATIONS = [
  { organization_id: "organization-test-00000000-0000-4000-8000-00000000acme", organization_slug: "acme", organization_name: "Acme" },
  { organization_id: "organization-test-00000000-0000-4000-8000-0000000globex", organization_slug: "globex", organization_name: "Globex" },
];
const orgOfEmail = (email) => (String(email).endsWith("@globex.example") ? "globex" : "acme");

/**
 * Starts the demo; port 0 picks a free one. `b2b`: a Stytch B2B project instead (members in
 * organizations): Supabase users carry their organization's slug in `app_metadata.org_id`,
 * the worker names it (`STYTCH_ORGANIZATION_ID_CLAIM`), the profile maps it too. The page and the worker share the host name
 * `localhost`: one site, two origins, so the worker's cookies are first-party for the page
 * and CORS is exercised. The disallowed page is served on `127.0.0.1`, another site.
 */
export async function startDemo({ workerPort, pagePort = 0, otherPagePort = 0, supabasePort = 0, stytchPort = 0, appPort = 0, onWorkerLine, b2b = false } = {}) {
  const shared = {};
  const supabase = await startSupabase({ port: supabasePort });
  const b2bOptions = b2b
    ? {
        organizations: ORGANIZATIONS,
        profiles: [
          {
            profileId: PROFILE_ID,
            issuer: supabase.issuer,
            audience: "authenticated",
            jwks: supabase.jwks,
            attributeMapping: { email: "email", token_id: "session_id", organization_id: "app_metadata.org_id" },
          },
        ],
      }
    : {};
  if (b2b) supabase.state.appMetadataFor = (email) => ({ org_id: orgOfEmail(email) });
  const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase, port: stytchPort, ...b2bOptions });
  const page = await servePage(pagePort, () => ({ ...shared, allowed: true }));
  const other = await servePage(otherPagePort, () => ({ ...shared, allowed: false }));
  const pageOrigin = `http://localhost:${page.address().port}`;
  const otherOrigin = `http://127.0.0.1:${other.address().port}`;
  // The app's own API behind the gateway: it answers with what it received, and verifies
  // Edge-Attest-Jwt as docs/gateway.md tells an app to.
  const app = await startApp({ stytch, projectId: PROJECT_ID, port: appPort, b2b });
  const worker = await startWorker({
    port: workerPort,
    onLine: onWorkerLine,
    vars: {
      SUPABASE_URL: supabase.url,
      STYTCH_PROJECT_ID: PROJECT_ID,
      STYTCH_SECRET: SECRET,
      STYTCH_PROFILE_ID: PROFILE_ID,
      STYTCH_API_BASE: stytch.url,
      ALLOWED_ORIGINS: pageOrigin,
      // Readable by the page's JavaScript, as Stytch's browser SDK needs; the default is HttpOnly.
      COOKIE_HTTP_ONLY: "false",
      PROTECT: JSON.stringify([{ path: "/app-api/*", upstream: app.url }]),
      ...(b2b ? { STYTCH_PRODUCT: "b2b", STYTCH_ORGANIZATION_ID_CLAIM: "app_metadata.org_id" } : {}),
    },
  });
  const workerUrl = `http://localhost:${worker.port}`;
  Object.assign(shared, { workerUrl, issuerUrl: supabase.url, allowedOrigin: pageOrigin, b2b });

  return {
    b2b,
    supabase,
    stytch,
    app,
    worker,
    workerUrl,
    pageUrl: `${pageOrigin}/`,
    otherPageUrl: `${otherOrigin}/`,
    async stop() {
      await worker.stop();
      await Promise.all([supabase.close(), stytch.close(), app.close(), closeServer(page), closeServer(other)]);
    },
  };
}
