// The Next.js example (examples/nextjs) run behind the worker's gateway against the local
// stand-ins: its dependencies installed from its own lockfile, the `edge-attest` package that
// `make release` packed, `next build` and `next start` (or `next dev`) on 127.0.0.1, the
// Supabase and Stytch stand-ins, and the compiled worker with the example README's PROTECT,
// its upstream the Next server. Used by tests/examples/nextjs.test.mjs; run directly
// (`node dev/nextjs-example.mjs`, after `make release`) it serves the example on
// http://localhost:8787/ until Ctrl-C. Every process it starts is in its own group and is
// killed by stop().
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startSupabase, startStytch } from "./standins.mjs";
import { startWorker, freePort, stopGroup, ROOT } from "./worker.mjs";

export const EXAMPLE = path.join(ROOT, "examples/nextjs");
export const PROJECT_ID = "project-test-00000000-0000-4000-8000-00000000next";
export const SECRET = "secret-test-nextjs-example-only";
export const PROFILE_ID = "trusted-auth-token-profile-test-nextjs";
/** The stand-in does not check it; supabase-js needs one. */
export const ANON_KEY = "anon-key-of-the-supabase-stand-in";

const BIN = path.join(ROOT, "node_modules/.bin");
/** Node 24 and npm from the repository's node_modules first, as the rest of the tooling. */
const PATH = `${BIN}${path.delimiter}${process.env.PATH}`;
/** Where the installed tree's lockfile hash is kept: npm ci runs again only when it changes. */
const STAMP = path.join(EXAMPLE, "node_modules/.edge-attest-lock-sha256");

function run(cmd, args, { cwd = EXAMPLE, env = {} } = {}) {
  const out = spawnSync(cmd, args, { cwd, encoding: "utf8", env: { ...process.env, PATH, NEXT_TELEMETRY_DISABLED: "1", ...env }, maxBuffer: 64 << 20 });
  if (out.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${out.status ?? out.signal}):\n${out.stdout}\n${out.stderr}`);
  return out.stdout;
}

/** The tarball `make release` packed (dist/edge-attest-<version>.tgz). */
export function tarball() {
  const { version } = JSON.parse(readFileSync(path.join(ROOT, "release/package.json"), "utf8"));
  const file = path.join(ROOT, `dist/edge-attest-${version}.tgz`);
  if (!existsSync(file)) throw new Error(`${file} is missing: run make release (scripts/release.sh) first`);
  return file;
}

/**
 * The example's node_modules: `npm ci` from its lockfile (skipped when the tree installed last
 * time came from the same lockfile), then the packed `edge-attest` on top, without touching
 * package.json or the lockfile (`--no-save`), as a user's `npm install edge-attest` would.
 * Returns what was done, for the log.
 */
export function installExample() {
  const lock = createHash("sha256").update(readFileSync(path.join(EXAMPLE, "package-lock.json"))).digest("hex");
  const cached = existsSync(STAMP) && readFileSync(STAMP, "utf8") === lock;
  if (!cached) {
    run("npm", ["ci", "--no-audit", "--no-fund"]);
    writeFileSync(STAMP, lock);
  }
  rmSync(path.join(EXAMPLE, "node_modules/edge-attest"), { recursive: true, force: true });
  run("npm", ["install", "--no-save", "--no-audit", "--no-fund", tarball()]);
  return cached ? "node_modules kept (same lockfile); edge-attest installed from the tarball" : "npm ci; edge-attest installed from the tarball";
}

/**
 * The gateway rules of examples/nextjs/README.md (its `toml` block holding PROTECT), read with
 * wrangler's own reader, each `upstream = "origin"` made `upstream` (the Next server here).
 */
export async function readmeRules(upstream) {
  const readme = readFileSync(path.join(EXAMPLE, "README.md"), "utf8");
  const block = [...readme.matchAll(/```toml\n([\s\S]*?)```/g)].map((m) => m[1]).find((b) => b.includes("PROTECT"));
  if (!block) throw new Error("examples/nextjs/README.md has no ```toml block with PROTECT");
  const dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-nextjs-"));
  const file = path.join(dir, "wrangler.toml");
  writeFileSync(file, `name = "readme"\nmain = "index.js"\ncompatibility_date = "2026-01-01"\n${block}`);
  const wrangler = await import("wrangler");
  const rules = wrangler.experimental_readRawConfig({ config: file }).rawConfig.vars?.PROTECT;
  rmSync(dir, { recursive: true, force: true });
  if (!Array.isArray(rules)) throw new Error("examples/nextjs/README.md: PROTECT is not an array of rules");
  return rules.map((r) => (r.upstream === "origin" ? { ...r, upstream } : r));
}

/** `next build` with the public configuration, which Next writes into the browser's code. */
export function buildExample(env) {
  return run(path.join(EXAMPLE, "node_modules/.bin/next"), ["build"], { env });
}

/** `next start` (or `next dev`) on 127.0.0.1; resolves once it answers. */
async function startNext({ mode, port, env }) {
  port ||= await freePort();
  const child = spawn(path.join(EXAMPLE, "node_modules/.bin/next"), [mode, "-H", "127.0.0.1", "-p", String(port)], {
    cwd: EXAMPLE,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH, NEXT_TELEMETRY_DISABLED: "1", ...env },
  });
  const output = [];
  for (const s of [child.stdout, child.stderr]) {
    s.setEncoding("utf8");
    s.on("data", (t) => output.push(...t.split("\n").filter((l) => l.trim())));
  }
  let exited = null;
  child.on("exit", (code) => (exited = code));
  const url = `http://127.0.0.1:${port}`;
  const stop = () => stopGroup(child, exited !== null);
  for (const deadline = Date.now() + 120_000; ; ) {
    if (exited !== null) throw new Error(`next ${mode} exited (${exited}):\n${output.join("\n")}`);
    try {
      const res = await fetch(`${url}/login`);
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {}
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`next ${mode} did not answer:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return { url, port, output, stop };
}

/**
 * Starts everything; ports 0 (default) are free ones. `mode` "start" builds first; "dev" runs
 * `next dev` (React's strict mode runs every effect twice there). The browser is to open
 * `url` (localhost: one site with the worker, whose Secure cookies Chromium keeps on
 * http://localhost), and talks to the Supabase stand-in besides.
 */
export async function startExample({ mode = "start", workerPort, appPort = 0, supabasePort = 0, stytchPort = 0, onWorkerLine } = {}) {
  const supabase = await startSupabase({ port: supabasePort });
  const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase, port: stytchPort });
  const env = {
    NEXT_PUBLIC_SUPABASE_URL: supabase.url,
    NEXT_PUBLIC_SUPABASE_ANON_KEY: ANON_KEY,
    STYTCH_PROJECT_ID: PROJECT_ID,
    STYTCH_API_BASE: stytch.url,
  };
  const started = [supabase, stytch];
  const stopAll = async () => {
    for (const s of started.reverse()) await (s.stop ?? s.close)();
  };
  try {
    const buildMs = Date.now();
    if (mode === "start") buildExample(env);
    const built = Date.now() - buildMs;
    const app = await startNext({ mode, port: appPort, env });
    started.push(app);
    const rules = await readmeRules(app.url);
    const worker = await startWorker({
      port: workerPort,
      onLine: onWorkerLine,
      vars: {
        SUPABASE_URL: supabase.url,
        STYTCH_PROJECT_ID: PROJECT_ID,
        STYTCH_SECRET: SECRET,
        STYTCH_PROFILE_ID: PROFILE_ID,
        STYTCH_API_BASE: stytch.url,
        PROTECT: JSON.stringify(rules),
      },
    });
    started.push(worker);
    return { supabase, stytch, app, worker, rules, buildMs: built, url: `http://localhost:${worker.port}`, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const port = (name, fallback) => Number(process.env[name] ?? fallback);
  console.log(installExample());
  const example = await startExample({
    mode: process.env.NEXT_MODE === "dev" ? "dev" : "start",
    workerPort: port("WORKER_PORT", 8787),
    appPort: port("APP_PORT", 3000),
    supabasePort: port("SUPABASE_PORT", 54321),
    stytchPort: port("STYTCH_PORT", 4010),
  });
  console.log(`
The Next.js example behind edge-attest (everything local; no accounts, no network)

  open              ${example.url}/   (any email, any password)
  the Next server   ${example.app.url}   reached only through the gateway
  Supabase stand-in ${example.supabase.url}
  Stytch stand-in   ${example.stytch.url}

Ctrl-C stops everything.
`);
  const shutdown = async () => {
    await example.stop();
    process.exit(0);
  };
  process.on("SIGINT", shutdown);
  process.on("SIGTERM", shutdown);
}
