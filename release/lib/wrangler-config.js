// What wrangler would bind for each environment of a wrangler.toml, as far as the worker's
// configuration check can see it: the variables of `[vars]` (structured values kept as they
// are, like wrangler does), the secrets of `.dev.vars` (or `.dev.vars.<env>`), and which of
// the bindings the worker reads exist. As in wrangler, `vars`, `kv_namespaces` and
// `ratelimits` are not inherited by an environment: each `[env.NAME]` has its own.
// https://developers.cloudflare.com/workers/wrangler/configuration/#non-inheritable-keys

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { JsoncError, parseJsonc } from './jsonc.js';
import { TomlError, parseToml } from './toml.js';

/** The secrets the worker reads; they belong in `wrangler secret put`, never in `[vars]`. */
export const SECRETS = ['STYTCH_SECRET', 'KEY_CACHE_SECRET'];

/** A file that is not valid TOML or JSON(C): the message names the line. */
export const isSyntaxError = (e) => e instanceof TomlError || e instanceof JsoncError;

/** wrangler.toml, wrangler.json or wrangler.jsonc, by its extension. */
export function readWranglerConfig(path) {
  const text = readFileSync(path, 'utf8');
  return path.endsWith('.toml') ? parseToml(text) : parseJsonc(text);
}

/**
 * The configuration wrangler would use from `dir`: wrangler.json, then wrangler.jsonc, then
 * wrangler.toml, each looked for in `dir` and the folders above it, as wrangler does.
 */
export function findWranglerConfig(dir) {
  for (const name of ['wrangler.json', 'wrangler.jsonc', 'wrangler.toml']) {
    for (let d = dir; ; d = dirname(d)) {
      if (existsSync(join(d, name))) return join(d, name);
      if (dirname(d) === d) break;
    }
  }
  return null;
}

/**
 * The environments to check: the top level and every `[env.NAME]`, or only `only`.
 * Each: { label, name (null for the top level), vars, kvBindings, rateLimits }.
 */
export function environments(config, only) {
  const envs = isObject(config.env) ? config.env : {};
  const pick = (name) => {
    const section = name === null ? config : envs[name];
    return {
      label: name === null ? 'top level' : `env ${name}`,
      name,
      vars: isObject(section.vars) ? section.vars : {},
      kvBindings: list(section.kv_namespaces).map((k) => k?.binding).filter((b) => typeof b === 'string'),
      rateLimits: [
        ...list(section.ratelimits).map((r) => r?.name),
        // The older spelling: [[unsafe.bindings]] with type = "ratelimit".
        ...list(section.unsafe?.bindings).filter((b) => b?.type === 'ratelimit').map((b) => b?.name),
      ].filter((n) => typeof n === 'string'),
    };
  };
  if (only !== undefined) {
    if (only !== null && !Object.hasOwn(envs, only)) return null;
    return [pick(only)];
  }
  return [pick(null), ...Object.keys(envs).map(pick)];
}

/**
 * The secrets wrangler dev would read for an environment: `.dev.vars.<env>` when it exists,
 * else `.dev.vars`, next to the configuration file. `{}` when there is neither.
 */
export function devVars(configPath, envName) {
  const dir = dirname(configPath);
  const candidates = envName ? [join(dir, `.dev.vars.${envName}`), join(dir, '.dev.vars')] : [join(dir, '.dev.vars')];
  for (const file of candidates) {
    if (existsSync(file)) return { file, values: parseDotenv(readFileSync(file, 'utf8')) };
  }
  return { file: null, values: {} };
}

/** `.dev.vars` lines: `NAME=value`, `NAME="value"` (with \n escapes), `NAME='value'`, `# comments`. */
export function parseDotenv(text) {
  const out = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2];
    if (value.startsWith('"') && value.lastIndexOf('"') > 0) {
      value = value.slice(1, value.lastIndexOf('"')).replace(/\\n/g, '\n').replace(/\\r/g, '\r');
    } else if (value.startsWith("'") && value.lastIndexOf("'") > 0) {
      value = value.slice(1, value.lastIndexOf("'"));
    } else {
      value = value.replace(/\s+#.*$/, '').trim();
    }
    out[m[1]] = value;
  }
  return out;
}

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function list(v) {
  return Array.isArray(v) ? v : [];
}
