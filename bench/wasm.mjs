// A reader for the parts of a WASM module the benchmarks report on: how many functions it
// imports (they come first in the function index space), each defined function's body size,
// the data section's size, and the function names of a build that keeps them.
// Used by bench/coldstart.mjs and bench/size.mjs.

/** `{ imported, bodies, data, names }` of the module `bytes` (a Buffer or Uint8Array). */
export function readWasm(bytes) {
  let i = 8;
  const leb = () => {
    let r = 0;
    for (let shift = 0; ; shift += 7) {
      const b = bytes[i++];
      r += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return r;
    }
  };
  const name = () => {
    const n = leb();
    const s = Buffer.from(bytes.subarray(i, i + n)).toString("utf8");
    i += n;
    return s;
  };
  let imported = 0;
  const bodies = [];
  const names = new Map();
  let data = 0;
  while (i < bytes.length) {
    const id = bytes[i++];
    const size = leb();
    const end = i + size;
    if (id === 2) {
      for (let n = leb(); n > 0; n--) {
        name();
        name();
        const kind = bytes[i++];
        if (kind === 0) {
          leb();
          imported++;
        } else if (kind === 1) {
          i++;
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 2) {
          const flags = leb();
          leb();
          if (flags & 1) leb();
        } else if (kind === 3) {
          i += 2;
        } else {
          throw new Error(`import kind ${kind} not handled`);
        }
      }
    } else if (id === 10) {
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        bodies.push(len);
        i += len;
      }
    } else if (id === 11) {
      data = size;
    } else if (id === 0 && name() === "name") {
      while (i < end) {
        const sub = bytes[i++];
        const subEnd = leb() + i;
        if (sub === 1) {
          for (let n = leb(); n > 0; n--) {
            const idx = leb();
            names.set(idx, name());
          }
        }
        i = subEnd;
      }
    }
    i = end;
  }
  return { imported, bodies, data, names };
}

/**
 * The module a function belongs to, from the name V8 shows for it: edge-attest's top folder
 * (`edge-attest keys/`), or the crate (`serde_json`); a generic function counts where it is
 * defined, not where it is used.
 */
export function moduleOf(fn) {
  const s = fn.replace(/^<+/, "").replace(/\[[0-9a-f]+\]/g, "");
  const ours = /^edge_attest::([a-z_]+)/.exec(s);
  if (ours) return `edge-attest ${ours[1]}/`;
  const crate = /^([a-z_][a-z_0-9]*)::/.exec(s) ?? / as ([a-z_][a-z_0-9]*)::/.exec(s);
  if (crate) return crate[1];
  // Exported functions and their wasm-bindgen shims, allocator entry points, memcmp.
  if (/^[A-Za-z_0-9]+( |$)|^Closure\(|^Ref\(| shim$/.test(s)) return "exports, shims, allocator entry points";
  if (/^(char|str|bool|[iuf](8|16|32|64|128|size)|\[u8\])>/.test(s)) return "core";
  return "other";
}
