// GET /api/me: the verified identity as JSON, 401 without one (503 when Stytch's keys cannot
// be had: that is not "signed out").
import { EdgeAttestUnavailableError } from "edge-attest/server";
import { identityOf } from "../../../lib/edge-attest";

export async function GET(request) {
  try {
    const who = await identityOf(request);
    if (!who) return Response.json({ error: "unauthenticated" }, { status: 401 });
    return Response.json(who, { headers: { "cache-control": "private, no-store" } });
  } catch (e) {
    if (e instanceof EdgeAttestUnavailableError) return Response.json({ error: "unavailable" }, { status: 503 });
    throw e;
  }
}
