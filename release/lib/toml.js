// A TOML 1.0 reader for `edge-attest check`, so the command needs nothing but Node: tables,
// arrays of tables, dotted keys, inline tables, arrays, every string form, integers (decimal,
// hex, octal, binary), floats, booleans. Dates and times are kept as their text (wrangler
// uses none where the worker's settings are). Errors name the line. `make test` compares its
// reading of the project's own wrangler files with wrangler's (tests/release/).

export class TomlError extends Error {}

export function parseToml(text) {
  const p = new Parser(text);
  return p.document();
}

const BARE = /[A-Za-z0-9_-]/;

class Parser {
  constructor(text) {
    this.s = text.replace(/^\uFEFF/, '');
    this.i = 0;
    this.root = {};
    // Tables created by a header or by dotted keys, and which were defined explicitly, so a
    // table is not defined twice and a value is not replaced.
    this.defined = new Set();
    this.frozen = new WeakSet(); // inline tables and static arrays: closed to later additions
    this.arraysOfTables = new WeakSet();
  }

  fail(msg) {
    const line = this.s.slice(0, this.i).split('\n').length;
    throw new TomlError(`line ${line}: ${msg}`);
  }
  peek(n = 0) { return this.s[this.i + n]; }
  eof() { return this.i >= this.s.length; }

  skipWs() { while (this.peek() === ' ' || this.peek() === '\t') this.i++; }
  skipComment() {
    if (this.peek() !== '#') return;
    while (!this.eof() && this.peek() !== '\n') {
      const c = this.s.charCodeAt(this.i);
      if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
        if (!(c === 0x0d && this.peek(1) === '\n')) this.fail('control character in a comment');
      }
      this.i++;
    }
  }
  // Whitespace, newlines and comments (inside arrays).
  skipAll() {
    for (;;) {
      this.skipWs();
      this.skipComment();
      if (this.peek() === '\n') this.i++;
      else if (this.peek() === '\r' && this.peek(1) === '\n') this.i += 2;
      else return;
    }
  }
  endOfLine() {
    this.skipWs();
    this.skipComment();
    if (this.eof()) return;
    if (this.peek() === '\n') { this.i++; return; }
    if (this.peek() === '\r' && this.peek(1) === '\n') { this.i += 2; return; }
    this.fail(`unexpected ${JSON.stringify(this.peek())} after a value`);
  }

  document() {
    let table = this.root;
    for (;;) {
      this.skipAll();
      if (this.eof()) return this.root;
      if (this.peek() === '[') {
        table = this.header();
      } else {
        this.keyValue(table);
      }
      this.endOfLine();
    }
  }

  header() {
    const array = this.peek(1) === '[';
    this.i += array ? 2 : 1;
    this.skipWs();
    const keys = this.key();
    this.skipWs();
    if (this.peek() !== ']' || (array && this.peek(1) !== ']')) this.fail('unclosed table header');
    this.i += array ? 2 : 1;
    let t = this.root;
    for (let k = 0; k < keys.length - 1; k++) t = this.descend(t, keys[k], true);
    const last = keys[keys.length - 1];
    if (array) {
      if (!(last in t)) {
        t[last] = [];
        this.arraysOfTables.add(t[last]);
      }
      const arr = t[last];
      if (!Array.isArray(arr) || !this.arraysOfTables.has(arr)) this.fail(`${keys.join('.')} is not an array of tables`);
      const fresh = {};
      arr.push(fresh);
      return fresh;
    }
    if (last in t) {
      const existing = t[last];
      if (!isTable(existing) || this.defined.has(existing) || this.frozen.has(existing)) {
        this.fail(`${keys.join('.')} is defined twice`);
      }
      this.defined.add(existing);
      return existing;
    }
    const fresh = {};
    t[last] = fresh;
    this.defined.add(fresh);
    return fresh;
  }

  // The table a dotted key or header walks into; the last element of an array of tables.
  descend(t, key, header) {
    if (!(key in t)) {
      const fresh = {};
      t[key] = fresh;
      if (!header) this.implicitByDots.add(fresh);
      return fresh;
    }
    let v = t[key];
    if (Array.isArray(v) && this.arraysOfTables.has(v)) {
      if (!header) this.fail(`${key} is an array of tables`);
      v = v[v.length - 1];
    }
    if (!isTable(v) || this.frozen.has(v)) this.fail(`${key} is already a value`);
    return v;
  }
  get implicitByDots() {
    this._dots ??= new WeakSet();
    return this._dots;
  }

  keyValue(table) {
    const keys = this.key();
    this.skipWs();
    if (this.peek() !== '=') this.fail('expected = after a key');
    this.i++;
    this.skipWs();
    const value = this.value();
    let t = table;
    for (let k = 0; k < keys.length - 1; k++) t = this.descend(t, keys[k], false);
    const last = keys[keys.length - 1];
    if (Object.prototype.hasOwnProperty.call(t, last)) this.fail(`${keys.join('.')} is defined twice`);
    t[last] = value;
  }

  key() {
    const keys = [];
    for (;;) {
      this.skipWs();
      const c = this.peek();
      if (c === '"') keys.push(this.basicString());
      else if (c === "'") keys.push(this.literalString());
      else {
        const start = this.i;
        while (!this.eof() && BARE.test(this.peek())) this.i++;
        if (start === this.i) this.fail('expected a key');
        keys.push(this.s.slice(start, this.i));
      }
      this.skipWs();
      if (this.peek() !== '.') return keys;
      this.i++;
    }
  }

  value() {
    const c = this.peek();
    if (c === '"') return this.s.startsWith('"""', this.i) ? this.multiBasic() : this.basicString();
    if (c === "'") return this.s.startsWith("'''", this.i) ? this.multiLiteral() : this.literalString();
    if (c === '[') return this.array();
    if (c === '{') return this.inlineTable();
    if (this.s.startsWith('true', this.i) && !BARE.test(this.peek(4) ?? '')) { this.i += 4; return true; }
    if (this.s.startsWith('false', this.i) && !BARE.test(this.peek(5) ?? '')) { this.i += 5; return false; }
    return this.scalar();
  }

  scalar() {
    const start = this.i;
    while (!this.eof() && /[0-9A-Za-z_:.+\-]/.test(this.peek())) this.i++;
    // A date-time may carry one space between date and time.
    if (this.peek() === ' ' && /^\d{4}-\d{2}-\d{2}$/.test(this.s.slice(start, this.i)) && /\d/.test(this.peek(1) ?? '')) {
      this.i++;
      while (!this.eof() && /[0-9A-Za-z_:.+\-]/.test(this.peek())) this.i++;
    }
    const t = this.s.slice(start, this.i);
    if (t === '') this.fail('expected a value');
    if (/^[+-]?(inf|nan)$/.test(t)) return t.endsWith('inf') ? (t[0] === '-' ? -Infinity : Infinity) : NaN;
    if (/^0x[0-9A-Fa-f](_?[0-9A-Fa-f])*$/.test(t)) return int(t.slice(2), 16);
    if (/^0o[0-7](_?[0-7])*$/.test(t)) return int(t.slice(2), 8);
    if (/^0b[01](_?[01])*$/.test(t)) return int(t.slice(2), 2);
    if (/^[+-]?(0|[1-9](_?\d)*)$/.test(t)) return int(t, 10);
    if (/^[+-]?(0|[1-9](_?\d)*)(\.\d(_?\d)*)?([eE][+-]?\d(_?\d)*)?$/.test(t)) return Number(t.replace(/_/g, ''));
    if (/^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}:\d{2}/.test(t)) return t; // dates and times, as text
    this.fail(`invalid value ${JSON.stringify(t)}`);
  }

  array() {
    this.i++;
    const out = [];
    for (;;) {
      this.skipAll();
      if (this.peek() === ']') { this.i++; break; }
      out.push(this.value());
      this.skipAll();
      if (this.peek() === ',') { this.i++; continue; }
      if (this.peek() === ']') { this.i++; break; }
      this.fail('expected , or ] in an array');
    }
    this.frozen.add(out);
    return out;
  }

  inlineTable() {
    this.i++;
    const out = {};
    this.skipWs();
    if (this.peek() === '}') { this.i++; this.frozen.add(out); return out; }
    for (;;) {
      this.keyValue(out);
      this.skipWs();
      if (this.peek() === ',') { this.i++; this.skipWs(); continue; }
      if (this.peek() === '}') { this.i++; break; }
      this.fail('expected , or } in an inline table');
    }
    this.frozen.add(out);
    return out;
  }

  basicString() {
    this.i++;
    let out = '';
    for (;;) {
      if (this.eof()) this.fail('unterminated string');
      const c = this.peek();
      if (c === '"') { this.i++; return out; }
      if (c === '\n') this.fail('line break in a string');
      if (c === '\\') out += this.escape();
      else { this.control(c); out += c; this.i++; }
    }
  }
  multiBasic() {
    this.i += 3;
    if (this.peek() === '\n') this.i++;
    else if (this.peek() === '\r' && this.peek(1) === '\n') this.i += 2;
    let out = '';
    for (;;) {
      if (this.eof()) this.fail('unterminated string');
      if (this.s.startsWith('"""', this.i)) {
        // Up to two quotes may end the content right before the closing three.
        let n = 3;
        while (this.peek(n) === '"' && n < 5) n++;
        out += '"'.repeat(n - 3);
        this.i += n;
        return out;
      }
      const c = this.peek();
      if (c === '\\') {
        // A line-ending backslash trims the break and the whitespace after it.
        let j = this.i + 1;
        while (this.s[j] === ' ' || this.s[j] === '\t') j++;
        if (this.s[j] === '\n' || (this.s[j] === '\r' && this.s[j + 1] === '\n')) {
          this.i = j;
          while (/[ \t\r\n]/.test(this.peek() ?? '')) this.i++;
          continue;
        }
        out += this.escape();
      } else {
        if (c !== '\n' && !(c === '\r' && this.peek(1) === '\n')) this.control(c);
        out += c;
        this.i++;
      }
    }
  }
  literalString() {
    this.i++;
    const end = this.s.indexOf("'", this.i);
    const nl = this.s.indexOf('\n', this.i);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail('unterminated string');
    const out = this.s.slice(this.i, end);
    for (const c of out) this.control(c);
    this.i = end + 1;
    return out;
  }
  multiLiteral() {
    this.i += 3;
    if (this.peek() === '\n') this.i++;
    else if (this.peek() === '\r' && this.peek(1) === '\n') this.i += 2;
    const end = this.s.indexOf("'''", this.i);
    if (end < 0) this.fail('unterminated string');
    let n = 3;
    while (this.s[end + n] === "'" && n < 5) n++;
    const out = this.s.slice(this.i, end + n - 3);
    this.i = end + n;
    return out;
  }
  control(c) {
    const code = c.charCodeAt(0);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) this.fail('control character in a string');
  }
  escape() {
    const c = this.peek(1);
    this.i += 2;
    const simple = { b: '\b', t: '\t', n: '\n', f: '\f', r: '\r', '"': '"', '\\': '\\' };
    if (c in simple) return simple[c];
    if (c === 'u' || c === 'U') {
      const len = c === 'u' ? 4 : 8;
      const hex = this.s.slice(this.i, this.i + len);
      if (!/^[0-9A-Fa-f]+$/.test(hex) || hex.length !== len) this.fail('invalid unicode escape');
      const cp = parseInt(hex, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) this.fail('invalid unicode escape');
      this.i += len;
      return String.fromCodePoint(cp);
    }
    this.fail(`invalid escape \\${c}`);
  }
}

function int(digits, radix) {
  const clean = digits.replace(/_/g, '');
  const n = radix === 10 ? Number(clean) : parseInt(clean, radix);
  if (!Number.isSafeInteger(n)) throw new TomlError(`integer ${digits} is out of range`);
  return n;
}

function isTable(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
