// Starts the compiled worker in workerd through `wrangler dev`, on 127.0.0.1, with variables
// pointing at the stand-ins, and collects its JSON log lines with their level. Used by the
// integration tests and the demo. Every process it starts is in its own group and is killed by
// stop().
import { spawn } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { mkdtempSync } from "node:fs";
import os from "node:os";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "node_modules", ".bin");

const uncoloured = (line) => line.replace(/\x1b\[[0-9;]*m/g, "");

/**
 * Stops a child started in a process group of its own (`detached: true`) and everything it
 * started: SIGTERM to the group, SIGKILL after 3 s; resolves once the child has exited.
 */
export async function stopGroup(child, hasExited) {
  if (hasExited) return;
  const done = new Promise((r) => child.once("exit", r));
  try {
    process.kill(-child.pid, "SIGTERM");
  } catch {}
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {}
  }, 3000);
  await done;
  clearTimeout(t);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * @param {object} o
 * @param {Record<string,string>} o.vars   worker variables (and the secret)
 * @param {string} [o.persistDir]          KV storage; reuse it to restart with the same KV
 * @param {string|null} [o.script]         the built worker entry (default build/index.js);
 *                                         null: the config's own `main`
 * @param {string} [o.cwd]                 where wrangler runs (default the repository)
 * @param {string} [o.path]                the PATH wrangler runs with (default this process's,
 *                                         after node_modules/.bin)
 * @param {number} [o.port]
 * @param {(line: string) => void} [o.onLine] every output line (the demo prints them)
 * @param {string} [o.config]              the wrangler config (default tests/integration/wrangler.toml)
 * @param {string[]} [o.alsoConfigs]       more workers in the same session (`-c` each), which
 *                                         the first can reach through service bindings
 * @param {string} [o.localUpstream]       host:port standing in for the zone's origin
 *                                         (`--local-upstream`): requests reach the worker with
 *                                         that host in their URL, as on a route of its zone
 */
export async function startWorker(options = {}) {
  // freePort's ports are free when chosen, not necessarily when wrangler binds them: another
  // process starting meanwhile (tests run two files at once) can take one. Then wrangler
  // exits with "Address already in use", and a start on fresh ports is the fix.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startWorkerOnce(options);
    } catch (e) {
      const clash = /Address already in use/.test(String(e?.message));
      if (!clash || options.port !== undefined || attempt >= 3) throw e;
    }
  }
}

async function startWorkerOnce({ vars, persistDir, script = "build/index.js", port, onLine, config, alsoConfigs = [], localUpstream, cwd = ROOT, path: envPath } = {}) {
  port ??= await freePort();
  const inspector = await freePort();
  persistDir ??= mkdtempSync(path.join(os.tmpdir(), "edge-attest-kv-"));
  const args = [
    "dev",
    ...(script === null ? [] : [path.resolve(ROOT, script)]),
    "-c", config ?? path.join(ROOT, "tests/integration/wrangler.toml"),
    ...alsoConfigs.flatMap((c) => ["-c", c]),
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--inspector-port", String(inspector),
    "--persist-to", persistDir,
    "--show-interactive-dev-session=false",
    ...(localUpstream ? ["--local-upstream", localUpstream] : []),
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(path.join(BIN, "wrangler"), args, {
    cwd,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, PATH: envPath ?? `${BIN}${path.delimiter}${process.env.PATH}`, WRANGLER_SEND_METRICS: "false", NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  const logs = [];
  const levels = new WeakMap();
  const output = [];
  let ready = false;
  const waiters = [];
  let lastLineAt = Date.now();
  const onLineOf = (line) => {
    if (!line.trim()) return;
    lastLineAt = Date.now();
    output.push(line);
    if (ready) onLine?.(line);
    // wrangler writes console.log's lines as they are, and console.warn's and console.error's
    // to stderr after "▲ [WARNING] " and "✘ [ERROR] ", in colour even with NO_COLOR.
    const plain = uncoloured(line);
    const start = plain.indexOf("{");
    if (start >= 0) {
      try {
        const entry = JSON.parse(plain.slice(start));
        // The lines of requests and scheduled runs. (A configuration error's line, written
        // once per isolate before its first request's, is only in `output`: tests take the
        // line after a request as that request's.)
        if (entry && typeof entry === "object" && "route" in entry) {
          const prefix = plain.slice(0, start);
          levels.set(entry, /\[WARNING\] $/.test(prefix) ? "warn" : /\[ERROR\] $/.test(prefix) ? "error" : "log");
          logs.push(entry);
          for (const w of [...waiters]) if (w.pred(entry)) w.resolve(entry);
        }
      } catch {}
    }
  };
  // A chunk can end in the middle of a line (a log line split in two would be lost): each
  // stream keeps its unfinished last line until the rest arrives.
  const lineReader = () => {
    let carry = "";
    return (text) => {
      const lines = (carry + text).split("\n");
      carry = lines.pop();
      lines.forEach(onLineOf);
    };
  };
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding("utf8"); // no character split between chunks either
    stream.on("data", lineReader());
  }
  let exited = null;
  child.on("exit", (code) => (exited = code));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 90_000;
  const readyLine = new RegExp(`Ready on ${url.replace(/[.]/g, "\\.")}(?!\\d)`);
  for (;;) {
    if (exited !== null) throw new Error(`wrangler dev exited (${exited}):\n${output.join("\n")}`);
    // Ready only when wrangler says it listens on *our* port: freePort's port can be taken by
    // another process before wrangler binds it, and a probe would then be answered by that one.
    if (output.some((l) => readyLine.test(l))) {
      try {
        const r = await fetch(`${url}/healthz`);
        await r.arrayBuffer();
        break;
      } catch {}
    }
    if (Date.now() > deadline) {
      process.kill(-child.pid, "SIGKILL");
      throw new Error(`wrangler dev did not start:\n${output.join("\n")}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // wrangler writes console.warn's and console.error's lines through esbuild's message
  // formatter, which starts on the first such line and holds it back ~0.2 s (more on a busy
  // machine): a request answered 405 has the worker write one now, so that a test's first 4xx
  // or 5xx line comes as promptly as console.log's lines do.
  const seen = output.length;
  try {
    await (await fetch(`${url}/healthz`, { method: "DELETE" })).arrayBuffer();
  } catch {}
  for (const until = Date.now() + 5000; Date.now() < until && !output.slice(seen).some((l) => uncoloured(l).includes("[WARNING]")); ) {
    await new Promise((r) => setTimeout(r, 20));
  }
  // Forget the readiness probes.
  await new Promise((r) => setTimeout(r, 100));
  logs.length = 0;
  ready = true;

  return {
    url,
    port,
    persistDir,
    logs,
    output,
    /** The console method that wrote a log entry: "log", "warn" or "error". */
    levelOf: (entry) => levels.get(entry),
    /** Resolves with the first log entry (already seen or future) matching pred. */
    waitForLog(pred, timeoutMs = 10_000) {
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve: (e) => (clearTimeout(t), waiters.splice(waiters.indexOf(w), 1), resolve(e)) };
        const t = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error("no matching log line"));
        }, timeoutMs);
        waiters.push(w);
      });
    },
    /** The log line of the most recent request to `route`. */
    async lastLog(route) {
      // The line of a request just answered is still on its way (workerd, then wrangler,
      // then this pipe): wait 50 ms, then until the output has been quiet for 50 ms (a busy
      // machine delays the whole pipe), at most 2 s.
      const started = Date.now();
      await new Promise((r) => setTimeout(r, 50));
      while (Date.now() - lastLineAt < 50 && Date.now() - started < 2000) {
        await new Promise((r) => setTimeout(r, 20));
      }
      return [...logs].reverse().find((l) => l.route === route);
    },
    stop: () => stopGroup(child, exited !== null),
  };
}
