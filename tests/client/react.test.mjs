// edge-attest/react rendered on the server (react-dom/server, as Next.js renders a page): the
// provider renders its children with the signed-out state and makes no request, and attaches
// nothing to supabase-js. In the browser (attach, re-render on every change, strict mode's
// double effects, detach) it is driven by the Next.js example's browser test
// (tests/examples/nextjs.test.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { StrictMode, createElement } from "react";
import { renderToString } from "react-dom/server";
import { EdgeAttestProvider, useEdgeAttest, useEdgeAttestClient } from "../../react/index.js";
import { SIGNED_OUT } from "../../client/index.js";

function Who() {
  const state = useEdgeAttest();
  const client = useEdgeAttestClient();
  return createElement("p", { "data-status": state.status, "data-client": client === null ? "none" : "attached" }, state.user_id ?? "nobody");
}

test("on the server the provider renders signed out, attaches nothing and makes no request", () => {
  const touched = [];
  const supabase = {
    auth: {
      onAuthStateChange: () => touched.push("onAuthStateChange"),
      getSession: () => touched.push("getSession"),
    },
  };
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => {
    touched.push("fetch");
    throw new Error("no request on the server");
  };
  try {
    const html = renderToString(createElement(StrictMode, null, createElement(EdgeAttestProvider, { supabase, url: "https://app.example.com" }, createElement(Who))));
    assert.equal(html, '<p data-status="signed_out" data-client="none">nobody</p>');
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.deepEqual(touched, []);
});

test("without a provider the hook is signed out too, with the client module's own signed-out state", () => {
  let seen;
  function Peek() {
    seen = useEdgeAttest();
    return null;
  }
  renderToString(createElement(Peek));
  assert.equal(seen, SIGNED_OUT);
  assert.ok(Object.isFrozen(seen));
});
