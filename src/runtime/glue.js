// JavaScript half of src/runtime/glue.rs, imported by wasm-bindgen: the helpers that let one
// boundary crossing do the work of several (see the comments on the imports in glue.rs).
const log = console.log.bind(console);
export function log_later(s) { Promise.resolve(s).then(log); }
export function deferred() { return Promise.withResolvers(); }
export function promise_of(d) { return d.promise; }
export function settle(d, value, ok) { (ok ? d.resolve : d.reject)(value); }
const ABSENT = '\0';
function pick(headers, names) {
  let out = '';
  for (const name of names.split('\n')) out += '\n' + (headers.get(name) ?? ABSENT);
  return out;
}
function headerList(lines) {
  const h = new Headers();
  const parts = lines.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) h.append(parts[i], parts[i + 1]);
  return h;
}
export function request_head(req, names) { return req.method + '\n' + req.url + pick(req.headers, names); }
export function response_head(resp, names) { return resp.status + pick(resp.headers, names); }
export function new_response(status, body, headers) {
  return new Response(body === '' ? null : body, { status, headers: headerList(headers) });
}
export function send(url, method, headers, body, signal) {
  return fetch(url, { method, headers: headerList(headers), body: body ?? undefined, redirect: 'manual', signal });
}
