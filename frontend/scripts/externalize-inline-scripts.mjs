// After `next build`: move every inline <script> of the static export (out/**/*.html) into its
// own file, so the page runs under `script-src 'self'` without 'unsafe-inline' and without
// per-build hashes in the CSP (the policy lives in the CDK template and must not depend on a
// build: realtime_comments/site_headers.py, docs/security.md "The page's headers").
//
// A <script> without src is replaced, in place, by <script src="/_next/static/inline/<sha256>.js">
// with the same other attributes. Without async or defer an external script runs where the
// inline one ran, in document order, so Next's bootstrap (`self.__next_f.push`, the Turbopack
// chunk list) sees the same sequence. Non-JavaScript blocks (type="application/json" and the
// like) are data, not scripts, and stay inline. Running it twice changes nothing.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const OUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", process.argv[2] ?? "out");
const URL_DIR = "/_next/static/inline";
const FILE_DIR = path.join(OUT, ...URL_DIR.split("/").filter(Boolean));
const SCRIPT = /<script((?:\s+[^\s>=]+(?:=(?:"[^"]*"|'[^']*'|[^\s>]*))?)*)\s*>([\s\S]*?)<\/script>/gi;
const JS_TYPES = new Set(["", "text/javascript", "application/javascript", "module"]);

function attribute(attrs, name) {
  const m = new RegExp(`\\s${name}(?:=(?:"([^"]*)"|'([^']*)'|([^\\s>]*)))?`, "i").exec(attrs);
  return m ? (m[1] ?? m[2] ?? m[3] ?? "") : undefined;
}

function htmlFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return htmlFiles(p);
    return e.name.endsWith(".html") ? [p] : [];
  });
}

let moved = 0;
const files = new Set();
for (const file of htmlFiles(OUT)) {
  const html = readFileSync(file, "utf8");
  const rewritten = html.replace(SCRIPT, (whole, attrs, body) => {
    const type = (attribute(attrs, "type") ?? "").trim().toLowerCase();
    if (attribute(attrs, "src") !== undefined || !JS_TYPES.has(type) || !body.trim()) return whole;
    const name = `${createHash("sha256").update(body).digest("hex").slice(0, 20)}.js`;
    if (!files.has(name)) {
      mkdirSync(FILE_DIR, { recursive: true });
      writeFileSync(path.join(FILE_DIR, name), body);
      files.add(name);
    }
    moved += 1;
    return `<script${attrs} src="${URL_DIR}/${name}"></script>`;
  });
  if (rewritten !== html) writeFileSync(file, rewritten);
}
console.log(`externalize-inline-scripts: ${moved} inline script(s) -> ${files.size} file(s) in ${path.relative(process.cwd(), FILE_DIR) || FILE_DIR}`);
