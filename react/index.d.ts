// Types of edge-attest/react (index.js).
import type { ReactNode } from "react";
import type { EdgeAttest, EdgeAttestOptions, EdgeAttestState, SupabaseAuthLike } from "../client/index.js";

export interface EdgeAttestProviderProps {
  /** The app's supabase-js client (e.g. `createBrowserClient` of `@supabase/ssr`); null or
   * undefined until it exists: nothing is attached meanwhile. */
  supabase: SupabaseAuthLike | null | undefined;
  /** The worker's origin, e.g. "https://app.example.com"; "" (default) for the page's own. */
  url?: string;
  /** The client module's other options, compared by value. */
  options?: Omit<EdgeAttestOptions, "url">;
  children?: ReactNode;
}

/** Attaches edge-attest/client to `supabase`, in the browser only, for the components below it. */
export declare function EdgeAttestProvider(props: EdgeAttestProviderProps): ReactNode;

/** The client module's state: signed out on the server and until the provider has attached. */
export declare function useEdgeAttest<Product extends "consumer" | "b2b" = "consumer">(): Readonly<EdgeAttestState<Product>>;

/** The attached client (`exchange`, `logout`, `checkSession`), or null on the server and before it attaches. */
export declare function useEdgeAttestClient<Product extends "consumer" | "b2b" = "consumer">(): EdgeAttest<Product> | null;

export type { EdgeAttestState };
