"use client";
// edge-attest/react for every page: the client module attached to the page's supabase-js
// client, exchanging its logins with the worker on this same origin (url "").
import { EdgeAttestProvider } from "edge-attest/react";
import { supabaseBrowser } from "../lib/supabase-browser";

export function Providers({ children }) {
  // No supabase-js client on the server: the provider renders signed out there and attaches
  // in the browser.
  const supabase = typeof window === "undefined" ? null : supabaseBrowser();
  return (
    <EdgeAttestProvider supabase={supabase} url="">
      {children}
    </EdgeAttestProvider>
  );
}
