// Shared set-up for the integration tests: the stand-ins plus the compiled worker in workerd.
import { startSupabase, startStytch } from "../../dev/standins.mjs";
import { startWorker, ROOT } from "../../dev/worker.mjs";
import { spawnSync } from "node:child_process";
import path from "node:path";
import net from "node:net";

export const PROJECT_ID = "project-test-11111111-2222-3333-4444-555555555555";
export const SECRET = "secret-test-integration-NEVER-LOGGED";
export const PROFILE_ID = "trusted-auth-token-profile-test-66666666";

/**
 * Stand-ins plus one worker; `vars` override or (with undefined) remove variables; `config`
 * is another wrangler config (bindings) than tests/integration/wrangler.toml; `stytch(supabase)`
 * gives more options of the Stytch stand-in (profiles, organizations).
 */
export async function setup({ vars = {}, script, config, stytch: stytchOptions = () => ({}) } = {}) {
  const supabase = await startSupabase();
  const stytch = await startStytch({ projectId: PROJECT_ID, secret: SECRET, profileId: PROFILE_ID, supabase, ...stytchOptions(supabase) });
  const ctx = { supabase, stytch, worker: null };
  ctx.baseVars = {
    SUPABASE_URL: supabase.url,
    STYTCH_PROJECT_ID: PROJECT_ID,
    STYTCH_SECRET: SECRET,
    STYTCH_PROFILE_ID: PROFILE_ID,
    STYTCH_API_BASE: stytch.url,
    ...vars,
  };
  for (const [k, v] of Object.entries(ctx.baseVars)) if (v === undefined) delete ctx.baseVars[k];
  ctx.worker = await startWorker({ vars: ctx.baseVars, script, config });
  /**
   * Restarts workerd: a fresh isolate, same KV storage. `kvPut`: [key, value] pairs written to
   * that storage while the worker is down, with wrangler's own KV command (as anyone with
   * write access to the namespace could).
   */
  ctx.restart = async ({ vars: more = {}, freshKv = false, kvPut = [] } = {}) => {
    await ctx.worker.stop();
    const persistDir = freshKv ? undefined : ctx.worker.persistDir;
    for (const [key, value] of kvPut) await kvPutLocal(persistDir, config, key, value);
    ctx.worker = await startWorker({ vars: { ...ctx.baseVars, ...more }, script, config, persistDir });
  };
  ctx.close = async () => {
    await ctx.worker?.stop();
    await supabase.close();
    await stytch.close();
  };
  return ctx;
}

/** `wrangler kv key put --local` into the KV storage at `persistDir` (binding JWKS_CACHE). */
function kvPutLocal(persistDir, config, key, value) {
  const args = ["kv", "key", "put", key, value, "--binding", "JWKS_CACHE", "--local", "--persist-to", persistDir, "-c", config ?? path.join(ROOT, "tests/integration/wrangler.toml")];
  const out = spawnSync(path.join(ROOT, "node_modules/.bin/wrangler"), args, { cwd: ROOT, encoding: "utf8", env: { ...process.env, PATH: `${path.join(ROOT, "node_modules/.bin")}${path.delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" } });
  if (out.status !== 0) throw new Error(`wrangler kv key put failed (${out.status}): ${out.stderr}${out.stdout}`);
}

export function post(ctx, path, { body, headers = {}, token } = {}) {
  const h = { ...headers };
  if (body !== undefined && !("content-type" in h)) h["content-type"] = "application/json";
  if (token) h.authorization = `Bearer ${token}`;
  return fetch(`${ctx.worker.url}${path}`, {
    method: "POST",
    headers: h,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    redirect: "manual",
  });
}

export const exchange = (ctx, token, opts = {}) => post(ctx, "/api/exchange", { body: { access_token: token }, ...opts });

/** The next log line of `route` after `count` earlier ones (lines arrive after the response). */
export async function logAt(ctx, index) {
  return ctx.worker.waitForLog(() => ctx.worker.logs.length > index).then(() => ctx.worker.logs[index]);
}

export async function json(res) {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`not JSON (${res.status}): ${text}`);
  }
}

/** A `Cookie` request header carrying what `res` set (as a browser would send it back). */
export function cookieHeader(res) {
  return cookies(res)
    .filter((c) => c.value !== "")
    .map((c) => `${c.name}=${c.value}`)
    .join("; ");
}

/** The payload of a compact JWT, decoded without any check (tests only). */
export function payloadOf(jwt) {
  return JSON.parse(Buffer.from(jwt.split(".")[1], "base64url"));
}

/** Parses Set-Cookie values into {name, value, attrs: {lower-name: value|true}}. */
export function cookies(res) {
  return res.headers.getSetCookie().map((line) => {
    const [pair, ...attrs] = line.split(";").map((s) => s.trim());
    const eq = pair.indexOf("=");
    const a = {};
    for (const attr of attrs) {
      const i = attr.indexOf("=");
      if (i < 0) a[attr.toLowerCase()] = true;
      else a[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1);
    }
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: a, line };
  });
}

/**
 * Sends `head` (request line and headers, CRLF-separated, without the blank line) and `body`
 * to `baseUrl` byte for byte over a plain socket, as an attacker would: no client normalises
 * the path, the method or the headers. Resolves with {status, headers (lower-case names;
 * `set-cookie` a list), body}.
 */
export function raw(baseUrl, head, body = "") {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.end(`${head}\r\nConnection: close\r\n\r\n${body}`);
    });
    const chunks = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", reject);
    socket.on("end", () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const split = text.indexOf("\r\n\r\n");
      const [statusLine, ...lines] = text.slice(0, split).split("\r\n");
      const headers = { "set-cookie": [] };
      for (const line of lines) {
        const i = line.indexOf(":");
        const name = line.slice(0, i).toLowerCase();
        const value = line.slice(i + 1).trim();
        if (name === "set-cookie") headers[name].push(value);
        else headers[name] = value;
      }
      resolve({ status: Number(statusLine.split(" ")[1]), headers, body: text.slice(split + 4) });
    });
  });
}
