// A wrangler configuration file as `wrangler deploy` will read it, with wrangler's own reader
// (wrangler is the package's peer dependency: the user deploys with it), and what
// `edge-attest check` finds in it beyond the worker's own configuration check: placeholders
// the template left, a secret in plain text, variables PROVIDERS makes the worker ignore,
// and routes that miss one of the worker's paths or a PROTECT rule.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { PLACEHOLDERS } from './template.js';

/** The secrets the worker reads; they belong in `wrangler secret put`, never in `[vars]`. */
export const SECRETS = ['STYTCH_SECRET', 'KEY_CACHE_SECRET'];

/** Why the configuration could not be read (no wrangler, a file wrangler refuses). */
export class ConfigReadError extends Error {}

/**
 * wrangler's module, from the project in `dir` (where `npx wrangler deploy` finds it), else
 * next to this package. Null when neither has it.
 */
export async function loadWrangler(dir, packageDir) {
  for (const from of [join(dir, 'package.json'), join(packageDir, 'package.json')]) {
    try {
      const path = createRequire(from).resolve('wrangler');
      return await import(pathToFileURL(path).href);
    } catch {
      // not installed there
    }
  }
  return null;
}

/**
 * The environments of `file` as `wrangler deploy [--env NAME]` reads each: the top level and
 * every `env.NAME`, or only `only` ('' or null: the top level). Each is
 * { label, name (null for the top level), config (wrangler's resolved Config) }.
 */
export function environments(wrangler, file, only) {
  let raw;
  try {
    raw = wrangler.experimental_readRawConfig({ config: file }).rawConfig;
  } catch (e) {
    throw new ConfigReadError(message(e));
  }
  const names = isObject(raw.env) ? Object.keys(raw.env) : [];
  let chosen = [null, ...names];
  if (only !== undefined) {
    if (only !== null && only !== '' && !names.includes(only)) return null;
    chosen = [only || null];
  }
  return chosen.map((name) => {
    let config;
    try {
      config = wrangler.unstable_readConfig({ config: file, env: name ?? undefined }, { hideWarnings: true });
    } catch (e) {
      throw new ConfigReadError(message(e));
    }
    return { label: name === null ? 'top level' : `env ${name}`, name, config };
  });
}

/**
 * What `wrangler dev` would bind for an environment's variables: its `vars` with `.dev.vars`
 * (or `.env`) on top, read by wrangler.
 */
export function devBindings(wrangler, env) {
  const out = {};
  const vars = wrangler.unstable_getVarsForDev(env.config.configPath, undefined, env.config.vars ?? {}, env.name ?? undefined, true);
  for (const [k, v] of Object.entries(vars)) out[k] = isObject(v) && 'value' in v && 'type' in v ? v.value : v;
  return out;
}

/**
 * The findings for one environment: { errors: [], warnings: [], notes: [] } of plain
 * sentences. `facts` is the build's own { routes, shadowed_by_providers }.
 */
export function findings(env, facts) {
  const { config } = env;
  const vars = config.vars ?? {};
  const errors = [];
  const warnings = [];
  const suffix = env.name ? ` --env ${env.name}` : '';

  for (const { where, text } of strings(config)) {
    for (const p of PLACEHOLDERS) {
      if (text.includes(p.text)) {
        errors.push(`${where} is the template's placeholder ${JSON.stringify(text)}: put ${p.what} there`);
        break;
      }
    }
  }
  for (const name of SECRETS) {
    if (Object.hasOwn(vars, name)) {
      errors.push(`${name} is in vars, in plain text in the file: remove it and use \`npx wrangler secret put ${name}${suffix}\``);
    }
  }
  for (const name of Object.keys(vars)) {
    if (facts.variables.includes(name)) continue;
    const near = closest(name, facts.variables);
    warnings.push(`vars.${name} is not a variable the worker reads: it has no effect${near ? ` (did you mean ${near}?)` : ''}`);
  }
  const project = typeof vars.STYTCH_PROJECT_ID === 'string' ? vars.STYTCH_PROJECT_ID : '';
  const profile = typeof vars.STYTCH_PROFILE_ID === 'string' ? vars.STYTCH_PROFILE_ID : '';
  if (project && !/^project-(test|live)-/.test(project)) {
    warnings.push(`vars.STYTCH_PROJECT_ID ${JSON.stringify(project)} does not look like a Stytch project id (project-test-… or project-live-…, the API keys page)${/^trusted-auth-token-profile-/.test(project) ? ': that is a Trusted Auth Token profile id' : ''}`);
  }
  if (profile && !/^trusted-auth-token-profile-(test|live)-/.test(profile)) {
    warnings.push(`vars.STYTCH_PROFILE_ID ${JSON.stringify(profile)} does not look like a Trusted Auth Token profile id (trusted-auth-token-profile-test-… or -live-…)${/^project-/.test(profile) ? ': that is a project id' : ''}`);
  }
  const mode = (id) => /^[a-z-]+-(test|live)-/.exec(id)?.[1];
  if (mode(project) && mode(profile) && mode(project) !== mode(profile)) {
    warnings.push(`STYTCH_PROJECT_ID is a ${mode(project)} project and STYTCH_PROFILE_ID a ${mode(profile)} profile: a profile belongs to one project`);
  }
  if (Object.hasOwn(vars, 'PROVIDERS')) {
    for (const name of facts.shadowed_by_providers) {
      if (Object.hasOwn(vars, name)) warnings.push(`vars.${name} is ignored: PROVIDERS is set and is the complete list of providers (put it in a PROVIDERS entry, or remove it)`);
    }
  }

  const routes = routeList(config);
  const custom = routes.filter((r) => r.custom);
  const patterns = routes.filter((r) => !r.custom);
  if (routes.length === 0) {
    if (config.workers_dev === false) errors.push('no routes and workers_dev = false: no request can reach the worker (routes = the worker\'s paths on your app\'s host: docs/operations.md#routes)');
    else warnings.push('no routes: the worker is served on workers.dev only, another site than your app (cookies third-party, ALLOWED_ORIGINS needed: docs/operations.md#routes)');
  }
  const protect = protectPaths(vars.PROTECT);
  for (const host of new Set(patterns.map((r) => r.host))) {
    if (custom.some((c) => c.host === host)) continue;
    const covering = patterns.filter((r) => hostMatches(r.host, host) || r.host === host);
    for (const path of facts.routes) {
      if (!covering.some((r) => pathMatches(r.path, path))) {
        errors.push(`routes: no pattern on ${host} covers ${path}, one of the worker's own paths (add "${host}${path}")`);
      }
    }
    for (const rule of protect) {
      if (!covering.some((r) => pathCovers(r.path, rule))) {
        errors.push(`routes: no pattern on ${host} covers the PROTECT path ${rule}: requests there would go to the app directly, past the gateway (routes = ["${host}/*"])`);
      }
    }
    if (protect.length === 0) {
      for (const r of covering.filter((r) => r.path.endsWith('*'))) {
        warnings.push(`routes: ${r.pattern} sends every path under ${r.path.slice(0, -1)} to the worker, which answers the app's own paths 404 without PROTECT; fine on a host of its own, else list the worker's paths alone`);
      }
    }
  }
  return { errors, warnings };
}

/** The listed name `name` most likely meant: the same but for case, or at most two edits away. */
function closest(name, names) {
  const upper = name.toUpperCase();
  let best = null;
  let bestDistance = 3;
  for (const n of names) {
    if (n === upper) return n;
    const d = distance(upper, n);
    if (d < bestDistance) [best, bestDistance] = [n, d];
  }
  return best;
}

/** Levenshtein distance. */
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/** Every string in the parts of the configuration a user fills in, with where it is. */
function* strings(config) {
  for (const [k, v] of Object.entries(config.vars ?? {})) yield* walk(`vars.${k}`, v);
  for (const r of routeList(config)) yield* walk('routes', r.pattern);
  for (const kv of config.kv_namespaces ?? []) if (kv.id) yield* walk(`kv_namespaces (${kv.binding}).id`, kv.id);
}
function* walk(where, v) {
  if (typeof v === 'string') yield { where, text: v };
  else if (Array.isArray(v)) for (const x of v) yield* walk(where, x);
  else if (isObject(v)) for (const x of Object.values(v)) yield* walk(where, x);
}

/** The routes of a resolved Config: { pattern, host, path, custom }. */
export function routeList(config) {
  const list = [...(config.routes ?? []), ...(config.route ? [config.route] : [])];
  return list.map((r) => {
    const pattern = typeof r === 'string' ? r : r.pattern;
    const custom = typeof r === 'object' && r.custom_domain === true;
    const rest = pattern.replace(/^https?:\/\//, '');
    const slash = rest.indexOf('/');
    return { pattern, custom, host: (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase(), path: slash < 0 ? '/' : rest.slice(slash) };
  });
}

/**
 * Whether a route pattern's host covers `host`: `*example.com` any host ending so,
 * `*.example.com` its subdomains, else the same name (case-insensitive).
 * https://developers.cloudflare.com/workers/configuration/routing/routes/#matching-behavior
 */
export function hostMatches(pattern, host) {
  return pattern.startsWith('*') ? host.endsWith(pattern.slice(1)) : pattern === host;
}

/** Whether a route pattern's path takes `path` (no query): a trailing `*` is any suffix. */
export function pathMatches(pattern, path) {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;
}

/** Whether a route pattern's path takes every path a PROTECT rule's pattern covers. */
function pathCovers(pattern, rule) {
  if (!rule.endsWith('*')) return pathMatches(pattern, rule);
  return pattern.endsWith('*') && rule.slice(0, -1).startsWith(pattern.slice(0, -1));
}

/** The `path` of each PROTECT rule, when PROTECT is readable (the worker's check says why not). */
function protectPaths(value) {
  let rules = value;
  if (typeof value === 'string') {
    try {
      rules = JSON.parse(value);
    } catch {
      return [];
    }
  }
  return Array.isArray(rules) ? rules.map((r) => r?.path).filter((p) => typeof p === 'string') : [];
}

/** The first line of an error wrangler threw, without its decoration. */
function message(e) {
  return String(e?.message ?? e).split('\n').filter((l) => l.trim() !== '')[0] ?? 'unreadable';
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

function isObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
