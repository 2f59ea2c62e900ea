// wrangler.json and wrangler.jsonc for `edge-attest check`: JSON with `//` and `/* */`
// comments and trailing commas, as wrangler accepts them. Comments and commas are blanked
// outside strings (so positions and line numbers stay), then JSON.parse reads the rest.
// `make test` compares the reading with wrangler's own (tests/release/).

export class JsoncError extends Error {}

export function parseJsonc(text) {
  const s = text.replace(/^\uFEFF/, '');
  let out = '';
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      // A string, escapes included, copied as it is.
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j + 1;
    } else if (c === '/' && s[i + 1] === '/') {
      while (i < s.length && s[i] !== '\n') {
        out += ' ';
        i++;
      }
    } else if (c === '/' && s[i + 1] === '*') {
      const end = s.indexOf('*/', i + 2);
      const stop = end < 0 ? s.length : end + 2;
      out += s.slice(i, stop).replace(/[^\n]/g, ' ');
      i = stop;
    } else if (c === ',') {
      // A trailing comma: only whitespace and comments before the closing bracket.
      let j = i + 1;
      for (;;) {
        while (j < s.length && /\s/.test(s[j])) j++;
        if (s[j] === '/' && s[j + 1] === '/') {
          while (j < s.length && s[j] !== '\n') j++;
        } else if (s[j] === '/' && s[j + 1] === '*') {
          const end = s.indexOf('*/', j + 2);
          j = end < 0 ? s.length : end + 2;
        } else break;
      }
      out += s[j] === '}' || s[j] === ']' ? ' ' : ',';
      i++;
    } else {
      out += c;
      i++;
    }
  }
  try {
    return JSON.parse(out);
  } catch (e) {
    // Name the line, as for TOML.
    const at = /position (\d+)/.exec(e.message);
    const line = at ? out.slice(0, Number(at[1])).split('\n').length : null;
    throw new JsoncError(line ? `line ${line}: ${e.message}` : e.message);
  }
}
