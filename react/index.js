// edge-attest/react: the client module (edge-attest/client) for React 18 and 19 apps, such as
// Next.js App Router pages. <EdgeAttestProvider supabase={…} url="…"> attaches the client
// module to the app's supabase-js client once, in the browser; useEdgeAttest() returns its
// state and re-renders on every change (useSyncExternalStore: no tearing under concurrent
// rendering). On the server, and before the provider has attached in the browser, the state is
// signed out and no request is made: the first render on the client matches the server's.
// Under React's strict mode the provider's effect runs twice; the first client is detached
// before the second attaches, so one client listens at a time.
//
// IMPORTANT: no top-level side effects (the package says "sideEffects": false), and plain
// ESM with no JSX, so that it needs no build step.

"use client";

import { createContext, createElement, useContext, useEffect, useMemo, useState, useSyncExternalStore } from "react";
import { SIGNED_OUT, attachEdgeAttest } from "../client/index.js";

const Context = createContext(null);

const noSubscription = () => () => {};
const signedOut = () => SIGNED_OUT;

/**
 * Attaches edge-attest/client to `supabase` for the components below it.
 * @param {{ supabase: object | null | undefined, url?: string, options?: object, children?: any }} props
 */
export function EdgeAttestProvider({ supabase, url = "", options, children }) {
  const [edge, setEdge] = useState(null);
  // The options by value: an object literal in the parent's render must not re-attach.
  const key = options === undefined ? "" : JSON.stringify(options, (k, v) => (typeof v === "function" ? String(v) : v));
  useEffect(() => {
    if (!supabase) return undefined;
    const attached = attachEdgeAttest(supabase, { ...options, url });
    setEdge(attached);
    return () => {
      attached.detach();
      setEdge((current) => (current === attached ? null : current));
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- options by value (key)
  }, [supabase, url, key]);
  return createElement(Context.Provider, { value: edge }, children);
}

/** The client module's state (signed out on the server and until the provider attaches). */
export function useEdgeAttest() {
  const edge = useContext(Context);
  const [subscribe, snapshot] = useMemo(() => (edge ? [(onChange) => edge.subscribe(onChange), () => edge.state] : [noSubscription, signedOut]), [edge]);
  return useSyncExternalStore(subscribe, snapshot, signedOut);
}

/** The attached client (its `exchange`, `logout`, `checkSession`), or null on the server and before it attaches. */
export function useEdgeAttestClient() {
  return useContext(Context);
}
