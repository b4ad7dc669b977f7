// Helpers for the end-to-end run: free ports, the API under test, a static server fallback, a tiny test harness.
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, request } from "node:http";
import { connect, createServer as createNetServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize } from "node:path";

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export function run(cmd, args, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], ...opts });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")} exited ${code}\n${out.slice(-3000)}`))));
  });
}

export async function waitFor(fn, { timeout = 30000, interval = 150, what = "condition", stopOn = () => false } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      if (stopOn(e)) throw e;
      last = e;
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

/** One fresh API key per role, given to the server as hashes through C360_API_KEYS. */
export function makeApiKeys() {
  const keys = {};
  const entries = [];
  for (const role of ["viewer", "operator", "admin"]) {
    const key = `c360_e2e${role}${randomBytes(18).toString("base64url")}`;
    keys[role] = key;
    entries.push({ name: `e2e-${role}`, role, sha256: createHash("sha256").update(key).digest("hex") });
  }
  return { keys, env: { C360_API_KEYS: JSON.stringify(entries) } };
}

/** Generated sample data, the pipeline run, and `c360 serve` on a free port. */
export async function startApi({ c360, cwd, accounts = 300, seed = 7, asOf = "2026-10-31", env = {}, log }) {
  const dataDir = mkdtempSync(join(tmpdir(), "c360-e2e-"));
  log(`generating ${accounts} accounts into ${dataDir}`);
  await run(c360, ["generate", "--accounts", String(accounts), "--seed", String(seed), "--as-of", asOf, "--data-dir", dataDir], { cwd });
  // The linker's accept threshold is raised so the sample book also has a link review queue to work on.
  const pipelineEnv = { ...process.env, C360_ACCOUNT_LINKING__THRESHOLDS__ACCEPT_MIN_CONFIDENCE: "95", C360_ACCOUNT_LINKING__THRESHOLDS__REVIEW_MIN_CONFIDENCE: "50" };
  await run(c360, ["pipeline", "run", "--data-dir", dataDir, "--as-of", asOf, "--backfill-months", "6"], { cwd, env: pipelineEnv });
  const port = await freePort();
  const serverLog = [];
  const child = spawn(c360, ["serve", "--data-dir", dataDir, "--host", "127.0.0.1", "--port", String(port)], {
    stdio: ["ignore", "pipe", "pipe"],
    cwd,
    env: { ...process.env, ...env },
  });
  child.stdout.on("data", (d) => serverLog.push(String(d)));
  child.stderr.on("data", (d) => serverLog.push(String(d)));
  const url = `http://127.0.0.1:${port}`;
  let exited = null;
  child.on("exit", (code) => (exited = code));
  try {
    await waitFor(
      async () => {
        if (exited !== null) throw Object.assign(new Error(`c360 serve exited with ${exited}`), { fatal: true });
        return (await fetch(`${url}/healthz`)).ok;
      },
      { timeout: 60000, what: "c360 serve /healthz", stopOn: (e) => e?.fatal },
    );
  } catch (e) {
    child.kill("SIGTERM");
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`${e.message}\n--- c360 serve output ---\n${serverLog.join("").slice(-4000)}`);
  }
  log(`c360 serve is up at ${url}`);
  return {
    url,
    dataDir,
    serverLog,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r() : child.once("exit", r)));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".json": "application/json", ".png": "image/png" };

/** Serve dist/ and proxy /graphql (HTTP and WebSocket) to the API: used only while `c360 serve` does not serve the client itself. */
export async function startStaticProxy(distDir, apiUrl) {
  const api = new URL(apiUrl);
  const server = createServer((req, res) => {
    if (req.url.startsWith("/graphql")) {
      const up = request({ host: api.hostname, port: api.port, path: req.url, method: req.method, headers: { ...req.headers, host: api.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", () => {
        res.writeHead(502);
        res.end("bad gateway");
      });
      req.pipe(up);
      return;
    }
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    let file = normalize(join(distDir, path === "/" ? "index.html" : path));
    if (!file.startsWith(distDir) || !existsSync(file) || statSync(file).isDirectory()) file = join(distDir, "index.html");
    res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(res);
  });
  // WebSockets on /graphql (subscriptions): pass the upgrade request through and then the raw bytes both ways.
  const sockets = new Set();
  server.on("upgrade", (req, socket, head) => {
    if (!req.url.startsWith("/graphql")) return socket.destroy();
    const up = connect(Number(api.port), api.hostname, () => {
      const headers = Object.entries({ ...req.headers, host: api.host }).map(([k, v]) => `${k}: ${v}`);
      up.write(`${req.method} ${req.url} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`);
      if (head?.length) up.write(head);
      up.pipe(socket).pipe(up);
    });
    for (const s of [socket, up]) {
      sockets.add(s);
      s.on("error", () => (socket.destroy(), up.destroy()));
      s.on("close", () => (sockets.delete(s), socket.destroy(), up.destroy()));
    }
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => {
      sockets.forEach((s) => s.destroy());
      return new Promise((r) => server.close(r));
    },
  };
}

/** GraphQL straight to the API, to compare what the page shows with what the server says. */
export function gql(apiUrl, headers = {}) {
  return async (query, variables = {}) => {
    const r = await fetch(`${apiUrl}/graphql`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query, variables }) });
    const body = await r.json();
    if (body.errors) throw new Error(`GraphQL error: ${JSON.stringify(body.errors)}`);
    return body.data;
  };
}

export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** A minimal sequential harness: named steps, timings, and a closing "N passed, N failed" line. */
export function harness(log) {
  const results = [];
  return {
    async test(name, fn) {
      const t0 = Date.now();
      try {
        await fn();
        results.push({ name, ok: true });
        log(`  ✓ ${name} (${Date.now() - t0} ms)`);
      } catch (e) {
        results.push({ name, ok: false, error: e });
        log(`  ✗ ${name} (${Date.now() - t0} ms)\n    ${String(e?.stack ?? e).split("\n").slice(0, 6).join("\n    ")}`);
      }
    },
    skip(name, why) {
      results.push({ name, skipped: true });
      log(`  - ${name} (skipped: ${why})`);
    },
    summary() {
      const passed = results.filter((r) => r.ok).length;
      const failed = results.filter((r) => !r.ok && !r.skipped).length;
      const skipped = results.filter((r) => r.skipped).length;
      return { passed, failed, skipped };
    },
  };
}
