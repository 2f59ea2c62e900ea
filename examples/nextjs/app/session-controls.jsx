"use client";
// The protected page's buttons. Sign out: supabase-js signs out, and the client module, on its
// SIGNED_OUT, logs out of Stytch (the worker revokes the session and clears the cookies);
// `logout()` here waits for that very logout. Then a page load: the gateway, finding no
// session, sends the browser to /login.
import { useState } from "react";
import { useEdgeAttest, useEdgeAttestClient } from "edge-attest/react";
import { supabaseBrowser } from "../lib/supabase-browser";

export function SessionControls() {
  const edge = useEdgeAttest();
  const client = useEdgeAttestClient();
  const [leaving, setLeaving] = useState(false);

  async function signOut() {
    setLeaving(true);
    await supabaseBrowser().auth.signOut();
    await client.logout();
    window.location.assign("/");
  }

  return (
    <section>
      <p id="edge-status" data-status={edge.status} data-reused={String(edge.reused)}>
        In this tab: {edge.status}
        {edge.reused && " (answered at the edge)"}
      </p>
      {/* What supabase-js does by itself every hour, now: the new token is exchanged too. */}
      <button id="refresh" onClick={() => supabaseBrowser().auth.refreshSession()}>
        Refresh the token
      </button>{" "}
      {/* Enabled once the provider has attached (just after hydration): only then does a sign-out reach Stytch. */}
      <button id="sign-out" onClick={signOut} disabled={leaving || !client}>
        Sign out
      </button>
    </section>
  );
}
