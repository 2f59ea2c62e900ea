// Next.js configuration of the example. Strict mode (also Next's default for the App Router)
// runs every effect twice in development: edge-attest/react attaches, detaches and attaches
// again, and one client listens to supabase-js at a time.
import { fileURLToPath } from "node:url";

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  // The app sits behind the edge-attest gateway: no `X-Powered-By` to advertise.
  poweredByHeader: false,
  // This example lives inside the edge-attest repository, whose own lockfile Next would take
  // for the workspace root. In an app of your own, leave this out.
  turbopack: { root: fileURLToPath(new URL(".", import.meta.url)) },
};

export default nextConfig;
