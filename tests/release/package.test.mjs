// The npm package as a user gets it: dist/edge-attest-<version>.tgz (scripts/release.sh,
// which `make test` runs first) installed into an empty folder with a PATH that has no cargo,
// `edge-attest init`, the variables filled in for the local stand-ins, `edge-attest check`,
// `wrangler deploy --dry-run`, and `wrangler dev` serving /healthz and a full exchange. And
// the command's TOML reader against wrangler's own reading of the same files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { ROOT, startWorker } from "../../dev/worker.mjs";
import { startSupabase, startStytch } from "../../dev/standins.mjs";
import { parseToml } from "../../release/lib/toml.js";
import { parseJsonc } from "../../release/lib/jsonc.js";

const PROJECT_ID = "project-test-11111111-2222-3333-4444-555555555555";
const SECRET = "secret-test-package-NEVER-LOGGED";
const PROFILE_ID = "trusted-auth-token-profile-test-77777777";

const version = /^version = "(.*)"$/m.exec(readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))[1];
const tarball = path.join(ROOT, "dist", `edge-attest-${version}.tgz`);
// Node 24 and wrangler from the repository's node_modules (a user has their own), then the
// system's tools: no ~/.cargo/bin.
const BIN = path.join(ROOT, "node_modules", ".bin");
const PATH = [BIN, "/usr/local/bin", "/usr/bin", "/bin"].filter((d) => !existsSync(path.join(d, "cargo"))).join(path.delimiter);
const ENV = { ...process.env, PATH, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false" };

let dir;
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: dir, env: ENV, encoding: "utf8", timeout: 180_000, ...opts });
const cli = (...args) => run(path.join(dir, "node_modules", ".bin", "edge-attest"), args);

before(() => {
  assert.ok(existsSync(tarball), `${tarball} is missing: make test runs scripts/release.sh first`);
  dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-user-"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "my-auth", private: true }));
  const npm = run("npm", ["install", "--no-audit", "--no-fund", "--ignore-scripts", tarball]);
  assert.equal(npm.status, 0, npm.stderr + npm.stdout);
});
after(() => dir && rmSync(dir, { recursive: true, force: true }));

test("the PATH the package is used with has no cargo", () => {
  const which = run("sh", ["-c", "command -v cargo || command -v rustc"]);
  assert.notEqual(which.status, 0, which.stdout);
});

test("the package holds only what deploys and documents", () => {
  const listed = JSON.parse(readFileSync(path.join(ROOT, "dist", "pack.json"), "utf8"))[0].files.map((f) => f.path).sort();
  for (const f of listed) {
    assert.match(f, /^(bin\/edge-attest\.js|lib\/(toml|jsonc|worker|wrangler-config)\.js|worker\/(index\.js|glue\/(index\.js|index_bg\.wasm|snippets\/(edge-attest-[0-9a-f]+\/src\/runtime\/(glue|promise)\.js|worker-[0-9a-f]+\/inline\d+\.js)))|client\/(index\.js|index\.d\.ts|README\.md)|wrangler\.example\.toml|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/, f);
  }
  for (const f of ["bin/edge-attest.js", "worker/index.js", "worker/glue/index_bg.wasm", "wrangler.example.toml", "LICENSE", "CHANGELOG.md", "README.md", "client/index.js"]) {
    assert.ok(listed.includes(f), `${f} is not in the package`);
  }
  const pkg = JSON.parse(readFileSync(path.join(dir, "node_modules", "edge-attest", "package.json"), "utf8"));
  assert.equal(pkg.version, version);
  assert.deepEqual(pkg.dependencies ?? {}, {}, "the package has no dependencies");
  assert.ok(statSync(path.join(dir, "node_modules", "edge-attest", "bin", "edge-attest.js")).mode & 0o111, "the command is executable");
});

test("the client module is edge-attest/client", () => {
  const r = run(process.execPath, ["--input-type=module", "-e", 'const m = await import("edge-attest/client"); console.log(typeof m.attachEdgeAttest)']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "function");
});

test("--version is Cargo.toml's", () => {
  const r = cli("--version");
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
});

test("init writes wrangler.toml for the installed worker, once; check, dry run and wrangler dev take it", async (t) => {
  const r = cli("init");
  assert.equal(r.status, 0, r.stderr);
  const file = path.join(dir, "wrangler.toml");
  const written = readFileSync(file, "utf8");
  assert.match(written, /^main = "node_modules\/edge-attest\/worker\/index\.js"$/m);
  assert.doesNotMatch(written, /^\[build\]/m, "no build step: the package holds the built worker");
  for (const block of ["[vars]", "[[kv_namespaces]]", "[[ratelimits]]", "[triggers]", "[env.staging.vars]"]) assert.ok(written.includes(block), block);

  const again = cli("init");
  assert.equal(again.status, 2);
  assert.match(again.stderr, /wrangler\.toml already exists here; not overwritten/);
  assert.equal(readFileSync(file, "utf8"), written, "the file is untouched");

  // As written, the placeholders pass the check (they are well-formed), with a note that the
  // secret is not known here.
  const placeholders = cli("check");
  assert.equal(placeholders.status, 0, placeholders.stdout + placeholders.stderr);
  assert.match(placeholders.stdout, /^top level: ok$/m);
  assert.match(placeholders.stdout, /^env staging: ok$/m);
  assert.match(placeholders.stdout, /^env production: ok$/m);
  assert.match(placeholders.stdout, /note: STYTCH_SECRET is not in \.dev\.vars or the environment: checked as if set/);

  const supabase = await startSupabase();
  const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase });
  t.after(async () => {
    await supabase.close();
    await stytch.close();
  });
  // Filled in as a user would: the top level's [vars] for the stand-ins, the secret in .dev.vars.
  const filled = written
    .replace(/^SUPABASE_URL = ".*"$/m, `SUPABASE_URL = "${supabase.url}"\nSTYTCH_API_BASE = "${stytch.url}"`)
    .replace(/^STYTCH_PROJECT_ID = "project-test-.*"$/m, `STYTCH_PROJECT_ID = "${PROJECT_ID}"`)
    .replace(/^STYTCH_PROFILE_ID = "trusted-auth-token-profile-test-.*"$/m, `STYTCH_PROFILE_ID = "${PROFILE_ID}"`);
  assert.notEqual(filled, written);
  writeFileSync(file, filled);
  writeFileSync(path.join(dir, ".dev.vars"), `STYTCH_SECRET="${SECRET}"\n`);

  const ok = cli("check", "--env", "");
  assert.equal(ok.status, 0, ok.stdout + ok.stderr);
  assert.equal(ok.stdout, "top level: ok\n", "with the secret in .dev.vars, no note");

  const dry = run(path.join(BIN, "wrangler"), ["deploy", "--dry-run", "--env=", "--outdir", path.join(dir, "out")]);
  assert.equal(dry.status, 0, dry.stderr + dry.stdout);
  assert.doesNotMatch(dry.stdout + dry.stderr, /WARNING/);
  assert.match(dry.stdout, /env\.JWKS_CACHE/);

  const worker = await startWorker({ vars: {}, script: null, config: file, cwd: dir, path: PATH });
  t.after(() => worker.stop());
  const health = await fetch(`${worker.url}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok", version });

  const token = await supabase.mint({ alg: "ES256" });
  const res = await fetch(`${worker.url}/api/exchange`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ access_token: token }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  assert.match(body.user_id, /^user-test-/);
  assert.equal(res.headers.getSetCookie().length, 2);
  const attests = stytch.calls.filter((c) => c.path === "/v1/sessions/attest");
  assert.equal(attests.length, 1);
  assert.equal(attests[0].authorization, "Basic " + Buffer.from(`${PROJECT_ID}:${SECRET}`).toString("base64"));
});

test("check reports a planted error as the worker logs it, per environment, exit code 1", () => {
  const sub = mkdtempSync(path.join(dir, "planted-"));
  const example = readFileSync(path.join(dir, "node_modules", "edge-attest", "wrangler.example.toml"), "utf8");
  const file = path.join(sub, "wrangler.toml");
  // An http origin at the top level, a PROVIDERS entry with an unknown field in staging.
  writeFileSync(
    file,
    example
      .replace(/^SUPABASE_URL = "https:\/\/your-project-ref\.supabase\.co"$/m, 'SUPABASE_URL = "http://your-project-ref.supabase.co"')
      .replace(/^\[env\.staging\.vars\]$/m, '[env.staging.vars]\nPROVIDERS = [{ name = "supabase", preset = "supabase", project_url = "https://x.supabase.co", stytch_profile_id = "trusted-auth-token-profile-test-1", colour = "blue" }]'),
  );
  const r = cli("check", file);
  assert.equal(r.status, 1, r.stdout + r.stderr);
  const lines = r.stdout.split("\n");
  const top = lines.find((l) => l.startsWith("top level: "));
  const staging = lines.find((l) => l.startsWith("env staging: "));
  assert.match(top, /^top level: \{"config_error":"SUPABASE_URL: [^"]*https[^"]*"\}$/);
  assert.match(staging, /^env staging: \{"config_error":"PROVIDERS: [^"]*colour[^"]*"\}$/);
  assert.match(r.stdout, /^env production: ok$/m);

  const only = cli("check", "--env", "production", file);
  assert.equal(only.status, 0, only.stdout);
  assert.match(only.stdout, /^env production: ok$/m);
  assert.doesNotMatch(only.stdout, /top level|staging/);

  const missing = cli("check", "--env", "nope", file);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /has no \[env\.nope\]/);

  writeFileSync(file, example.replace('[[kv_namespaces]]\nbinding = "JWKS_CACHE"', '[[kv_namespaces]]\nbinding = "OTHER"'));
  const noKv = cli("check", "--env", "", file);
  assert.equal(noKv.status, 1);
  assert.equal(noKv.stdout.split("\n")[0], 'top level: {"config_error":"JWKS_CACHE: KV namespace binding is missing"}');

  // A gateway rule asking for a level no login has: named by rule and field.
  writeFileSync(file, example.replace(/^\[vars\]$/m, '[vars]\nPROTECT = [{ path = "/admin/*", upstream = "origin", require_aal = "aal3" }]'));
  const rule = cli("check", "--env", "", file);
  assert.equal(rule.status, 1, rule.stdout);
  assert.match(rule.stdout.split("\n")[0], /^top level: \{"config_error":"PROTECT: rule #0 \(\/admin\/\*\): require_aal: aal3 is not/);

  writeFileSync(file, "name = \"x\"\n[vars\n");
  const broken = cli("check", file);
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /not valid TOML, line 2/);
});

// A wrangler.jsonc as `npm create cloudflare` writes them: comments, trailing commas.
const JSONC = `{
  // edge-attest, configured in JSON with comments
  "name": "edge-attest",
  "main": "node_modules/edge-attest/worker/index.js", /* the package's worker */
  "compatibility_date": "2026-11-01",
  "vars": {
    "SUPABASE_URL": "http://not-loopback.example", // planted: http
    "STYTCH_PROJECT_ID": "project-test-00000000-0000-0000-0000-000000000000",
    "STYTCH_PROFILE_ID": "trusted-auth-token-profile-test-1",
    "PROTECT": [{ "path": "/app/*", "upstream": "origin", }],
  },
  "kv_namespaces": [{ "binding": "JWKS_CACHE", "id": "0" },],
  "env": {
    "staging": {
      "vars": {
        "SUPABASE_URL": "https://x.supabase.co",
        "STYTCH_PROJECT_ID": "project-test-00000000-0000-0000-0000-000000000000",
        "STYTCH_PROFILE_ID": "trusted-auth-token-profile-test-1",
        "NOTE": "a // inside a string, and a /* too */, stay",
      },
      "kv_namespaces": [{ "binding": "JWKS_CACHE", "id": "1" }],
    },
  },
}
`;

test("check reads wrangler.jsonc too, and finds it as wrangler does", () => {
  const sub = mkdtempSync(path.join(dir, "jsonc-"));
  writeFileSync(path.join(sub, "wrangler.jsonc"), JSONC);
  const r = run(path.join(dir, "node_modules", ".bin", "edge-attest"), ["check"], { cwd: sub });
  assert.equal(r.status, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^top level: \{"config_error":"SUPABASE_URL: [^"]*https[^"]*"\}$/m);
  assert.match(r.stdout, /^env staging: ok$/m);
  assert.equal(parseJsonc(JSONC).env.staging.vars.NOTE, "a // inside a string, and a /* too */, stay");
  writeFileSync(path.join(sub, "wrangler.jsonc"), '{\n  "vars": {\n    "A": 1\n    "B": 2\n  }\n}\n');
  const broken = run(path.join(dir, "node_modules", ".bin", "edge-attest"), ["check"], { cwd: sub });
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /not valid JSON, line 4/);
});

test("the command's TOML reader reads wrangler files as wrangler does", async () => {
  const require = createRequire(path.join(ROOT, "package.json"));
  const { experimental_readRawConfig } = await import(require.resolve("wrangler"));
  const files = [
    path.join(ROOT, "wrangler.toml"),
    path.join(ROOT, "tests", "integration", "wrangler.toml"),
    path.join(ROOT, "dist", "package", "wrangler.example.toml"),
  ];
  for (const file of files) {
    const { rawConfig } = experimental_readRawConfig({ config: file });
    assert.deepEqual(parseToml(readFileSync(file, "utf8")), JSON.parse(JSON.stringify(rawConfig)), file);
  }
  const jsonc = path.join(mkdtempSync(path.join(os.tmpdir(), "edge-attest-jsonc-")), "wrangler.jsonc");
  writeFileSync(jsonc, JSONC);
  const { rawConfig } = experimental_readRawConfig({ config: jsonc });
  assert.deepEqual(parseJsonc(JSONC), JSON.parse(JSON.stringify(rawConfig)), "wrangler.jsonc");
});
