// The protected page: the gateway lets a request through only with a session, and this server
// component reads who it is from the verified Stytch session JWT.
import { headers } from "next/headers";
import { identityOf } from "../lib/edge-attest";
import { SessionControls } from "./session-controls";

export default async function Home() {
  const who = await identityOf(await headers());
  if (!who) {
    return (
      <main>
        <h1>Not signed in</h1>
        <p id="no-identity">This request carries no verified Stytch session: it did not come through the edge-attest gateway with one.</p>
      </main>
    );
  }
  return (
    <main>
      <h1>Signed in</h1>
      <p>
        Stytch user <code id="user-id">{who.user_id}</code>
      </p>
      <p>
        Session <code id="session-id">{who.session_id}</code>, until {who.expires_at}
      </p>
      <SessionControls />
    </main>
  );
}
