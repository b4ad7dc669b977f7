// First-load budget: index.html plus every script, stylesheet and modulepreload it references, gzipped.
// Lazily imported chunks (the charts) are not part of the first load. Fails the build over the budget.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const BUDGET_KB = Number(process.env.C360_BUNDLE_BUDGET_KB ?? 300);
const dist = new URL("../dist/", import.meta.url).pathname;
const html = readFileSync(join(dist, "index.html"), "utf8");
const refs = [...html.matchAll(/(?:src|href)="\.?\/?(assets\/[^"]+)"/g)].map((m) => m[1]);
const gz = (buf) => gzipSync(buf, { level: 9 }).length;

let total = gz(Buffer.from(html));
const rows = [["index.html", total]];
for (const ref of new Set(refs)) {
  const size = gz(readFileSync(join(dist, ref)));
  rows.push([ref, size]);
  total += size;
}
const lazy = readdirSync(join(dist, "assets")).filter((f) => !refs.includes(`assets/${f}`));
for (const [name, size] of rows) console.log(`first load  ${(size / 1024).toFixed(1).padStart(7)} KB gz  ${name}`);
for (const f of lazy) console.log(`lazy        ${(gz(readFileSync(join(dist, "assets", f))) / 1024).toFixed(1).padStart(7)} KB gz  assets/${f}`);
console.log(`first load total ${(total / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (total > BUDGET_KB * 1024) {
  console.error(`bundle budget exceeded: ${(total / 1024).toFixed(1)} KB > ${BUDGET_KB} KB`);
  process.exit(1);
}
