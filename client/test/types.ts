// Compile-time check (`tsc -p client`): the declared types accept a real supabase-js client
// and give apps what they expect. Never run.
import { createClient } from "@supabase/supabase-js";
// `@edge-attest/client` is client/package.json's private name (a self-reference); apps import
// the same files as `edge-attest/client` from the npm package.
import { attachEdgeAttest, type EdgeAttestState } from "@edge-attest/client";

const supabase = createClient("https://abcd.supabase.co", "anon-key");
const edge = attachEdgeAttest(supabase, { url: "https://app.example.com", maxAttempts: 3 });
const stop: () => void = edge.subscribe((s: Readonly<EdgeAttestState>) => {
  if (s.status === "signed_in") {
    const user: string | null = s.user_id;
    const member: string | null = s.member_id;
    const organization: string | null = s.organization_id;
    const reused: boolean | null = s.reused;
    void [user, member, organization, reused];
  }
  if (s.error) {
    const code: string = s.error.error;
    void code;
  }
});
async function use(): Promise<void> {
  const after = await edge.exchange();
  const again: EdgeAttestState["status"] = (await edge.logout()).status;
  void [after.expires_at, again, (await edge.checkSession()).session_id];
  stop();
  edge.detach();
}
void use;
// @ts-expect-error: not a supabase client
attachEdgeAttest({}, {});

// The state narrows by status: signed_in has a user id and a session; error has an error.
function describe(s: Readonly<EdgeAttestState>): string {
  switch (s.status) {
    case "signed_in": {
      const user: string = s.user_id;
      const session: string = s.session_id;
      // @ts-expect-error: a consumer project's signed-in state has no member
      const member: string = s.member_id;
      return `${user} ${session} ${member}`;
    }
    case "error":
      return s.error.error;
    default:
      // @ts-expect-error: no user id is promised before sign-in
      return s.user_id.toUpperCase();
  }
}
void describe;
function describeMember(s: Readonly<EdgeAttestState<"b2b">>): string {
  return s.status === "signed_in" ? `${s.member_id} ${s.organization_id}` : "none";
}
void describeMember;

// edge-attest/react and edge-attest/server.
import { createElement } from "react";
import { EdgeAttestProvider, useEdgeAttest, useEdgeAttestClient } from "../../react/index.js";
import { EdgeAttestUnavailableError, verifyEdgeAttest, type EdgeAttestBinding } from "../../server/index.js";

const tree = createElement(EdgeAttestProvider, { supabase, url: "", options: { maxAttempts: 2 } }, "child");
void tree;
function Hooked(): string {
  const s = useEdgeAttest();
  const client = useEdgeAttestClient();
  void client?.logout();
  return s.status === "signed_in" ? s.user_id : "signed out";
}
void Hooked;
async function server(request: Request, binding: EdgeAttestBinding): Promise<string | null> {
  const who = await verifyEdgeAttest(request, { projectId: "project-test-1", requireAal: "aal2" });
  const member = await verifyEdgeAttest(request.headers, { projectId: "project-test-1", product: "b2b", organizations: ["acme"] });
  // @ts-expect-error: a consumer identity has no organization
  void who?.organization_id;
  const fromNode = await verifyEdgeAttest({ headers: { "edge-attest-jwt": "x" } }, { projectId: "project-test-1" });
  const bound = await binding.authorize(request.headers.get("cookie") ?? "", { roles: ["admin"] });
  void [fromNode, bound.refusal, EdgeAttestUnavailableError];
  return who?.user_id ?? member?.organization_id ?? null;
}
void server;
