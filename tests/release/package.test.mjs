// The npm package as a user gets it: dist/edge-attest-<version>.tgz (scripts/release.sh,
// which `make test` runs first), used from an empty folder with a PATH that has no cargo.
// First the README's Deploy commands, read from README.md and run as written, with only what
// needs a Cloudflare account replaced: the install from the packed tarball, the secret into
// .dev.vars, the deploy by `wrangler deploy --dry-run` and `wrangler dev` against the
// stand-ins, the health check against that. Then `init` and `check` one by one.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createRequire } from "node:module";
import { ROOT, startWorker } from "../../dev/worker.mjs";
import { startSupabase, startStytch } from "../../dev/standins.mjs";
import { document, toToml, WORKER_PATHS } from "../../release/lib/template.js";
import { pathMatches, routeList } from "../../release/lib/wrangler-config.js";

const PROJECT_ID = "project-test-11111111-2222-3333-4444-555555555555";
const SECRET = "secret-test-package-NEVER-LOGGED";
const PROFILE_ID = "trusted-auth-token-profile-test-77777777";
const HOST = "app.acme-corp.dev";

const version = /^version = "(.*)"$/m.exec(readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))[1];
const tarball = path.join(ROOT, "dist", `edge-attest-${version}.tgz`);
// Node 24 and wrangler from the repository's node_modules (a user has their own), then the
// system's tools: no ~/.cargo/bin.
const BIN = path.join(ROOT, "node_modules", ".bin");
const PATH = [BIN, "/usr/local/bin", "/usr/bin", "/bin"].filter((d) => !existsSync(path.join(d, "cargo"))).join(path.delimiter);
const ENV = { ...process.env, PATH, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0", npm_config_update_notifier: "false", npm_config_audit: "false", npm_config_fund: "false" };
const require = createRequire(path.join(ROOT, "package.json"));
const wrangler = await import(require.resolve("wrangler"));

let dir;
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: dir, env: ENV, encoding: "utf8", timeout: 180_000, ...opts });
const sh = (command, opts = {}) => run("sh", ["-c", command], opts);
const cli = (args, opts) => run(path.join(dir, "node_modules", ".bin", "edge-attest"), args, opts);

/** The commands of the README's Deploy section, in order (continuations joined, comments dropped). */
function readmeDeployCommands() {
  const readme = readFileSync(path.join(ROOT, "README.md"), "utf8");
  const section = /^## Deploy\n([\s\S]*?)^## /m.exec(readme)?.[1];
  assert.ok(section, "README.md has a Deploy section");
  const commands = [];
  for (const [, block] of section.matchAll(/```sh\n([\s\S]*?)```/g)) {
    const text = block.replace(/\\\n\s*/g, " ");
    for (const line of text.split("\n")) {
      const command = line.replace(/\s+#.*$/, "").trim();
      if (command !== "" && !command.startsWith("#")) commands.push(command);
    }
  }
  return commands;
}

/** What a user puts in place of the README's examples, here the stand-ins' values. */
function fillIn(command, supabaseUrl) {
  return command
    .replaceAll("app.example.com", HOST)
    .replaceAll("https://<ref>.supabase.co", supabaseUrl)
    .replaceAll("project-test-…", PROJECT_ID)
    .replaceAll("trusted-auth-token-profile-test-…", PROFILE_ID);
}

before(() => {
  assert.ok(existsSync(tarball), `${tarball} is missing: make test runs scripts/release.sh first`);
  dir = mkdtempSync(path.join(os.tmpdir(), "edge-attest-user-"));
  writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "my-app", private: true }));
});
after(() => dir && rmSync(dir, { recursive: true, force: true }));

test("the PATH the package is used with has no cargo", () => {
  const which = sh("command -v cargo || command -v rustc");
  assert.notEqual(which.status, 0, which.stdout);
});

test("the README's Deploy commands, run as written from an empty folder, end with a worker that exchanges", async (t) => {
  const supabase = await startSupabase();
  const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase });
  t.after(async () => {
    await supabase.close();
    await stytch.close();
  });
  const commands = readmeDeployCommands().map((c) => fillIn(c, supabase.url));
  assert.ok(commands.length >= 5, commands.join("\n"));
  let initSteps = null;
  let worker = null;
  let healthChecked = false;
  const ran = [];
  for (const command of commands) {
    ran.push(command);
    const where = `README command ${JSON.stringify(command)}`;
    if (command === "npm install edge-attest wrangler") {
      // From the packed tarball (the registry does not have this build) and the repository's
      // own wrangler, which a user gets from the registry.
      const r = run("npm", ["install", "--ignore-scripts", tarball, path.join(ROOT, "node_modules", "wrangler")]);
      assert.equal(r.status, 0, `${where}: ${r.stderr}${r.stdout}`);
    } else if (command.startsWith("npx edge-attest ")) {
      const r = sh(command);
      assert.equal(r.status, 0, `${where} exited ${r.status}:\n${r.stdout}${r.stderr}`);
      if (command.startsWith("npx edge-attest init")) {
        initSteps = /\nNext:\n([\s\S]*)$/.exec(r.stdout)?.[1].split("\n").map((l) => l.trim()).filter(Boolean);
        assert.ok(initSteps, r.stdout);
        assert.doesNotMatch(r.stdout, /placeholders left/, "the README's init fills in every value");
      }
    } else if (/^npx wrangler secret put [A-Z_]+$/.test(command)) {
      // Needs an account: the secret goes where `wrangler dev` reads it, with Stytch's stand-in
      // as the API (the README's project would use test.stytch.com).
      const help = sh("npx wrangler secret put --help");
      assert.equal(help.status, 0, help.stderr);
      const name = command.split(" ").at(-1);
      writeFileSync(path.join(dir, ".dev.vars"), `${name}="${SECRET}"\nSTYTCH_API_BASE="${stytch.url}"\n`);
    } else if (command.startsWith("npx wrangler deploy")) {
      const r = sh(`${command} --dry-run --outdir out`);
      assert.equal(r.status, 0, `${where}: ${r.stderr}${r.stdout}`);
      assert.doesNotMatch(r.stdout + r.stderr, /WARNING/, where);
      assert.match(r.stdout, /env\.JWKS_CACHE/);
      const config = ["wrangler.toml", "wrangler.jsonc", "wrangler.json"].map((f) => path.join(dir, f)).find(existsSync);
      worker = await startWorker({ vars: {}, script: null, config, cwd: dir, path: PATH });
      t.after(() => worker.stop());
    } else if (command.startsWith("curl ")) {
      const url = new URL(command.split(" ").at(-1));
      assert.equal(url.hostname, HOST, `${where}: the host init was given`);
      assert.ok(worker, `${where} comes after the deploy`);
      // The path is one the deployed routes take to the worker.
      const config = wrangler.unstable_readConfig({ config: path.join(dir, "wrangler.toml") }, { hideWarnings: true });
      assert.ok(routeList(config).some((r) => r.host === HOST && pathMatches(r.path, url.pathname)), `${where}: ${url.pathname} is outside the routes`);
      const res = await fetch(`${worker.url}${url.pathname}`);
      assert.equal(res.status, 200, where);
      assert.deepEqual(await res.json(), { status: "ok", version });
      healthChecked = true;
    } else {
      assert.fail(`${where}: this test does not know how to run it here; teach it (tests/release/package.test.mjs)`);
    }
  }
  assert.ok(worker && healthChecked, `the README deploys and checks the health route:\n${ran.join("\n")}`);
  // What init prints to do next is what the README says to do after it.
  const afterInit = commands.slice(commands.findIndex((c) => c.startsWith("npx edge-attest init")) + 1);
  assert.deepEqual(initSteps, afterInit);

  // The deployed worker exchanges a Supabase token for a Stytch session.
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

test("the package holds only what deploys and documents, and can be published", () => {
  const listed = JSON.parse(readFileSync(path.join(ROOT, "dist", "pack.json"), "utf8"))[0].files.map((f) => f.path).sort();
  for (const f of listed) {
    assert.match(f, /^(bin\/edge-attest\.js|lib\/(template|worker|wrangler-config)\.js|worker\/(index\.js|glue\/(index\.js|index_bg\.wasm|snippets\/(edge-attest-[0-9a-f]+\/src\/runtime\/(glue|promise)\.js|worker-[0-9a-f]+\/inline\d+\.js)))|client\/(index\.js|index\.d\.ts|README\.md)|(react|server)\/index\.(js|d\.ts)|README\.md|LICENSE|CHANGELOG\.md|package\.json)$/, f);
  }
  for (const f of ["bin/edge-attest.js", "worker/index.js", "worker/glue/index_bg.wasm", "LICENSE", "CHANGELOG.md", "README.md", "client/index.js", "client/README.md"]) {
    assert.ok(listed.includes(f), `${f} is not in the package`);
  }
  const pkg = JSON.parse(readFileSync(path.join(dir, "node_modules", "edge-attest", "package.json"), "utf8"));
  assert.equal(pkg.version, version);
  assert.deepEqual(pkg.dependencies ?? {}, {}, "the package has no dependencies");
  assert.ok(statSync(path.join(dir, "node_modules", "edge-attest", "bin", "edge-attest.js")).mode & 0o111, "the command is executable");
  // npm publish --provenance needs repository.url to be the repository that builds it.
  assert.match(pkg.repository?.url ?? "", /^git\+https:\/\/github\.com\/[^/]+\/[^/]+\.git$/);
  assert.ok(pkg.homepage && pkg.bugs?.url, "homepage and bugs");
  // One supported Node everywhere: what wrangler needs, the package's engines, the docs.
  const wranglerNode = JSON.parse(readFileSync(require.resolve("wrangler/package.json"), "utf8")).engines.node;
  assert.equal(pkg.engines.node, wranglerNode.replace(/\.0$/, "").replace(/\s+/g, ""), "engines.node is wrangler's");
  const stated = `Node ≥ ${pkg.engines.node.replace(">=", "")}`;
  for (const doc of ["README.md", "docs/release.md"]) assert.ok(readFileSync(path.join(ROOT, doc), "utf8").includes(stated), `${doc} says ${stated}`);
  const publish = run("npm", ["publish", "--dry-run", "--ignore-scripts"], { cwd: path.join(ROOT, "dist", "package") });
  assert.equal(publish.status, 0, publish.stderr);
  assert.match(publish.stderr + publish.stdout, new RegExp(`\\+ edge-attest@${version.replaceAll(".", "\\.")}`));
  assert.doesNotMatch(publish.stderr, /auto-corrected|warn publish (?!This command requires you to be logged in)/, "npm has nothing to correct");
  // The client module's README imports it by the name the package exports.
  const clientReadme = readFileSync(path.join(dir, "node_modules", "edge-attest", "client", "README.md"), "utf8");
  assert.match(clientReadme, /from "edge-attest\/client"/);
  assert.doesNotMatch(clientReadme, /@edge-attest\/client/);
});

test("the app-side modules are edge-attest/client and edge-attest/server (edge-attest/react needs react)", () => {
  const r = run(process.execPath, ["--input-type=module", "-e", 'const c = await import("edge-attest/client"); const s = await import("edge-attest/server"); console.log(typeof c.attachEdgeAttest, typeof s.verifyEdgeAttest)']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "function function");
  const react = run(process.execPath, ["--input-type=module", "-e", 'await import("edge-attest/react")']);
  assert.notEqual(react.status, 0, "react is an optional peer: not installed here");
  assert.match(react.stderr, /Cannot find package 'react'/);
});

test("--version is Cargo.toml's; --help of each command lists the exit codes and exits 0", () => {
  const r = cli(["--version"]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), version);
  for (const args of [["--help"], ["init", "--help"], ["check", "--help"], ["check", "-h"]]) {
    const h = cli(args);
    assert.equal(h.status, 0, `${args.join(" ")}: ${h.stderr}`);
    assert.match(h.stdout, /Exit codes:\n  0 .*\n  1 .*\n  2 /, args.join(" "));
  }
  assert.match(cli(["init", "--help"]).stdout, /--environments/);
  assert.match(cli(["check", "--help"]).stdout, /--json/);
  const wrong = cli(["check", "--frob"]);
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /--frob/);
});

/** A folder of its own under the user's project, where the installed package resolves. */
function folder(name) {
  const sub = path.join(dir, name);
  mkdirSync(sub);
  return sub;
}

test("check on init's untouched file exits 1 naming every placeholder; init never overwrites", () => {
  const sub = folder("untouched");
  const r = cli(["init"], { cwd: sub });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /placeholders left for --host, --supabase-url, --stytch-project-id, --stytch-profile-id/);
  const written = readFileSync(path.join(sub, "wrangler.toml"), "utf8");
  assert.match(written, /^main = "\.\.\/node_modules\/edge-attest\/worker\/index\.js"$/m);
  assert.doesNotMatch(written, /^\[build\]/m, "no build step: the package holds the built worker");
  assert.doesNotMatch(written, /^\[env\./m, "one worker unless asked");
  assert.match(written, /^workers_dev = false\npreview_urls = false$/m);
  assert.match(written, /^\[\[kv_namespaces\]\]\nbinding = "JWKS_CACHE"\n\n/m, "no id: the deploy creates it");
  const ids = [...written.matchAll(/^namespace_id = "(\d+)"$/gm)].map((m) => m[1]);
  assert.equal(ids.length, 2);
  assert.notEqual(ids[0], ids[1]);

  // Through npx from a folder where the package is not installed, main would point into
  // npm's cache: refused.
  const elsewhere = mkdtempSync(path.join(os.tmpdir(), "edge-attest-not-installed-"));
  const stray = run(path.join(dir, "node_modules", ".bin", "edge-attest"), ["init"], { cwd: elsewhere });
  assert.equal(stray.status, 2, stray.stdout);
  assert.match(stray.stderr, /edge-attest is not installed in this project: npm install edge-attest wrangler/);
  assert.ok(!existsSync(path.join(elsewhere, "wrangler.toml")));
  rmSync(elsewhere, { recursive: true, force: true });

  const again = cli(["init"], { cwd: sub });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /wrangler\.toml already exists here; not overwritten/);
  assert.equal(readFileSync(path.join(sub, "wrangler.toml"), "utf8"), written, "the file is untouched");
  // Another init's rate limits do not share counters with this one's.
  const other = folder("untouched-2");
  cli(["init"], { cwd: other });
  assert.notDeepEqual([...readFileSync(path.join(other, "wrangler.toml"), "utf8").matchAll(/^namespace_id = "(\d+)"$/gm)].map((m) => m[1]), ids);

  const c = cli(["check"], { cwd: sub });
  assert.equal(c.status, 1, c.stdout + c.stderr);
  assert.match(c.stdout, /^top level: not ready \(\d+ errors\)$/m);
  for (const expected of [
    /error: vars\.SUPABASE_URL is the template's placeholder "https:\/\/your-project-ref\.supabase\.co"/,
    /error: vars\.STYTCH_PROJECT_ID is the template's placeholder "project-test-00000000-0000-0000-0000-000000000000"/,
    /error: vars\.STYTCH_PROFILE_ID is the template's placeholder "trusted-auth-token-profile-test-00000000-0000-0000-0000-000000000000"/,
    /error: routes is the template's placeholder "app\.example\.com\/api\/exchange": put your app's own host name/,
  ]) {
    assert.match(c.stdout, expected);
  }
  assert.match(c.stdout, /note: STYTCH_SECRET is not in \.dev\.vars or the environment: checked as if set/);

  const json = cli(["check", "--json"], { cwd: sub });
  assert.equal(json.status, 1);
  const report = JSON.parse(json.stdout);
  assert.equal(report.ok, false);
  assert.equal(report.file, path.join(sub, "wrangler.toml"));
  assert.equal(report.environments.length, 1);
  assert.equal(report.environments[0].name, null);
  assert.equal(report.environments[0].worker, null, "well-formed placeholders: the worker itself would start");
  assert.equal(report.environments[0].errors.length, 7, report.environments[0].errors.join("\n"));
});

test("init --format jsonc writes the same configuration as wrangler.jsonc; --environments adds workers that dry-run alike", () => {
  const toml = folder("as-toml");
  const jsonc = folder("as-jsonc");
  const flags = ["--host", HOST, "--supabase-url", "https://abcdefghijklmnopqrst.supabase.co", "--stytch-project-id", PROJECT_ID, "--stytch-profile-id", PROFILE_ID, "--environments", "staging,production"];
  assert.equal(cli(["init", ...flags], { cwd: toml }).status, 0);
  const j = cli(["init", ...flags, "--format", "jsonc"], { cwd: jsonc });
  assert.equal(j.status, 0, j.stderr);
  assert.match(j.stdout, /^wrote wrangler\.jsonc/);
  const read = (file) => {
    const c = JSON.parse(JSON.stringify(wrangler.experimental_readRawConfig({ config: file }).rawConfig));
    delete c.$schema;
    for (const r of [c, ...Object.values(c.env)]) for (const l of r.ratelimits) l.namespace_id = "n";
    return c;
  };
  assert.deepEqual(read(path.join(jsonc, "wrangler.jsonc")), read(path.join(toml, "wrangler.toml")));
  assert.match(readFileSync(path.join(jsonc, "wrangler.jsonc"), "utf8"), /^  "\$schema": "node_modules\/wrangler\/config-schema\.json",$/m);

  for (const env of ["", "staging", "production"]) {
    const r = run(path.join(BIN, "wrangler"), ["deploy", "--dry-run", `--env=${env}`, "--outdir", path.join(jsonc, "out")], { cwd: jsonc });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /WARNING/);
    for (const b of ["env.JWKS_CACHE", "env.IP_RATE_LIMITER", "env.USER_RATE_LIMITER"]) assert.ok(r.stdout.includes(b), `${env}: ${b}`);
  }
  // The environments' hosts are left for the user: check names them.
  const c = cli(["check"], { cwd: jsonc });
  assert.equal(c.status, 1, c.stdout);
  assert.match(c.stdout, /^top level: ok \(1 warning\)|^top level: ok$/m);
  assert.match(c.stdout, /^env staging: not ready/m);
  assert.match(c.stdout, /error: routes is the template's placeholder "staging\.example\.com\/api\/exchange"/);
  assert.match(c.stdout, /^env production: not ready/m);
  // The same host for production as for the top level: two workers on one route, said; and
  // the test project init was given, in production.
  const text = readFileSync(path.join(jsonc, "wrangler.jsonc"), "utf8").replaceAll("production.example.com", HOST);
  writeFileSync(path.join(jsonc, "wrangler.jsonc"), text);
  const shared = cli(["check", "--env", "production"], { cwd: jsonc });
  assert.doesNotMatch(shared.stdout, /two workers on one route/, "one environment checked alone");
  const all = cli(["check"], { cwd: jsonc });
  assert.match(all.stdout, new RegExp(`warning: routes: ${HOST.replaceAll(".", "\\.")}/api/exchange is also top level's: two workers on one route`));
  assert.match(all.stdout, /warning: vars\.STYTCH_PROJECT_ID is a test project in the production environment/);
  const only = cli(["check", "--env", ""], { cwd: jsonc });
  assert.equal(only.status, 0, only.stdout);
  assert.doesNotMatch(only.stdout, /staging|production/);
});

/** A filled-in configuration, changed by `edit`, checked for the top level. */
function checkEdited(name, edit, args = []) {
  const sub = folder(name);
  const flags = ["--host", HOST, "--supabase-url", "https://abcdefghijklmnopqrst.supabase.co", "--stytch-project-id", PROJECT_ID, "--stytch-profile-id", PROFILE_ID];
  assert.equal(cli(["init", ...flags], { cwd: sub }).status, 0);
  const file = path.join(sub, "wrangler.toml");
  writeFileSync(file, edit(readFileSync(file, "utf8")));
  return cli(["check", ...args], { cwd: sub });
}

test("check: a secret in vars, variables PROVIDERS shadows, routes that miss the worker's paths or a PROTECT rule", () => {
  const filled = checkEdited("filled", (t) => t);
  assert.equal(filled.status, 0, filled.stdout);
  assert.equal(filled.stdout.split("\n")[0], "top level: ok");

  const secret = checkEdited("secret", (t) => t.replace(/^\[vars\]$/m, '[vars]\nSTYTCH_SECRET = "secret-test-in-the-file"'));
  assert.equal(secret.status, 1);
  assert.match(secret.stdout, /error: STYTCH_SECRET is in vars, in plain text in the file: remove it and use `npx wrangler secret put STYTCH_SECRET`/);

  const shadowed = checkEdited("shadowed", (t) =>
    t.replace(/^\[vars\]$/m, '[vars]\nJWT_AUDIENCE = "other"\nPROVIDERS = [{ name = "supabase", preset = "supabase", project_url = "https://abcdefghijklmnopqrst.supabase.co", stytch_profile_id = "trusted-auth-token-profile-test-1" }]'),
  );
  assert.equal(shadowed.status, 0, shadowed.stdout);
  assert.match(shadowed.stdout, /^top level: ok \(3 warnings\)$/m);
  for (const v of ["SUPABASE_URL", "STYTCH_PROFILE_ID", "JWT_AUDIENCE"]) {
    assert.match(shadowed.stdout, new RegExp(`warning: vars\\.${v} is ignored: PROVIDERS is set`));
  }

  const missing = checkEdited("missing-route", (t) => t.replace(`  "${HOST}/healthz",\n`, ""));
  assert.equal(missing.status, 1);
  assert.match(missing.stdout, new RegExp(`error: routes: no pattern on ${HOST.replaceAll(".", "\\.")} covers /healthz, one of the worker's own paths`));

  const wide = checkEdited("wide-route", (t) => t.replace(/^routes = \[[^\]]*\]/m, `routes = ["${HOST}/api/*", "${HOST}/healthz"]`));
  assert.equal(wide.status, 0, wide.stdout);
  assert.match(wide.stdout, /warning: routes: app\.acme-corp\.dev\/api\/\* sends every path under \/api\/ to the worker, which answers the app's own paths 404 without PROTECT/);

  const gateway = checkEdited("gateway", (t) => t.replace(/^\[vars\]$/m, '[vars]\nPROTECT = [{ path = "/dashboard/*", upstream = "origin" }]'));
  assert.equal(gateway.status, 1, gateway.stdout);
  assert.match(gateway.stdout, /error: routes: no pattern on app\.acme-corp\.dev covers the PROTECT path \/dashboard\/\*: requests there would go to the app directly, past the gateway/);
  const whole = checkEdited("gateway-whole", (t) => t.replace(/^\[vars\]$/m, '[vars]\nPROTECT = [{ path = "/dashboard/*", upstream = "origin" }]').replace(/^routes = \[[^\]]*\]/m, `routes = ["${HOST}/*"]`));
  assert.equal(whole.status, 0, whole.stdout);
  assert.equal(whole.stdout, "top level: ok\n  note: STYTCH_SECRET is not in .dev.vars or the environment: checked as if set (`npx wrangler secret put STYTCH_SECRET`)\n");

  // A misspelt variable does nothing: said, with the name it was meant to be.
  const typo = checkEdited("typo", (t) => t.replace(/^\[vars\]$/m, '[vars]\nREQUIRE_AAL = "aal2"\ncookie_http_only = "false"'));
  assert.equal(typo.status, 0, typo.stdout);
  assert.match(typo.stdout, /warning: vars\.REQUIRE_AAL is not a variable the worker reads: it has no effect \(did you mean REQUIRED_AAL\?\)/);
  assert.match(typo.stdout, /warning: vars\.cookie_http_only is not a variable the worker reads: it has no effect \(did you mean COOKIE_HTTP_ONLY\?\)/);

  // Ids in each other's place, and the template's own provider example uncommented.
  const swapped = checkEdited("swapped", (t) => t.replace(`STYTCH_PROJECT_ID = "${PROJECT_ID}"`, `STYTCH_PROJECT_ID = "${PROFILE_ID}"`).replace(`STYTCH_PROFILE_ID = "${PROFILE_ID}"`, `STYTCH_PROFILE_ID = "${PROJECT_ID}"`));
  assert.match(swapped.stdout, /warning: vars\.STYTCH_PROJECT_ID "trusted-auth-token-profile-test-77777777" does not look like a Stytch project id .*: that is a Trusted Auth Token profile id/);
  assert.match(swapped.stdout, /warning: vars\.STYTCH_PROFILE_ID "project-test-[^"]*" does not look like a Trusted Auth Token profile id .*: that is a project id/);
  const example = checkEdited("provider-example", (t) => t.replace(/^# PROVIDERS = \[\n# (.*)\n# (.*)\n# \]$/m, "PROVIDERS = [\n$1\n$2\n]"));
  assert.equal(example.status, 1, example.stdout);
  assert.match(example.stdout, /error: vars\.PROVIDERS is the template's placeholder "https:\/\/your-tenant\.us\.auth0\.com\/"/);
  assert.match(example.stdout, /error: vars\.PROVIDERS is the template's placeholder "<Auth0 client id>"/);

  const none = checkEdited("no-routes", (t) => t.replace(/^routes = \[[^\]]*\]\n/m, ""));
  assert.equal(none.status, 1);
  assert.match(none.stdout, /error: no routes and workers_dev = false: no request can reach the worker/);
});

test("check reports the worker's own refusal per environment, and files wrangler cannot read", () => {
  const planted = checkEdited("planted", (t) => t.replace(/^SUPABASE_URL = ".*"$/m, 'SUPABASE_URL = "http://abcdefghijklmnopqrst.supabase.co"'));
  assert.equal(planted.status, 1, planted.stdout);
  assert.match(planted.stdout, /^  error: the worker would not start; it would log \{"config_error":"SUPABASE_URL: [^"]*https[^"]*"\}$/m);

  const rule = checkEdited("rule", (t) => t.replace(/^\[vars\]$/m, '[vars]\nPROTECT = [{ path = "/admin/*", upstream = "origin", require_aal = "aal3" }]').replace(/^routes = \[[^\]]*\]/m, `routes = ["${HOST}/*"]`), ["--json"]);
  assert.equal(rule.status, 1, rule.stdout);
  assert.match(JSON.parse(rule.stdout).environments[0].worker, /^\{"config_error":"PROTECT: rule #0 \(\/admin\/\*\): require_aal: aal3 is not/);

  const noKv = checkEdited("no-kv", (t) => t.replace('[[kv_namespaces]]\nbinding = "JWKS_CACHE"', '[[kv_namespaces]]\nbinding = "OTHER"'));
  assert.equal(noKv.status, 1);
  assert.match(noKv.stdout, /error: the worker would not start; it would log \{"config_error":"JWKS_CACHE: KV namespace binding is missing"\}/);

  const missingEnv = checkEdited("missing-env", (t) => t, ["--env", "nope"]);
  assert.equal(missingEnv.status, 2);
  assert.match(missingEnv.stderr, /has no environment nope/);

  const broken = checkEdited("broken", () => 'name = "x"\n[vars\n');
  assert.equal(broken.status, 1);
  assert.match(broken.stdout, /wrangler\.toml: wrangler cannot read it: .*/);

  // A wrangler.jsonc as `npm create cloudflare` writes them, found as wrangler finds it.
  const sub = folder("jsonc-found");
  writeFileSync(
    path.join(sub, "wrangler.jsonc"),
    `{\n  // comments and trailing commas\n  "name": "x",\n  "main": "../node_modules/edge-attest/worker/index.js",\n  "compatibility_date": "2026-11-01",\n  "vars": { "SUPABASE_URL": "http://not-loopback.example", "STYTCH_PROJECT_ID": "${PROJECT_ID}", "STYTCH_PROFILE_ID": "p", },\n  "kv_namespaces": [{ "binding": "JWKS_CACHE" },],\n}\n`,
  );
  mkdirSync(path.join(sub, "deeper"));
  const found = cli(["check"], { cwd: path.join(sub, "deeper") });
  assert.equal(found.status, 1, found.stdout + found.stderr);
  assert.match(found.stdout, /\{"config_error":"SUPABASE_URL: [^"]*https[^"]*"\}/);
  assert.match(found.stdout, /warning: no routes: the worker is served on workers\.dev only/);
});

test("the repository's wrangler.toml is init's file for a build from source", () => {
  let n = 7100;
  const expected = toToml(document({ main: "build/index.js", build: true, rateLimitIds: () => String(++n) }));
  assert.equal(readFileSync(path.join(ROOT, "wrangler.toml"), "utf8"), expected, "node scripts/wrangler-toml.mjs writes it");
  for (const p of WORKER_PATHS) assert.ok(expected.includes(`"app.example.com${p}"`), p);
});

test("the routes init writes are the worker's own paths, as the build says", async () => {
  const { loadWorker } = await import(path.join(dir, "node_modules", "edge-attest", "lib", "worker.js"));
  const glue = await loadWorker(path.join(dir, "node_modules", "edge-attest", "worker", "glue", "index.js"));
  assert.deepEqual(JSON.parse(glue.check_facts()).routes, WORKER_PATHS);
});
