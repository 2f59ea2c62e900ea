// Writes the repository's wrangler.toml: the file `edge-attest init` writes (release/lib/template.js)
// with a [build] step, for a deploy from source. tests/release/package.test.mjs fails when
// the two differ: change the template, then run `node scripts/wrangler-toml.mjs`.
import { writeFileSync } from "node:fs";
import { document, toToml } from "../release/lib/template.js";

let id = 7100;
writeFileSync(new URL("../wrangler.toml", import.meta.url), toToml(document({ main: "build/index.js", build: true, rateLimitIds: () => String(++id) })));
