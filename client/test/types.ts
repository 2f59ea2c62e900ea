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
