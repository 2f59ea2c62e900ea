"use client";
// The login page (public: the gateway lets anyone reach it). supabase-js signs in; the
// client module (through the provider) exchanges the login for a Stytch session, whose
// cookies the worker sets; once the state says signed_in, on to the page the gateway sent
// the browser here from.
import { useEffect, useState } from "react";
import { useRouter } from "next/navigation";
import { useEdgeAttest } from "edge-attest/react";
import { supabaseBrowser } from "../../lib/supabase-browser";

/** The gateway's `next`, checked as docs/gateway.md asks: one leading `/`, no `\`, tab, CR, LF, no `//`. */
function nextPath() {
  const next = new URLSearchParams(window.location.search).get("next") ?? "/";
  let decoded;
  try {
    decoded = decodeURIComponent(next);
  } catch {
    return "/";
  }
  const safe = next.startsWith("/") && !/[\\\t\r\n]/.test(next) && !next.includes("//") && !decoded.includes("//");
  return safe ? next : "/";
}

export default function LoginPage() {
  const edge = useEdgeAttest();
  const router = useRouter();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState(null);

  useEffect(() => {
    if (edge.status === "signed_in") router.replace(nextPath());
  }, [edge.status, router]);

  async function signIn(event) {
    event.preventDefault();
    setError(null);
    const { error } = await supabaseBrowser().auth.signInWithPassword({ email, password });
    if (error) setError(error.message);
  }

  return (
    <main>
      <h1>Sign in</h1>
      <form onSubmit={signIn}>
        <p>
          <label>
            Email <input id="email" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
        </p>
        <p>
          <label>
            Password <input id="password" type="password" autoComplete="current-password" required value={password} onChange={(e) => setPassword(e.target.value)} />
          </label>
        </p>
        <button id="sign-in" type="submit" disabled={edge.status === "exchanging"}>
          Sign in
        </button>
      </form>
      {error && <p id="error">{error}</p>}
      <p id="edge-status" data-status={edge.status}>
        Stytch session: {edge.status}
        {edge.error && ` (${edge.error.error}: ${edge.error.error_description})`}
      </p>
    </main>
  );
}
