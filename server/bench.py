"""API figures for `make bench`: server startup, and load against `c360 serve` paired with a bare reference.

`bench_api(data_dir, workdir)` starts ``c360 serve`` (one uvicorn worker,
127.0.0.1) on the data set's published snapshot and measures

* startup: seconds from process start to ``/readyz`` answering 200, and the
  peak resident memory at that moment (``VmHWM``) and over the server's life
  (``wait4``);
* load: for each scenario (customer 360 profile with variables over random
  customers, ``searchCustomers`` with random 2-4 letter prefixes and with a
  typo, ``dashboardSummary``; response cache off, then on - warmed first by
  sending every distinct request once, so "cache on" measures hits),
  requests/s, p50 and p99 at 32 connections, each followed in the same run by the same load
  against a bare Starlette endpoint (same uvicorn server and loop, own process; it logs each request with uvicorn's access log, the API with its own) that
  returns the same JSON bytes the API returned for that scenario.  The ratio
  is API rate / reference rate.

The load generator is ``wrk`` when installed (a generated Lua script picks a
random request body per request and stops a thread after its share of
``max_requests``), otherwise a small asyncio HTTP/1.1 keep-alive client in a
separate process (``python -m server.bench load ...``).  Both are bounded
in time and in requests.  Auth: a fresh viewer key in ``C360_API_KEYS`` (only
its hash, in the server's environment).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

PROFILE_QUERY = """query Customer360($id: ID!) {
  customer(id: $id) {
    id name region owner asOf { date runId }
    arrUsd mrrUsd clvUsd healthScore healthCategory churnRisk churnLevel
    healthBreakdown { score components { name score weight effectiveWeight facts { label value } } }
    alerts(statuses: [OPEN]) {
      id type severity status firstSeen lastSeen message impactUsd
      explanation { text conditions { field op threshold actual met } }
    }
    recommendations { id ruleId title priority status action expectedOutcome impactUsd
                      statusHistory { status at by reason source }
                      executedAction { id executedAt executedBy writeBack { status salesforceTaskId } } }
    masterAccount { id size rollup { totalArrUsd worstChurnLevel } }
    linkedAccounts { customer { id name region } link { method confidence evidence } }
    timeline(first: 20) { totalCount events { date type title amountUsd } }
    ruleEvaluation { evaluatedAt trigger firings { ruleId severity message } }
  }
}"""

SEARCH_QUERY = """query SearchCustomers($query: String!, $limit: Int! = 8) {
  searchCustomers(query: $query, limit: $limit) {
    score
    customer { id name region country healthScore healthCategory }
  }
}"""

DASHBOARD_QUERY = """query DashboardSummary($top: Int! = 10) {
  dashboardSummary(top: $top) {
    asOf { date runId }
    customers totalMrrUsd totalArrUsd averageHealth
    byHealthCategory { label count }
    byChurnLevel { label count }
    arrAtRiskUsd alertsAvailable
    openAlertsBySeverity { label count }
    recommendationsAvailable
    openRecommendationsByPriority { label count }
    topAtRisk { id name region arrUsd healthScore healthCategory churnRisk churnLevel }
  }
}"""

CONNECTIONS = 32
POOL = 2000  # customers (and search terms) a scenario picks from at random


@dataclass
class Startup:
    seconds_to_ready: float
    rss_at_ready_mib: float
    peak_rss_mib: float = float("nan")  # over the server's whole life (VmHWM), set when it stops
    customers: int = 0
    # the largest of each part of the resident size seen while the server ran (polled): anonymous
    # memory (the snapshot, caches, the heap) and mapped file pages (memory-mapped Parquet the kernel
    # may drop and read again), so a peak is not mistaken for memory the server holds
    peak_rss_anon_mib: float = float("nan")
    peak_rss_file_mib: float = float("nan")


@dataclass
class Scenario:
    name: str
    note: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    ref_requests: int
    ref_rps: float
    ref_p50_ms: float
    ref_p99_ms: float
    cache_hits: int | None = None
    # Runs of the scenario (API then reference, each time): the figures above are the run with the median
    # API req/s; over all runs, the lowest and highest ratio and API p99 (this machine's run-to-run spread
    # is 10-20% in req/s, and more in p99)
    runs: int = 1
    ratio_range: tuple[float, float] | None = None
    p99_range: tuple[float, float] | None = None
    # the median of the runs' p99s: what a p99 target is judged on (one run's p99 here swings by a third)
    p99_median_ms: float | None = None

    @property
    def ratio(self) -> float:
        return self.rps / self.ref_rps if self.ref_rps else 0.0


def median_run(runs: list[tuple[dict, dict]]) -> tuple[dict, dict]:
    """Of (API figures, reference figures) pairs, the pair whose API req/s is the median (the lower
    middle one of an even count): one real run, not a mix of figures from several."""
    return sorted(runs, key=lambda r: r[0]["rps"])[(len(runs) - 1) // 2]


@dataclass
class ApiResult:
    engine: str
    connections: int
    duration: float
    max_requests: int
    startup: Startup
    scenarios: list[Scenario] = field(default_factory=list)

    def to_json(self) -> dict:
        out = asdict(self)
        for s, d in zip(self.scenarios, out["scenarios"], strict=True):
            d["ratio"] = round(s.ratio, 4)
        return out


# ---------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vm_field(pid: int, name: str) -> float:
    """A memory figure of /proc/PID/status in MiB (``VmHWM:``, ``VmRSS:``)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def _vm_hwm_mib(pid: int) -> float:
    """The process's own RSS high-water mark (VmHWM).  Not wait4's ru_maxrss: Linux carries a parent's
    high-water mark into a child at fork, so a server started by a bench process that had held the
    extraction's 14 GB reported 14 GB."""
    return _vm_field(pid, "VmHWM:")


class MemoryPeaks(threading.Thread):
    """Polls a process's RssAnon and RssFile (/proc/PID/status) and keeps the largest of each."""

    def __init__(self, pid: int, every: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.anon_mib = self.file_mib = float("nan")
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        anon, file = _vm_field(self.pid, "RssAnon:"), _vm_field(self.pid, "RssFile:")
        if anon == anon:  # NaN once the process is gone
            self.anon_mib = anon if self.anon_mib != self.anon_mib else max(self.anon_mib, anon)
            self.file_mib = file if self.file_mib != self.file_mib else max(self.file_mib, file)

    def finish(self) -> None:
        self.sample()
        self._stop.set()


class Process:
    """A server subprocess; `stop` returns its peak RSS (MiB), read just before it is stopped;
    `memory` holds the peaks of its anonymous and file-backed resident memory."""

    def __init__(self, cmd: list[str], env: dict[str, str], port: int, log: Path):
        self.port = port
        self.log = log
        self.start = time.perf_counter()
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop
        self.proc = subprocess.Popen(cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        self.memory = MemoryPeaks(self.proc.pid)
        self.memory.start()

    def wait_ready(self, path: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited ({self.proc.returncode}) before {path} was ready; log {self.log}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.start
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server not ready within {timeout:.0f} s; log {self.log}")

    def stop(self) -> float:
        if self.proc.returncode is None:
            hwm = _vm_hwm_mib(self.proc.pid)
            self.memory.finish()
            self.proc.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 20
            usage = None
            while time.monotonic() < deadline:
                pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
                if pid:
                    self.proc.returncode = os.waitstatus_to_exitcode(status)
                    break
                time.sleep(0.05)
            else:
                self.proc.kill()
                _, status, usage = os.wait4(self.proc.pid, 0)
                self.proc.returncode = os.waitstatus_to_exitcode(status)
            self._log.close()
            return hwm if hwm == hwm else usage.ru_maxrss / 1024  # (NaN: /proc unreadable)
        self._log.close()
        return float("nan")


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}


# ---------------------------------------------------------------------------- the reference server


def reference_main(bodies_file: str, port: int) -> None:
    """A bare Starlette app: POST /ref/{name} answers the stored JSON bytes of that scenario."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route

    bodies = {k: v.encode() for k, v in json.loads(Path(bodies_file).read_text()).items()}

    async def endpoint(request):
        await request.body()
        return Response(bodies[request.path_params["name"]], media_type="application/json")

    async def ready(request):
        return Response(b'{"ready":true}', media_type="application/json")

    app = Starlette(routes=[Route("/ref/{name}", endpoint, methods=["POST"]), Route("/readyz", ready)])
    # uvicorn as `c360 serve` runs it (h11, asyncio), logging each request with its own access log (the API
    # writes its own access line instead, server.observability)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="info")


# ---------------------------------------------------------------------------- load generators

WRK_SCRIPT = r"""
local bodies = {%(bodies)s}
local headers = {%(headers)s}
local path = %(path)s
local max_per_thread = %(max_per_thread)d
local threads = {}
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end
init = function(args)
  math.randomseed(%(seed)d + 7919 * id)
  hits = 0
  responses = 0
end
request = function()
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end
response = function(status, hdrs, body)
  responses = responses + 1
  if hdrs["x-cache"] == "HIT" or hdrs["X-Cache"] == "HIT" then hits = hits + 1 end
  if responses >= max_per_thread then wrk.thread:stop() end
end
done = function(summary, latency, requests)
  local h = 0
  for _, t in ipairs(threads) do h = h + t:get("hits") end
  local e = summary.errors
  io.write(string.format('\nWRKJSON {"requests": %%d, "duration_us": %%d, "errors": %%d, "p50_us": %%d, "p99_us": %%d, "hits": %%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.timeout + e.status,
    latency:percentile(50), latency:percentile(99), h))
end
"""


def _lua_string(s: str) -> str:
    level = "=" * 4
    while f"]{level}]" in s:
        level += "="
    return f"[{level}[{s}]{level}]"


def run_wrk(port: int, path: str, bodies: list[str], headers: dict[str, str], *, connections: int, duration: float,
            max_requests: int, seed: int, workdir: Path) -> dict:
    threads = min(2, os.cpu_count() or 1)
    script = WRK_SCRIPT % {
        "bodies": ",\n".join(_lua_string(b) for b in bodies),
        "headers": ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in headers.items()),
        "path": _lua_string(path),
        "max_per_thread": max(1, max_requests // threads),
        "seed": seed,
    }
    lua = workdir / f"wrk-{port}-{seed}.lua"
    lua.write_text(script)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "30s",
           "-s", str(lua), f"http://127.0.0.1:{port}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60, check=False)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no summary: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    d = json.loads(line[len("WRKJSON "):])
    secs = d["duration_us"] / 1e6
    return {"requests": d["requests"], "rps": d["requests"] / secs if secs else 0.0, "p50_ms": d["p50_us"] / 1000,
            "p99_ms": d["p99_us"] / 1000, "errors": d["errors"], "hits": d["hits"]}


async def _load(port: int, path: str, bodies: list[bytes], headers: dict[str, str], connections: int, duration: float,
                max_requests: int, seed: int) -> dict:
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    requests = [
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n{head}Content-Length: {len(b)}\r\n\r\n".encode() + b
        for b in bodies
    ]
    latencies: list[float] = []
    state = {"sent": 0, "errors": 0, "hits": 0}
    deadline = time.perf_counter() + duration

    async def connection(i: int) -> None:
        rnd = random.Random(seed * 1000 + i)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline and state["sent"] < max_requests:
                state["sent"] += 1
                t0 = time.perf_counter()
                writer.write(requests[rnd.randrange(len(requests))])
                status_line = await reader.readline()
                length, hit = 0, False
                while True:
                    line = await reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"x-cache" and value.strip() == b"HIT":
                        hit = True
                    elif name == b"transfer-encoding":
                        raise RuntimeError("chunked responses are not supported by this load generator")
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if not status_line.startswith(b"HTTP/1.1 200"):
                    state["errors"] += 1
                state["hits"] += hit
        finally:
            writer.close()

    start = time.perf_counter()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    secs = time.perf_counter() - start
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else float("nan")

    return {"requests": len(latencies), "rps": len(latencies) / secs if secs else 0.0, "p50_ms": pct(50), "p99_ms": pct(99),
            "errors": state["errors"], "hits": state["hits"]}


def load_main(args: argparse.Namespace) -> None:
    spec = json.loads(Path(args.spec).read_text())
    out = asyncio.run(_load(spec["port"], spec["path"], [b.encode() for b in spec["bodies"]], spec["headers"], spec["connections"],
                            spec["duration"], spec["max_requests"], spec["seed"]))
    print(json.dumps(out))


def run_python(port: int, path: str, bodies: list[str], headers: dict[str, str], *, connections: int, duration: float,
               max_requests: int, seed: int, workdir: Path) -> dict:
    spec = workdir / f"load-{port}-{seed}.json"
    spec.write_text(json.dumps({"port": port, "path": path, "bodies": bodies, "headers": headers, "connections": connections,
                                "duration": duration, "max_requests": max_requests, "seed": seed}))
    out = subprocess.run([sys.executable, "-m", "server.bench", "load", str(spec)], capture_output=True, text=True,
                         timeout=duration + 120, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------- scenarios


def search_terms(names: list[str], rnd: random.Random, count: int) -> tuple[list[str], list[str]]:
    """Queries from `count` random names: a 2-4 letter prefix of each, and one typo in each first word of 5+ letters
    (two neighbours swapped, or one letter replaced; never the first letter)."""
    prefixes, typos = [], []
    letters = "abcdefghijklmnopqrstuvwxyz"
    for name in rnd.sample(names, min(count, len(names))):
        word = "".join(c for c in name.lower() if c.isalpha() or c == " ").strip()
        if len(word) >= 2:
            prefixes.append(word[: rnd.randint(2, min(4, len(word)))])
        first = word.split(" ")[0] if word else ""
        if len(first) >= 5:
            i = rnd.randrange(1, len(first) - 1)
            if rnd.random() < 0.5:
                typo = first[:i] + first[i + 1] + first[i] + first[i + 2:]
            else:
                typo = first[:i] + rnd.choice(letters.replace(first[i], "")) + first[i + 1:]
            typos.append(typo)
    return prefixes, typos


def request_pools(data_dir: Path, seed: int) -> tuple[dict[str, list[str]], int]:
    """Request bodies per scenario, from the published snapshot's customers."""
    import pyarrow.parquet as pq

    from etl import storage

    run_id = storage.current_run_id(data_dir)
    snap = storage.open_snapshot(data_dir, run_id)
    t = pq.read_table(snap.table_path("gold", "gold_customer_360_metrics"), columns=["account_id", "account_name"])
    ids = t.column("account_id").to_pylist()
    names = [n for n in t.column("account_name").to_pylist() if n]
    rnd = random.Random(seed)
    pick_ids = rnd.sample(ids, min(POOL, len(ids)))
    prefixes, typos = search_terms(names, rnd, POOL)

    def body(query: str, name: str, variables: dict) -> str:
        return json.dumps({"query": query, "operationName": name, "variables": variables}, separators=(",", ":"))

    return {
        "profile": [body(PROFILE_QUERY, "Customer360", {"id": i}) for i in pick_ids],
        "search-prefix": [body(SEARCH_QUERY, "SearchCustomers", {"query": p, "limit": 8}) for p in prefixes],
        "search-typo": [body(SEARCH_QUERY, "SearchCustomers", {"query": t, "limit": 8}) for t in typos or prefixes],
        "dashboard": [body(DASHBOARD_QUERY, "DashboardSummary", {"top": 10})],
    }, len(ids)


SCENARIOS = {
    # name: (pool, cache on, label)
    "profile-cache-off": ("profile", False, "customer 360 profile, random customers, response cache off"),
    "search-prefix": ("search-prefix", False, "searchCustomers, random 2-4 letter prefixes, cache off"),
    "search-typo": ("search-typo", False, "searchCustomers, one typo in a name's first word, cache off"),
    "dashboard-cache-off": ("dashboard", False, "dashboardSummary(top: 10), cache off"),
    "profile-cache-on": ("profile", True, "customer 360 profile, random customers, response cache on (warmed: hits)"),
    "dashboard-cache-on": ("dashboard", True, "dashboardSummary(top: 10), cache on (hits)"),
}


def warm(port: int, path: str, bodies: list[str], headers: dict[str, str], threads: int = 4) -> None:
    """Send every distinct request once before a timed run: every scenario then measures the steady
    state (compiled plans, the pool's pages of the memory-mapped copies read once), not a fresh
    process's first pass, and a cache-on scenario measures hits, not the first misses."""
    from concurrent.futures import ThreadPoolExecutor

    def one(body: str) -> None:
        status, _, _ = post(port, path, body.encode(), headers)
        if status != 200:
            raise RuntimeError(f"warming the cache: {path} answered {status}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, dict.fromkeys(bodies)))


def start_server(data_dir: Path, config_dir: Path | None, env: dict[str, str], log: Path, timeout: float) -> tuple[Process, float, float]:
    port = free_port()
    cmd = [sys.executable, "-m", "etl.cli", "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    if config_dir is not None:
        cmd += ["--config-dir", str(config_dir)]
    proc = Process(cmd, env, port, log)
    secs = proc.wait_ready("/readyz", timeout)
    return proc, secs, _vm_hwm_mib(proc.proc.pid)


def bench_api(data_dir: Path, workdir: Path, *, duration: float = 10.0, max_requests: int = 200_000,
              connections: int = CONNECTIONS, engine: str = "auto", seed: int = 42, scenarios: list[str] | None = None,
              startup_timeout: float = 900.0, repeats: int = 1) -> ApiResult:
    """Startup, then each scenario's load against the API and against the bare reference, `repeats`
    times (see `Scenario`)."""
    from server.keys import hash_key, new_key

    data_dir, workdir = Path(data_dir), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if engine == "auto":
        engine = "wrk" if shutil.which("wrk") else "python"
    run_load = run_wrk if engine == "wrk" else run_python
    names = scenarios or list(SCENARIOS)
    pools, customers = request_pools(data_dir, seed)

    key = new_key()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("C360_SERVER__")}
    base_env |= {
        "C360_API_KEYS": json.dumps([{"name": "bench", "role": "viewer", "sha256": hash_key(key)}]),
        "C360_SERVER__WRITE_BACK__ENABLED": "false",
        "PYTHONUNBUFFERED": "1",
    }
    base_env.pop("C360_API_KEYS_FILE", None)
    headers = {"Content-Type": "application/json", "X-API-Key": key}
    tmp = Path(tempfile.mkdtemp(prefix="api-", dir=workdir))

    result: ApiResult | None = None
    ref: Process | None = None
    try:
        for cache_on in (False, True):
            todo = [n for n in names if SCENARIOS[n][1] == cache_on]
            if not todo and result is not None:
                continue
            env = base_env | {"C360_SERVER__CACHE__ENABLED": json.dumps(cache_on)}
            server, secs, rss = start_server(data_dir, None, env, tmp / f"serve-cache-{'on' if cache_on else 'off'}.log",
                                             startup_timeout)
            try:
                if result is None:
                    result = ApiResult(engine, connections, duration, max_requests, Startup(secs, rss, customers=customers))
                if ref is None:
                    # The reference answers exactly what the API answered for each scenario's first request.
                    bodies = {}
                    for pool in sorted({SCENARIOS[n][0] for n in names}):
                        status, body, _ = post(server.port, "/graphql", pools[pool][0].encode(), headers)
                        parsed = json.loads(body)
                        if status != 200 or parsed.get("errors"):
                            raise RuntimeError(f"{pool}: the API answered {status}: {body[:500]!r}")
                        bodies[pool] = body.decode()
                    (tmp / "bodies.json").write_text(json.dumps(bodies))
                    ref_port = free_port()
                    ref = Process([sys.executable, "-m", "server.bench", "reference", str(tmp / "bodies.json"), str(ref_port)],
                                  base_env, ref_port, tmp / "reference.log")
                    ref.wait_ready("/readyz", 60)
                for i, name in enumerate(todo):
                    pool, _, label = SCENARIOS[name]
                    kw = {"connections": connections, "duration": duration, "max_requests": max_requests, "seed": seed + i, "workdir": tmp}
                    warm(server.port, "/graphql", pools[pool], headers)
                    runs = [(run_load(server.port, "/graphql", pools[pool], headers, **kw),
                             run_load(ref.port, f"/ref/{pool}", pools[pool], headers, **kw)) for _ in range(repeats)]
                    api, refm = median_run(runs)
                    ratios = [a["rps"] / r["rps"] if r["rps"] else 0.0 for a, r in runs]
                    p99s = [a["p99_ms"] for a, _ in runs]
                    note = f"{len(pools[pool]):,} distinct requests" if len(pools[pool]) > 1 else "one request"
                    result.scenarios.append(Scenario(
                        name, f"{label}; {note}", api["requests"], api["rps"], api["p50_ms"], api["p99_ms"],
                        sum(a["errors"] for a, _ in runs), refm["requests"], refm["rps"], refm["p50_ms"], refm["p99_ms"],
                        api["hits"] if cache_on else None, repeats,
                        (round(min(ratios), 4), round(max(ratios), 4)), (min(p99s), max(p99s)), statistics.median(p99s)))
            finally:
                peak = server.stop()
                if not cache_on:
                    result.startup.peak_rss_mib = peak
                    result.startup.peak_rss_anon_mib = server.memory.anon_mib
                    result.startup.peak_rss_file_mib = server.memory.file_mib
    finally:
        if ref is not None:
            ref.stop()
    shutil.rmtree(tmp, ignore_errors=True)
    return result


def bench_startup(data_dir: Path, workdir: Path, timeout: float = 900.0) -> Startup:
    """Only the startup figures: start `c360 serve`, wait for /readyz, stop."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("C360_SERVER__")} | {"C360_SERVER__JSON_LOGS": "false"}
    workdir.mkdir(parents=True, exist_ok=True)
    server, secs, rss = start_server(Path(data_dir), None, env, Path(workdir) / "serve-startup.log", timeout)
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/healthz", timeout=10) as r:
        out = Startup(secs, rss, customers=json.loads(r.read())["customers"])
    out.peak_rss_mib = server.stop()
    return out


def _percentiles(prefix: str, ms: list[float]) -> dict[str, float]:
    import numpy as np

    a = np.array(ms)
    return {f"{prefix}p50_ms": round(float(np.percentile(a, 50)), 3), f"{prefix}p99_ms": round(float(np.percentile(a, 99)), 3),
            f"{prefix}max_ms": round(float(a.max()), 3)}


def bench_search(source: Path, *, queries: int = POOL, limit: int = 8, seed: int = 42, passes: int = 3) -> dict:
    """In-process `NameIndex` figures over the names of a metrics table (a data dir's published snapshot, or a
    Parquet file with account_id, account_name, arr_usd): build seconds and memory, then per query type the
    latency of `search` (p50/p99/max over all passes after a warm-up pass), wall clock and this thread's CPU time
    (which leaves out the time other processes had the core: on a shared machine the steadier figure)."""
    import gc

    import pyarrow.parquet as pq

    from server.search import NameIndex

    path = Path(source)
    if path.is_dir():
        from etl import storage

        path = storage.open_snapshot(path).table_path("gold", "gold_customer_360_metrics")
    table = pq.read_table(path, columns=["account_id", "account_name", "arr_usd"])
    ids = table.column("account_id").to_numpy(zero_copy_only=False)
    arr = table.column("arr_usd").to_numpy(zero_copy_only=False).astype(float)
    gc.collect()
    rss_before = _vm_field(os.getpid(), "VmRSS:")
    wall, cpu = time.perf_counter(), time.process_time()
    index = NameIndex(ids, table.column("account_name"), arr)
    build_wall, build_cpu = time.perf_counter() - wall, time.process_time() - cpu
    gc.collect()
    rss_after = _vm_field(os.getpid(), "VmRSS:")

    names = [n for n in table.column("account_name").to_pylist() if n]
    rnd = random.Random(seed)
    prefixes, typos = search_terms(names, rnd, queries)
    samples = rnd.sample(names, min(queries, len(names)))
    kinds = {
        "prefix": prefixes,  # what the API bench's search-prefix sends
        "typo": typos,  # ... and search-typo
        "one letter": list("abcdefghijklmnopqrstuvwxyz"),
        "two words": [f"{ws[0]} {ws[1][:2]}" for ws in (n.lower().split() for n in samples) if len(ws) > 1],
        "full name": samples,
    }
    out = {"names": len(index), "build_seconds": round(build_wall, 3), "build_cpu_seconds": round(build_cpu, 3),
           "index_mib": round(index.nbytes / 2**20, 1), "rss_growth_mib": round(rss_after - rss_before, 1),
           "limit": limit, "queries": {}}
    for kind, qs in kinds.items():
        for q in qs:  # warm-up pass
            index.search(q, limit)
        wall, cpu = [], []
        for _ in range(passes):
            for q in qs:
                t0, c0 = time.perf_counter(), time.thread_time()
                index.search(q, limit)
                wall.append((time.perf_counter() - t0) * 1000)
                cpu.append((time.thread_time() - c0) * 1000)
        out["queries"][kind] = {"count": len(qs), **_percentiles("", wall), **_percentiles("cpu_", cpu)}
    return out


def bench_reads(data_dir: Path, *, customers: int = 2000, seed: int = 42) -> dict:
    """In-process figures for a customer's rows read from the snapshot's files: for `customers` random
    customers, the calls a profile request makes (timeline positions and the first 20 rows, alerts,
    recommendations, rule facts, master account, its members, links and roll-up), timed part by part.
    A first pass over other random customers warms the code paths (not the readers' caches: those
    hold a few row groups or batches, not 2,000 customers')."""
    import numpy as np

    from etl import storage
    from server.snapshot import Snapshot

    start = time.perf_counter()
    snap = Snapshot.load(storage.open_snapshot(data_dir))
    load_seconds = time.perf_counter() - start
    rnd = random.Random(seed)
    ids = rnd.sample(list(snap.metrics.index), min(2 * customers, len(snap.metrics)))
    warm_ids, ids = ids[customers:], ids[:customers]

    def timeline(a):
        return snap.timeline.take(snap.timeline.positions(a)[:20])

    def master(a):
        row = snap.master_of(a)
        if row is not None:
            m = row["master_id"]
            snap.members_of(m), snap.links_of(m), snap.rollup(m)

    parts = {"timeline (positions + take 20)": timeline, "alerts_for": snap.alerts_for,
             "recommendations_for": snap.recommendations_for, "rule_facts_of": snap.rule_facts_of,
             "master_of + members_of + links_of + rollup": master}
    for a in warm_ids:
        for fn in parts.values():
            fn(a)
    per_part = {name: [] for name in parts}
    per_customer = []
    for a in ids:
        t_customer = time.perf_counter()
        for name, fn in parts.items():
            t0 = time.perf_counter()
            fn(a)
            per_part[name].append((time.perf_counter() - t0) * 1000)
        per_customer.append((time.perf_counter() - t_customer) * 1000)
    out = {"customers": len(ids), "load_seconds": round(load_seconds, 2),
           "timeline_reader": type(getattr(snap.timeline, "reader", snap.timeline)).__name__,
           "total_seconds": round(sum(per_customer) / 1000, 3), **_percentiles("", per_customer),
           "mean_ms": round(float(np.mean(per_customer)), 3), "parts_mean_ms": {}}
    for name, ms in per_part.items():
        out["parts_mean_ms"][name] = round(float(np.mean(ms)), 3)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="API benchmark helpers")
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("reference")
    p.add_argument("bodies")
    p.add_argument("port", type=int)
    p = sub.add_parser("load")
    p.add_argument("spec")
    p = sub.add_parser("startup", help="start `c360 serve` on DATA_DIR and print the startup figures")
    p.add_argument("data_dir", type=Path)
    p = sub.add_parser("search", help="in-process search index figures over SOURCE's names (a data dir or a metrics Parquet file)")
    p.add_argument("source", type=Path)
    p.add_argument("--queries", type=int, default=POOL)
    p = sub.add_parser("reads", help="in-process: a profile's per-account reads from DATA_DIR's snapshot for random customers")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--customers", type=int, default=2000)
    p = sub.add_parser("run", help="the whole API bench on DATA_DIR")
    p.add_argument("data_dir", type=Path)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--engine", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--scenarios", default="")
    p.add_argument("--repeats", type=int, default=3, help="load runs per scenario; the median run is reported")
    args = parser.parse_args(argv)
    if args.cmd == "reference":
        reference_main(args.bodies, args.port)
    elif args.cmd == "load":
        load_main(args)
    elif args.cmd == "search":
        print(json.dumps(bench_search(args.source, queries=args.queries), indent=2))
    elif args.cmd == "reads":
        print(json.dumps(bench_reads(args.data_dir, customers=args.customers), indent=2))
    elif args.cmd == "startup":
        print(json.dumps(asdict(bench_startup(args.data_dir, Path(tempfile.mkdtemp())))))
    else:
        res = bench_api(args.data_dir, Path(tempfile.mkdtemp()), duration=args.duration, engine=args.engine,
                        scenarios=[s for s in args.scenarios.split(",") if s] or None, repeats=args.repeats)
        print(json.dumps(res.to_json(), indent=2))


if __name__ == "__main__":
    main()
