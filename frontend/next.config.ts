import { fileURLToPath } from "node:url";

import type { NextConfig } from "next";

// Static export: `npm run build` writes `out/`, which the local runtime (and any static host,
// e.g. S3 + CloudFront) serves. Runtime endpoints come from `/runtime-config.json`.
const nextConfig: NextConfig = {
  output: "export",
  reactStrictMode: true,
  trailingSlash: false,
  images: { unoptimized: true },
  // The repository root has its own package-lock.json (the CDK CLI); this app stands alone.
  turbopack: { root: fileURLToPath(new URL(".", import.meta.url)) },
};

export default nextConfig;
