#!/usr/bin/env node
// edge-attest's command-line tool, shipped in the npm package (no dependencies beyond Node):
//   edge-attest init [--name NAME]                    writes ./wrangler.toml for the installed worker
//   edge-attest check [--env NAME] [wrangler.toml]   the worker's own configuration check
//   edge-attest --version
// docs/release.md has the package, the commands and how to rebuild it from source.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SECRETS, devVars, environments, findWranglerConfig, isSyntaxError, readWranglerConfig } from '../lib/wrangler-config.js';
import { KvNamespace, loadWorker, rateLimitBinding } from '../lib/worker.js';

const PACKAGE = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VERSION = JSON.parse(readFileSync(join(PACKAGE, 'package.json'), 'utf8')).version;

const USAGE = `edge-attest ${VERSION}

Usage:
  npx edge-attest init [--name NAME]
      Writes ./wrangler.toml for this package's worker: its main module, the variables to
      fill in, the KV namespace, the rate limits and the cron trigger. Never overwrites.
  npx edge-attest check [--env NAME] [path/to/wrangler.toml|.json|.jsonc]
      Runs the worker's own configuration check on the file's vars (with .dev.vars and
      STYTCH_SECRET / KEY_CACHE_SECRET from the environment when present), for the top level
      and every [env.*], or only --env NAME (--env "" the top level). Prints what the worker would log; exit code 1 on
      any error.
  npx edge-attest --version
`;

function fail(message) {
  process.stderr.write(`edge-attest: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const out = { positional: [], env: undefined, name: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--env' || a === '-e' || a === '--name') {
      const v = argv[++i];
      if (v === undefined || v.startsWith('-')) fail(`${a} needs a value`);
      if (a === '--name') out.name = v;
      else out.env = v;
    } else if (a.startsWith('--env=')) out.env = a.slice(6);
    else if (a.startsWith('--name=')) out.name = a.slice(7);
    else if (a.startsWith('-')) fail(`unknown option ${a}\n\n${USAGE}`);
    else out.positional.push(a);
  }
  return out;
}

// init: the package's commented example with `main` pointing into the installed package.
function init(args) {
  if (args.positional.length > 0) fail('init takes no file name: it writes ./wrangler.toml');
  const target = resolve('wrangler.toml');
  for (const other of ['wrangler.toml', 'wrangler.json', 'wrangler.jsonc']) {
    if (existsSync(resolve(other))) {
      fail(`${other} already exists here; not overwritten (remove it, or merge ${join(PACKAGE, 'wrangler.example.toml')} by hand)`);
    }
  }
  const entry = relative(process.cwd(), join(PACKAGE, 'worker', 'index.js')).split(sep).join('/');
  let text = readFileSync(join(PACKAGE, 'wrangler.example.toml'), 'utf8');
  const mainLine = /^main = ".*"$/m;
  if (!mainLine.test(text)) fail('the package is damaged: wrangler.example.toml has no main line');
  text = text.replace(mainLine, `main = "${entry}"`);
  if (args.name !== undefined) {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(args.name)) fail('--name: lower-case letters, digits and dashes, at most 63');
    text = text.replace(/^name = "edge-attest"$/m, `name = "${args.name}"`);
  }
  writeFileSync(target, text, { flag: 'wx' });
  process.stdout.write(`wrote wrangler.toml (main = "${entry}")

Next:
  1. Fill in [vars] (SUPABASE_URL, STYTCH_PROJECT_ID, STYTCH_PROFILE_ID, ALLOWED_ORIGINS).
  2. npx wrangler kv namespace create JWKS_CACHE    and put its id in [[kv_namespaces]]
  3. npx wrangler secret put STYTCH_SECRET
  4. npx edge-attest check
  5. npx wrangler deploy
`);
}

async function check(args) {
  if (args.positional.length > 1) fail('check takes one configuration file');
  const file = args.positional[0] ? resolve(args.positional[0]) : findWranglerConfig(process.cwd());
  if (file === null) fail('no wrangler.json, wrangler.jsonc or wrangler.toml here or above (npx edge-attest init writes one)');
  if (!existsSync(file)) fail(`${file} does not exist (npx edge-attest init writes one)`);
  if (!/\.(toml|json|jsonc)$/.test(file)) fail('check reads wrangler.toml, wrangler.json or wrangler.jsonc files');
  let config;
  try {
    config = readWranglerConfig(file);
  } catch (e) {
    if (isSyntaxError(e)) {
      process.stdout.write(`${file}: not valid ${file.endsWith('.toml') ? 'TOML' : 'JSON'}, ${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
  // `--env ""` is the top level alone, as for wrangler.
  const envs = environments(config, args.env === '' ? null : args.env);
  if (envs === null) fail(`${file} has no [env.${args.env}]`);
  const worker = await loadWorker(join(PACKAGE, 'worker', 'glue', 'index.js'));
  let errors = 0;
  for (const env of envs) {
    const secrets = devVars(file, env.name);
    const bindings = { ...env.vars, ...secrets.values };
    const notes = [];
    for (const name of SECRETS) {
      if (Object.hasOwn(env.vars, name)) {
        notes.push(`${name} is in [vars], in plain text in wrangler.toml: use \`npx wrangler secret put ${name}${env.name ? ` --env ${env.name}` : ''}\``);
      }
      if (bindings[name] === undefined && typeof process.env[name] === 'string') bindings[name] = process.env[name];
    }
    if (bindings.STYTCH_SECRET === undefined) {
      // A secret lives in Cloudflare, not in the file: checked as set (its only rule is no
      // control characters), and said so.
      bindings.STYTCH_SECRET = 'secret-not-known-to-check';
      notes.push(`STYTCH_SECRET is not in ${secrets.file ? relative(process.cwd(), secrets.file) : '.dev.vars'} or the environment: checked as if set (\`npx wrangler secret put STYTCH_SECRET${env.name ? ` --env ${env.name}` : ''}\`)`);
    }
    for (const b of env.kvBindings) if (bindings[b] === undefined) bindings[b] = new KvNamespace();
    for (const r of env.rateLimits) if (bindings[r] === undefined) bindings[r] = rateLimitBinding();
    const line = worker.check_configuration(bindings);
    if (line) errors++;
    process.stdout.write(`${env.label}: ${line ?? 'ok'}\n`);
    for (const n of notes) process.stdout.write(`  note: ${n}\n`);
  }
  process.exit(errors > 0 ? 1 : 0);
}

const [command, ...rest] = process.argv.slice(2);
if (command === 'init') init(parseArgs(rest));
else if (command === 'check') await check(parseArgs(rest));
else if (command === '--version' || command === '-v') process.stdout.write(`${VERSION}\n`);
else if (command === undefined || command === 'help' || command === '--help' || command === '-h') process.stdout.write(USAGE);
else fail(`unknown command ${command}\n\n${USAGE}`);
