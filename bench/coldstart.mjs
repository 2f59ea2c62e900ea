// Where a cold start goes: a fresh `workerd serve` per measurement, timed from spawning the
// process to its first answer, for edge-attest, the jose reference worker, the runtime floor,
// and workers built to isolate each step of loading a WASM worker:
//   null              a JS worker that answers 200 at once: process start and runtime set-up
//   null+pad          the same importing an empty WASM module padded (one custom section) to
//                     the byte size of edge-attest's: reading and hashing that many bytes
//   null+compile      the same importing edge-attest's own WASM (compiled, never instantiated)
//   null+instantiate  the same plus `new WebAssembly.Instance` with stub imports at start-up
//   ours/jose /healthz: the worker's module evaluated and one trivial request
//   ours/jose/floor exchange: the first POST /api/exchange (key set fetched, KV empty, one
//                     Stytch call), each in its own fresh process
// COLD_ROUNDS rounds (default 10), the order of the variants shuffled in each; prints medians
// and the median of same-round ratios. Then what V8 compiles of each build's WASM, from its
// own trace: functions and bytes compiled at start-up, by a first /healthz, by a first
// exchange, by a second one (the figures that do not move with the machine's noise). Writes
// bench/coldstart-results.json.
//   node bench/coldstart.mjs          (after `make build`; uses build/ as it is)
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { startSupabase } from "../dev/standins.mjs";
import { benchVars, bundle, startKv, startStytchStub, startWorkerd, waitAccepting } from "./harness.mjs";
import { readWasm } from "./wasm.mjs";

const ROUNDS = Number(process.env.COLD_ROUNDS ?? 10);
// V8 flags for every process (an experiment: production's cannot be set), e.g.
// COLD_V8_FLAGS=--no-wasm-lazy-compilation to see what compiling up front moves.
const V8_FLAGS = (process.env.COLD_V8_FLAGS ?? "").split(" ").filter(Boolean);
const out = path.join(ROOT, "bench", "out", "coldstart");
rmSync(out, { recursive: true, force: true });

const bundles = {
  ours: bundle("tests/integration/wrangler.toml", path.join(out, "ours")),
  jose: bundle("bench/jose-worker/wrangler.toml", path.join(out, "jose")),
  floor: bundle("bench/floor-worker/wrangler.toml", path.join(out, "floor")),
};
const oursWasm = bundles.ours.files.find((f) => f.endsWith(".wasm"));
const wasmBytes = readFileSync(path.join(bundles.ours.outdir, oursWasm));

/** An empty module of exactly `size` bytes: the header and one custom section of zeros. */
function paddedModule(size) {
  const leb = (n) => {
    const b = [];
    do {
      let byte = n & 0x7f;
      n >>>= 7;
      if (n) byte |= 0x80;
      b.push(byte);
    } while (n);
    return b;
  };
  const header = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  // section: id 0, size, name length 3, "pad", payload
  for (let payload = size - header.length - 1 - 4; payload > 0; payload--) {
    const body = [3, 0x70, 0x61, 0x64];
    const sizeBytes = leb(body.length + payload);
    const total = header.length + 1 + sizeBytes.length + body.length + payload;
    if (total === size) return Buffer.concat([Buffer.from([...header, 0, ...sizeBytes, ...body]), Buffer.alloc(payload)]);
  }
  throw new Error("cannot pad to " + size);
}

const NULL_FETCH = `export default { fetch() { return new Response('{"status":"ok"}', { headers: { "content-type": "application/json" } }); } };`;
function synthetic(name, source, wasm) {
  const dir = path.join(out, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "index.js"), source);
  const files = ["index.js"];
  if (wasm) {
    writeFileSync(path.join(dir, "m.wasm"), wasm);
    files.push("m.wasm");
  }
  return { outdir: dir, files, sizes: {} };
}
/** The worker's bundle evaluated (glue, WASM instantiated) behind an entry that never calls it. */
function moduleOnly(b) {
  const dir = path.join(out, "module-only");
  mkdirSync(dir, { recursive: true });
  for (const f of b.files) copyFileSync(path.join(b.outdir, f), path.join(dir, f === "index.js" ? "worker.js" : f));
  writeFileSync(path.join(dir, "index.js"), `import worker from "./worker.js";\nglobalThis.worker = worker;\n${NULL_FETCH}`);
  return { outdir: dir, files: ["index.js", ...b.files.filter((f) => f !== "index.js"), "worker.js"], sizes: {} };
}
/** Another build directory, bundled as `bench/ab.mjs` does. */
function buildBundle(dir) {
  const config = path.join(out, `${dir}.toml`);
  writeFileSync(config, `name = "cold"\nmain = "../../../${dir}/index.js"\ncompatibility_date = "2026-11-01"\n[[kv_namespaces]]\nbinding = "JWKS_CACHE"\nid = "x"\n`);
  return bundle(config, path.join(out, `b-${dir}`));
}
// COLD_BUILDS="build-b build-c": more builds, each to /healthz and to the first exchange in
// the same rounds; their ratios to build/ are printed (an A/B of a cold-start change).
const EXTRA = (process.env.COLD_BUILDS ?? "").split(" ").filter(Boolean);
const variants = {
  null: { bundle: synthetic("null", NULL_FETCH) },
  "null+pad": { bundle: synthetic("null-pad", `import m from "./m.wasm";\nglobalThis.m = m;\n${NULL_FETCH}`, paddedModule(wasmBytes.length)) },
  "null+compile": { bundle: synthetic("null-compile", `import m from "./m.wasm";\nglobalThis.m = m;\n${NULL_FETCH}`, wasmBytes) },
  "null+instantiate": {
    bundle: synthetic(
      "null-instantiate",
      `import m from "./m.wasm";
const imports = {};
for (const i of WebAssembly.Module.imports(m)) (imports[i.module] ??= {})[i.name] = () => {};
globalThis.instance = new WebAssembly.Instance(m, imports);
${NULL_FETCH}`,
      wasmBytes,
    ),
  },
  "ours module": { bundle: moduleOnly(bundles.ours), kv: true },
  "ours /healthz": { bundle: bundles.ours, kv: true },
  "jose /healthz": { bundle: bundles.jose },
  "ours exchange": { bundle: bundles.ours, kv: true, exchange: true },
  // What production sees after the cron prewarm: KV already holds the key set (written here by
  // another process's exchange, as another location's would), so the cold isolate's first
  // exchange reads it from KV instead of fetching it.
  "ours exchange, KV warm": { bundle: bundles.ours, kv: "warm", exchange: true },
  "jose exchange": { bundle: bundles.jose, exchange: true },
  "floor exchange": { bundle: bundles.floor, exchange: true },
};
for (const dir of EXTRA) {
  const b = buildBundle(dir);
  variants[`${dir} /healthz`] = { bundle: b, kv: true };
  variants[`${dir} exchange`] = { bundle: b, kv: true, exchange: true };
}
if (wasmBytes.length !== readFileSync(path.join(out, "null-pad", "m.wasm")).length) throw new Error("padding is off");

const supabase = await startSupabase();
const stytch = await startStytchStub();
const vars = benchVars(supabase, stytch);
const body = JSON.stringify({ access_token: await supabase.mint({ alg: "ES256", expiresIn: 6 * 3600 }) });

/** Milliseconds from spawning workerd to its first 200 on the variant's request. */
async function measure(name, v) {
  const kv = v.kv ? await startKv() : null; // empty: a cold start finds nothing in KV
  if (v.kv === "warm") {
    const filler = await startWorkerd({ name: "kv-filler", bundle: v.bundle, vars, kvPort: kv.port, workdir: out });
    for (;;) {
      try {
        const r = await fetch(`${filler.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body });
        await r.arrayBuffer();
        if (r.status === 200) break;
      } catch {}
      await new Promise((r) => setTimeout(r, 5));
    }
    // The KV write happens after the answer (waitUntil).
    for (let i = 0; kv.stats.puts < 1 && i < 400; i++) await new Promise((r) => setTimeout(r, 5));
    await filler.stop();
    if (kv.stats.puts < 1) throw new Error("the filler wrote nothing to KV");
  }
  const w = await startWorkerd({ name: name.replace(/\W+/g, "-"), bundle: v.bundle, vars, kvPort: kv?.port ?? null, workdir: out, v8Flags: V8_FLAGS });
  try {
    for (;;) {
      try {
        const r = v.exchange
          ? await fetch(`${w.url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body })
          : await fetch(`${w.url}/healthz`);
        await r.arrayBuffer();
        if (r.status === 200) return Number(process.hrtime.bigint() - w.started) / 1e6;
        throw new Error(`status ${r.status}`);
      } catch (e) {
        if (Number(process.hrtime.bigint() - w.started) > 30e9) throw new Error(`${name} did not start: ${e.message}\n${w.stderr()}`);
        await new Promise((r) => setTimeout(r, 1));
      }
    }
  } finally {
    await w.stop();
    await kv?.close();
  }
}

/** How many functions a WASM module defines and their bodies' bytes. */
function codeSection(bytes) {
  const { bodies } = readWasm(bytes);
  return { functions: bodies.length, bytes: bodies.reduce((a, n) => a + n, 0) };
}

/**
 * What V8 compiles of the WASM, and when: a workerd with `--trace-wasm-compilation-times`
 * (one line per function compiled, with its body size and compile time), its output split at
 * the moment the socket accepts (the module evaluated) and after each request of `steps`.
 * Deterministic where the timings above are noisy: the same build compiles the same functions.
 */
async function traced(b, steps) {
  const kv = await startKv();
  const w = await startWorkerd({ name: "trace", bundle: b, vars, kvPort: kv.port, workdir: out, v8Flags: ["--trace-wasm-compilation-times"], keepStdout: true });
  const settle = () => new Promise((r) => setTimeout(r, 200));
  const cut = [];
  try {
    await waitAccepting(w);
    await settle();
    cut.push(w.stdout().length);
    for (const step of steps) {
      const r = await step(w.url);
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`traced run: status ${r.status}\n${w.stderr()}`);
      await settle();
      cut.push(w.stdout().length);
    }
  } finally {
    await w.stop();
    await kv.close();
  }
  const text = w.stdout();
  const slices = [text.slice(0, cut[0]), ...cut.slice(1).map((c, k) => text.slice(cut[k], c))];
  const account = (s) => {
    const acc = { functions: 0, bytes: 0, ms: 0 };
    for (const m of s.matchAll(/^Compiled function \S+ using \w+, took (\d+) .s and \d+ bytes; bodysize (\d+)/gm)) {
      acc.functions++;
      acc.ms += Number(m[1]) / 1000;
      acc.bytes += Number(m[2]);
    }
    if (s.length && !acc.functions && /Compiled function/.test(s)) throw new Error("unrecognised V8 trace lines");
    return acc;
  };
  return slices.map(account);
}

/** The module's start-up, a first request to /healthz, and (another process) a first exchange and a second one. */
async function compiles(b) {
  const healthz = (url) => fetch(`${url}/healthz`);
  const exchange = (url) => fetch(`${url}/api/exchange`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const [module, first] = await traced(b, [healthz]);
  const [, exchangeFirst, again] = await traced(b, [exchange, exchange]);
  return { module, healthz: first, exchange: exchangeFirst, again };
}

const names = Object.keys(variants);
const samples = Object.fromEntries(names.map((n) => [n, []]));
for (let round = 0; round < ROUNDS; round++) {
  const order = [...names].sort(() => Math.random() - 0.5);
  for (const n of order) samples[n].push(await measure(n, variants[n]));
  process.stdout.write(`round ${round + 1}/${ROUNDS}\r`);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = Object.fromEntries(names.map((n) => [n, median(samples[n])]));
const ratio = (a, b) => median(samples[a].map((x, i) => x / samples[b][i]));
const step = (a, b) => median(samples[a].map((x, i) => x - samples[b][i]));

console.log(`\ncold start, ms from spawning workerd to the first 200 (medians of ${ROUNDS} rounds):`);
for (const n of names) console.log(`  ${n.padEnd(18)} ${med[n].toFixed(1)}`);
const steps = {
  "process and runtime (null)": med.null,
  "reading the WASM bytes (null+pad - null)": step("null+pad", "null"),
  "compiling the WASM (null+compile - null+pad)": step("null+compile", "null+pad"),
  "instantiating it (null+instantiate - null+compile)": step("null+instantiate", "null+compile"),
  "the glue evaluated (ours module - null+instantiate)": step("ours module", "null+instantiate"),
  "the first request (ours /healthz - ours module)": step("ours /healthz", "ours module"),
  "first exchange's own path (ours exchange - ours /healthz)": step("ours exchange", "ours /healthz"),
  "the same, KV warm (ours exchange, KV warm - ours /healthz)": step("ours exchange, KV warm", "ours /healthz"),
  "jose module (jose /healthz - null)": step("jose /healthz", "null"),
  "jose's first exchange (jose exchange - jose /healthz)": step("jose exchange", "jose /healthz"),
};
console.log("steps (median of same-round differences, ms):");
for (const [k, v] of Object.entries(steps)) console.log(`  ${k.padEnd(58)} ${v.toFixed(1)}`);
const compileBuilds = { build: bundles.ours, ...Object.fromEntries(EXTRA.map((d) => [d, variants[`${d} exchange`].bundle])) };
const compiled = {};
for (const [dir, b] of Object.entries(compileBuilds)) {
  const wasm = readFileSync(path.join(b.outdir, b.files.find((f) => f.endsWith(".wasm"))));
  compiled[dir] = { code: codeSection(wasm), ...(await compiles(b)) };
}
console.log("what V8 compiles of the WASM (traced processes per build: functions, KB of function bodies, ms compiling):");
for (const [dir, c] of Object.entries(compiled)) {
  const f = (a) => `${String(a.functions).padStart(4)} fns ${(a.bytes / 1024).toFixed(1).padStart(6)} KB ${a.ms.toFixed(1).padStart(5)} ms`;
  console.log(`  ${dir}: the module has ${c.code.functions} functions, ${(c.code.bytes / 1024).toFixed(1)} KB of code`);
  for (const k of ["module", "healthz", "exchange", "again"]) console.log(`    ${{ module: "at start-up", healthz: "first request, /healthz", exchange: "first request, an exchange", again: "second exchange" }[k].padEnd(27)} ${f(c[k])}`);
}
const ratios = {
  "ours/jose to the first exchange": ratio("ours exchange", "jose exchange"),
  "ours/jose to the first exchange, KV warm": ratio("ours exchange, KV warm", "jose exchange"),
  "ours/jose to /healthz": ratio("ours /healthz", "jose /healthz"),
  "floor/jose to the first exchange": ratio("floor exchange", "jose exchange"),
};
for (const dir of EXTRA) {
  ratios[`${dir}/build to /healthz`] = ratio(`${dir} /healthz`, "ours /healthz");
  ratios[`${dir}/build to the first exchange`] = ratio(`${dir} exchange`, "ours exchange");
}
for (const [k, v] of Object.entries(ratios)) console.log(`  ${k.padEnd(58)} ${v.toFixed(2)}x`);
writeFileSync(
  path.join(ROOT, "bench", "coldstart-results.json"),
  JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, wasm_bytes: wasmBytes.length, medians_ms: med, steps_ms: steps, ratios, compiled, samples }, null, 1) + "\n",
);
await supabase.close?.();
await stytch.close?.();
process.exit(0);
