// End to end in headless Chromium (Debian's /usr/bin/chromium, driven by playwright-core) against a real
// `c360 serve` on generated sample data. Screenshots of every page land in client/test-output/.
//   node e2e/run.mjs            (needs dist/: `npm run build` first; `make client-test` does both)
// Env: C360_BIN (default ../.venv/bin/c360), CHROMIUM (default /usr/bin/chromium), E2E_ACCOUNTS (default 300),
// C360_E2E_API (use an API that is already running instead of starting one).
import { mkdirSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { assert, assertEqual, gql, harness, makeApiKeys, startApi, startStaticProxy, waitFor } from "./support.mjs";
import { scenarios } from "./scenarios.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const clientDir = resolve(here, "..");
const dist = join(clientDir, "dist");
const out = join(clientDir, "test-output");
const c360 = process.env.C360_BIN ?? resolve(clientDir, "../.venv/bin/c360");
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
const t0 = Date.now();
const log = (m) => console.log(`[e2e ${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);

for (const [what, path] of [["the built client (run `npm run build`)", join(dist, "index.html")], ["c360 (run `make venv`)", c360], ["Chromium (apt-get install chromium)", executablePath]]) {
  if (!existsSync(path)) {
    console.error(`e2e: missing ${what}: ${path}`);
    process.exit(2);
  }
}
mkdirSync(out, { recursive: true });

// Keys for each role (servers without API keys ignore them). With C360_E2E_API, C360_E2E_KEY is sent for every role.
const apiKeys = process.env.C360_E2E_API ? { keys: { viewer: process.env.C360_E2E_KEY, operator: process.env.C360_E2E_KEY, admin: process.env.C360_E2E_KEY }, env: {} } : makeApiKeys();
// C360_E2E_API=http://127.0.0.1:PORT reuses a running server (its data) instead of starting one.
const api = process.env.C360_E2E_API
  ? { url: process.env.C360_E2E_API.replace(/\/$/, ""), serverLog: [], stop: async () => {} }
  : await startApi({ c360, cwd: resolve(clientDir, ".."), accounts: Number(process.env.E2E_ACCOUNTS ?? 300), env: apiKeys.env, log }).catch((e) => {
      console.error(`e2e: could not start the API under test: ${e.message}`);
      console.log("e2e: 0 passed, 1 failed");
      process.exit(1);
    });
let proxy = null;
let browser = null;
let exitCode = 1;
try {
  // Prefer the client as `c360 serve` serves it at `/`; fall back to a static server + /graphql proxy.
  const root = await fetch(`${api.url}/`).then((r) => (r.ok ? r.text() : "")).catch(() => "");
  let appUrl = api.url;
  if (!root.includes('id="root"')) {
    proxy = await startStaticProxy(dist, api.url);
    appUrl = proxy.url;
    log(`c360 serve does not serve the client at / yet: using a static server with a /graphql proxy at ${appUrl}`);
  } else log("c360 serve serves the client at /");

  browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const schema = await fetch(`${api.url}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(apiKeys.keys.admin ? { "X-API-Key": apiKeys.keys.admin } : {}) },
    body: JSON.stringify({ query: "{ __schema { mutationType { fields { name } } queryType { fields { name } } subscriptionType { fields { name } } } }" }),
  }).then((r) => r.json());
  const capabilities = new Set([...(schema.data?.__schema?.mutationType?.fields ?? []), ...(schema.data?.__schema?.queryType?.fields ?? []), ...(schema.data?.__schema?.subscriptionType?.fields ?? [])].map((f) => f.name));
  const authRequired = (await fetch(`${api.url}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"query":"{ __typename }"}' })).status === 401;
  if (authRequired) capabilities.add("@apiKeys");
  log(`API: ${authRequired ? "API keys required" : "no API key required"}; mutations: ${[...capabilities].filter((c) => /^[a-z]+[A-Z]/.test(c) && !/^(search|dashboard)/.test(c)).join(", ") || "none"}`);

  const h = harness(log);
  const ctx = { browser, appUrl, apiUrl: api.url, api: gql(api.url, apiKeys.keys.admin ? { "X-API-Key": apiKeys.keys.admin } : {}), keys: apiKeys.keys, out, log, assert, assertEqual, waitFor, capabilities, env: process.env };
  for (const s of scenarios) {
    if (s.needs && !s.needs.every((n) => capabilities.has(n))) {
      h.skip(s.name, `the API has no ${s.needs.filter((n) => !capabilities.has(n)).join(", ")} yet`);
      continue;
    }
    await h.test(s.name, () => s.run(ctx));
  }
  const { passed, failed, skipped } = h.summary();
  log(`screenshots in ${out}`);
  console.log(`e2e: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
  exitCode = failed ? 1 : 0;
  if (failed) console.log(`--- c360 serve log (tail) ---\n${api.serverLog.join("").slice(-4000)}`);
} catch (e) {
  console.error(e);
  console.log(`--- c360 serve log (tail) ---\n${api.serverLog.join("").slice(-4000)}`);
} finally {
  await browser?.close().catch(() => {});
  await proxy?.stop();
  await api.stop();
}
process.exit(exitCode);
