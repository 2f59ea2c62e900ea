// The browser's supabase-js client. createBrowserClient returns one client per page (a
// singleton in the browser), whose login it keeps in cookies of this origin.
import { createBrowserClient } from "@supabase/ssr";

export function supabaseBrowser() {
  return createBrowserClient(process.env.NEXT_PUBLIC_SUPABASE_URL, process.env.NEXT_PUBLIC_SUPABASE_ANON_KEY);
}
