// Where the WASM's bytes go: its function bodies grouped by the module that defines them
// (edge-attest's folders, then each crate), beside its data and the glue's JavaScript, from a
// build that keeps the name section:
//   make size            (builds build-prof/ with names, then runs: node bench/size.mjs [dir])
// The grouping reads the names V8 would show (`edge_attest::keys::cache::…`, `<serde_json::…
// as …>::…`): a generic function is counted where it is defined, not where it is used.
// The release build strips the names; its sizes are the same code (docs/benchmarks.md).
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import path from "node:path";
import { ROOT } from "../dev/worker.mjs";
import { moduleOf, readWasm } from "./wasm.mjs";

const dir = process.argv[2] ?? "build-prof";
const wasmPath = path.join(ROOT, dir, "glue", "index_bg.wasm");
const bytes = readFileSync(wasmPath);

const { imported, bodies, data, names } = readWasm(bytes);
// A stripped build keeps only the few names wasm-bindgen writes for its own exports.
if (names.size < bodies.length / 2) {
  console.error(`${wasmPath} has no name section: build it with names (make size)`);
  process.exit(1);
}

const by = new Map();
let code = 0;
bodies.forEach((len, k) => {
  const g = moduleOf(names.get(k + imported) ?? "");
  const e = by.get(g) ?? { bytes: 0, functions: 0 };
  e.bytes += len;
  e.functions++;
  by.set(g, e);
  code += len;
});
const glue = readFileSync(path.join(ROOT, dir, "glue", "index.js"));
const kb = (n) => (n / 1024).toFixed(1).padStart(7);
console.log(`${dir}: ${bodies.length} functions, ${kb(code)} KB of code, ${kb(data)} KB of data; the glue ${kb(glue.length)} KB (${kb(gzipSync(glue, { level: 9 }).length)} KB gzip)`);
console.log(`  ${"KB".padStart(7)} ${"share".padStart(6)} ${"fns".padStart(5)}  module`);
for (const [g, e] of [...by].sort((a, b) => b[1].bytes - a[1].bytes)) {
  console.log(`  ${kb(e.bytes)} ${((100 * e.bytes) / code).toFixed(1).padStart(5)}% ${String(e.functions).padStart(5)}  ${g}`);
}
