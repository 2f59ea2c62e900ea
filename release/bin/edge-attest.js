#!/usr/bin/env node
// edge-attest's command-line tool, shipped in the npm package: `init` writes a wrangler
// configuration for the installed worker, `check` reads one as `wrangler deploy` will (with
// wrangler's own reader) and runs the worker's own configuration check on it, plus what a
// first deploy gets wrong. docs/release.md has the package, the commands and how to rebuild
// it from source.

import { randomInt } from 'node:crypto';
import { existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { EXAMPLE_HOST, document, toJsonc, toToml } from '../lib/template.js';
import { ConfigReadError, SECRETS, devBindings, environments, findWranglerConfig, findings, loadWrangler, routeList } from '../lib/wrangler-config.js';
import { KvNamespace, loadWorker, rateLimitBinding } from '../lib/worker.js';

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')).version;

const EXIT_CODES = `Exit codes:
  0  done (check: no errors; warnings and notes may be printed)
  1  check found an error in the configuration
  2  the command could not run: a wrong option, no configuration file, wrangler missing`;

const USAGE = `edge-attest ${VERSION}

Usage:
  npx edge-attest init [options]      writes ./wrangler.toml (or .jsonc) for this package's worker
  npx edge-attest check [options]     checks a wrangler configuration before a deploy
  npx edge-attest --version

npx edge-attest <command> --help tells more.

${EXIT_CODES}
`;

const HELP = {
  init: `Usage: npx edge-attest init [options]

Writes ./wrangler.toml (or ./wrangler.jsonc) for this package's worker: its main module, the
worker's routes on your app's host, the variables (the three every deployment sets, the others
commented out with their defaults), the KV namespace (created by the first \`wrangler deploy\`),
two rate limits with namespace ids of their own, the cron prewarm, workers.dev and preview URLs
off. Never overwrites a file. What it cannot know is left as a placeholder that
\`npx edge-attest check\` names.

Options:
  --host HOST                 your app's host name (its zone on Cloudflare), e.g. app.example.com
  --supabase-url URL          https://<ref>.supabase.co
  --stytch-project-id ID      project-test-… or project-live-…
  --stytch-profile-id ID      the Trusted Auth Token profile's id
  --name NAME                 the worker's name (default edge-attest)
  --format toml|jsonc         wrangler.toml (default) or wrangler.jsonc
  --environments A,B          also environments A and B (e.g. staging,production), each a worker
                              of its own with its own routes, variables and bindings
  -h, --help                  this text

${EXIT_CODES}
`,
  check: `Usage: npx edge-attest check [options] [path/to/wrangler.toml|.json|.jsonc]

Reads the configuration with wrangler's own reader, as \`wrangler deploy\` will, and for the top
level and every environment (or only --env NAME):
  - runs the worker's own configuration check on its variables (with .dev.vars, and
    STYTCH_SECRET / KEY_CACHE_SECRET from the environment when present), as an isolate would;
  - errors: a placeholder the template left (your-project-ref, the example ids, example.com),
    a secret in vars, routes that miss one of the worker's paths or a PROTECT rule's path;
  - warnings: variables PROVIDERS makes the worker ignore, routes that take the app's own paths.
Without a file, the one wrangler would use here (wrangler.json, .jsonc or .toml, looking up).

Options:
  -e, --env NAME              only this environment ("" the top level)
  --json                      the findings as one JSON object on stdout
  -h, --help                  this text

${EXIT_CODES}
`,
};

function fail(message, usage = '') {
  process.stderr.write(`edge-attest: ${message}\n${usage ? `\n${usage}` : ''}`);
  process.exit(2);
}

/** The command's options, or exit 2 naming what is wrong. */
function options(command, argv, spec) {
  try {
    return parseArgs({ args: argv, options: { ...spec, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (e) {
    fail(e.message.split('\n')[0], HELP[command]);
  }
}

function init(argv) {
  const { values, positionals } = options('init', argv, {
    host: { type: 'string' },
    'supabase-url': { type: 'string' },
    'stytch-project-id': { type: 'string' },
    'stytch-profile-id': { type: 'string' },
    name: { type: 'string' },
    format: { type: 'string' },
    environments: { type: 'string' },
  });
  if (values.help) return process.stdout.write(HELP.init);
  if (positionals.length > 0) fail('init takes no file name: it writes ./wrangler.toml or ./wrangler.jsonc', HELP.init);
  const format = values.format ?? 'toml';
  if (format !== 'toml' && format !== 'jsonc') fail('--format: toml or jsonc');
  const name = values.name ?? 'edge-attest';
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name)) fail('--name: lower-case letters, digits and dashes, at most 63');
  const host = values.host?.toLowerCase() ?? EXAMPLE_HOST;
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$/.test(host)) fail('--host: a host name like app.example.com (no scheme, port or path)');
  const envs = values.environments === undefined ? [] : values.environments.split(',').map((e) => e.trim());
  if (envs.some((e) => !/^[a-z0-9][a-z0-9-]{0,30}$/.test(e)) || new Set(envs).size !== envs.length) fail('--environments: distinct names of lower-case letters, digits and dashes, comma-separated');
  const given = {};
  for (const [flag, variable] of [['supabase-url', 'SUPABASE_URL'], ['stytch-project-id', 'STYTCH_PROJECT_ID'], ['stytch-profile-id', 'STYTCH_PROFILE_ID']]) {
    const v = values[flag];
    if (v === undefined) continue;
    if (v.trim() === '' || /[\p{Cc}\s"'\\]/u.test(v)) fail(`--${flag}: ${JSON.stringify(v)} is not a value for ${variable}`);
    given[variable] = v;
  }
  // `main` must point into the project's own node_modules: run through `npx` without a local
  // install, this file lives in npm's cache, which wrangler would bundle from and npm may clear.
  let installed = null;
  try {
    installed = dirname(createRequire(resolve('package.json')).resolve('edge-attest/package.json'));
  } catch {
    // not installed here
  }
  if (installed === null || realpathSync(installed) !== realpathSync(PACKAGE)) {
    fail('edge-attest is not installed in this project: npm install edge-attest wrangler, then npx edge-attest init');
  }
  for (const other of ['wrangler.toml', 'wrangler.json', 'wrangler.jsonc']) {
    if (existsSync(resolve(other))) fail(`${other} already exists here; not overwritten (remove it, or compare it with the output of init in an empty folder)`);
  }
  const file = `wrangler.${format}`;
  const main = relative(process.cwd(), join(PACKAGE, 'worker', 'index.js')).split(sep).join('/');
  const doc = document({ main, name, host, values: given, environments: envs, rateLimitIds: () => String(randomInt(100_000, 2_000_000_000)), version: VERSION });
  writeFileSync(resolve(file), format === 'toml' ? toToml(doc) : toJsonc(doc), { flag: 'wx' });
  const left = ['--host', '--supabase-url', '--stytch-project-id', '--stytch-profile-id'].filter((f) => values[f.slice(2)] === undefined);
  process.stdout.write(`wrote ${file} (main = "${main}")${left.length ? `; placeholders left for ${left.join(', ')}: fill them in (check names them)` : ''}

Next:
${nextSteps(host).map((c) => `  ${c}`).join('\n')}
${envs.length ? `\nEach environment (fill in its routes and [vars] first):\n${envs.map((e) => `  npx wrangler secret put STYTCH_SECRET --env ${e}\n  npx wrangler deploy --env ${e}`).join('\n')}\n` : ''}`);
}

/** What to run after init: the README's Deploy commands that follow it, word for word. */
function nextSteps(host) {
  return ['npx wrangler secret put STYTCH_SECRET', 'npx edge-attest check', 'npx wrangler deploy', `curl https://${host}/healthz`];
}

async function check(argv) {
  const { values, positionals } = options('check', argv, { env: { type: 'string', short: 'e' }, json: { type: 'boolean' } });
  if (values.help) return process.stdout.write(HELP.check);
  if (positionals.length > 1) fail('check takes one configuration file', HELP.check);
  const file = positionals[0] ? resolve(positionals[0]) : findWranglerConfig(process.cwd());
  if (file === null) fail('no wrangler.json, wrangler.jsonc or wrangler.toml here or above (npx edge-attest init writes one)');
  if (!existsSync(file)) fail(`${file} does not exist (npx edge-attest init writes one)`);
  if (!/\.(toml|json|jsonc)$/.test(file)) fail('check reads wrangler.toml, wrangler.json or wrangler.jsonc files');
  const wrangler = await loadWrangler(process.cwd(), PACKAGE);
  if (wrangler === null) fail('check reads the configuration with wrangler\'s own reader, and wrangler is not installed here: npm install wrangler');

  const report = { file, ok: true, environments: [] };
  let envs;
  try {
    envs = environments(wrangler, file, values.env);
  } catch (e) {
    if (!(e instanceof ConfigReadError)) throw e;
    report.ok = false;
    report.error = `${relative(process.cwd(), file) || file}: wrangler cannot read it: ${e.message}`;
    return finish(report, values.json);
  }
  if (envs === null) fail(`${file} has no environment ${values.env}`);
  const worker = await loadWorker(join(PACKAGE, 'worker', 'glue', 'index.js'));
  const facts = JSON.parse(worker.check_facts());
  const claimed = new Map(); // route pattern -> the environment that has it first
  for (const env of envs) {
    const { errors, warnings } = findings(env, facts);
    // Two workers on one route: whichever deployed last takes it.
    for (const r of routeList(env.config)) {
      const first = claimed.get(r.pattern);
      if (first !== undefined && first !== env.label) warnings.push(`routes: ${r.pattern} is also ${first}'s: two workers on one route, the last deployed takes it`);
      else claimed.set(r.pattern, env.label);
    }
    if (env.name === 'production' && /^project-test-/.test(String(env.config.vars?.STYTCH_PROJECT_ID ?? ''))) {
      warnings.push('vars.STYTCH_PROJECT_ID is a test project in the production environment');
    }
    const notes = [];
    const bindings = devBindings(wrangler, env);
    for (const name of SECRETS) {
      if (bindings[name] === undefined && typeof process.env[name] === 'string') bindings[name] = process.env[name];
    }
    if (bindings.STYTCH_SECRET === undefined) {
      // A secret lives in Cloudflare, not in the file: checked as set (its only rule is no
      // control characters), and said so.
      bindings.STYTCH_SECRET = 'secret-not-known-to-check';
      notes.push(`STYTCH_SECRET is not in .dev.vars or the environment: checked as if set (\`npx wrangler secret put STYTCH_SECRET${env.name ? ` --env ${env.name}` : ''}\`)`);
    }
    for (const kv of env.config.kv_namespaces ?? []) if (bindings[kv.binding] === undefined) bindings[kv.binding] = new KvNamespace();
    const limits = [...(env.config.ratelimits ?? []), ...(env.config.unsafe?.bindings ?? []).filter((b) => b?.type === 'ratelimit')];
    for (const r of limits) if (typeof r?.name === 'string' && bindings[r.name] === undefined) bindings[r.name] = rateLimitBinding();
    const line = worker.check_configuration(bindings) ?? null;
    if (line) errors.unshift(`the worker would not start; it would log ${line}`);
    if (errors.length) report.ok = false;
    report.environments.push({ name: env.name, label: env.label, ok: errors.length === 0, worker: line, errors, warnings, notes });
  }
  finish(report, values.json);
}

function finish(report, json) {
  if (json) {
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else if (report.error) {
    process.stdout.write(`${report.error}\n`);
  } else {
    for (const e of report.environments) {
      const counts = [[e.errors.length, 'error'], [e.warnings.length, 'warning']].filter(([n]) => n > 0).map(([n, w]) => `${n} ${w}${n > 1 ? 's' : ''}`);
      process.stdout.write(`${e.label}: ${e.ok ? 'ok' : 'not ready'}${counts.length ? ` (${counts.join(', ')})` : ''}\n`);
      for (const x of e.errors) process.stdout.write(`  error: ${x}\n`);
      for (const x of e.warnings) process.stdout.write(`  warning: ${x}\n`);
      for (const x of e.notes) process.stdout.write(`  note: ${x}\n`);
    }
  }
  process.exit(report.ok ? 0 : 1);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'init') init(rest);
else if (command === 'check') await check(rest);
else if (command === '--version' || command === '-v') process.stdout.write(`${VERSION}\n`);
else if (command === undefined || command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE);
else fail(`unknown command ${command}`, USAGE);
