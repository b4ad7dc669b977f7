"""Extraction throughput: serve a bronze data set from the emulator, pull it back.

`bench_extract` loads every Salesforce object of an existing bronze layer
into the emulator (in this process, over TLS on 127.0.0.1), then runs a full
extraction twice in a child process (once all-REST, once all-Bulk 2.0), so
that the child's wall time and peak RSS (``wait4``) belong to the extractor
alone.  Peak memory is the worker's own ``VmHWM`` (``ru_maxrss`` of a
child would include the parent's pages from before ``exec``, here the
emulator's whole data set).  Bulk jobs are polled every 50 ms here (the emulator finishes a job
at its first poll); against a real org the job's own run time dominates.

    python -m etl.extract.bench --data-dir .bench/seed42-10k --workdir .bench/extract
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from etl.contracts import BRONZE_SALESFORCE
from etl.settings import REPO_ROOT
from etl.storage import bronze_dir, read_bronze

APIS = ("rest", "bulk2")


def _run_worker(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of a child process; raises with its stderr if it fails."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"extraction benchmark worker failed: {' '.join(cmd)}\n{proc.stderr.decode(errors='replace')[-4000:]}")
    return time.perf_counter() - start


def _peak_rss_mib() -> float:
    """This process's peak resident set since exec (VmHWM), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_extract(data_dir_with_bronze: Path, workdir: Path, objects: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Records/second and peak memory of a full REST and a full Bulk 2.0 extraction.

    ``objects`` limits the run to some objects (default: every object in bronze).

    Returns ``{"records": N, "objects": {...}, "rest": {...}, "bulk2": {...}}``
    where each API entry has ``seconds`` (the extraction inside the worker),
    ``wall_seconds`` (worker process incl. start-up), ``records_per_second``,
    ``peak_rss_mib`` and ``api_calls``.
    """
    from etl.extract.emulator import Emulator, EmulatorServer

    source = Path(data_dir_with_bronze)
    wanted = objects or tuple(BRONZE_SALESFORCE)
    frames = {obj: read_bronze(source, obj) for obj in wanted if bronze_dir(source, obj).is_dir()}
    if not frames:
        raise ValueError(f"{source} has no Salesforce objects in bronze")
    load_start = time.perf_counter()
    emu = Emulator(frames=frames, bulk_polls_to_complete=1)
    del frames
    counts = {obj: so.table.num_rows for obj, so in emu.org.objects.items()}
    out: dict[str, Any] = {"records": sum(counts.values()), "objects": counts, "emulator_load_seconds": round(time.perf_counter() - load_start, 2)}
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with EmulatorServer(emu) as server:
        for api in APIS:
            target = workdir / f"extract-{api}"
            if target.exists():
                shutil.rmtree(target)
            report = workdir / f"extract-{api}.json"
            env = {
                **os.environ,
                "C360_SF_AUTH": "session",
                "C360_SF_SESSION_ID": emu.issue_token(),
                "C360_SF_INSTANCE_URL": server.instance_url,
            }
            cmd = [sys.executable, "-m", "etl.extract.bench", "worker", "--api", api, "--port", str(server.port),
                   "--ca", str(server.ca_path), "--data-dir", str(target), "--report", str(report),
                   "--objects", ",".join(sorted(emu.org.objects))]
            wall = _run_worker(cmd, env)
            worker = json.loads(report.read_text())
            if worker["records"] != out["records"]:
                raise RuntimeError(f"{api}: extracted {worker['records']} records, the emulator holds {out['records']}")
            out[api] = {
                "seconds": round(worker["seconds"], 2),
                "wall_seconds": round(wall, 2),
                "records_per_second": round(worker["records"] / worker["seconds"]),
                "peak_rss_mib": round(worker["peak_rss_mib"], 1),
                "api_calls": worker["api_calls"],
            }
            shutil.rmtree(target, ignore_errors=True)
    return out


def _worker(args: argparse.Namespace) -> None:
    """Child process: one full extraction from the emulator with one API."""
    from etl.extract.config import load_salesforce_config
    from etl.extract.credentials import load_credentials
    from etl.extract.emulator import loopback_session
    from etl.extract.extractor import ExtractOptions, run_extract

    config = load_salesforce_config(REPO_ROOT / "config" / "salesforce_config.json")
    config = config.model_copy(update={"bulk2": config.bulk2.model_copy(update={"poll_seconds": 0.05})})
    start = time.perf_counter()
    report = run_extract(
        ExtractOptions(data_dir=args.data_dir, config=config, api=args.api, full_refresh=True,
                       objects=args.objects.split(",") if args.objects else None),
        load_credentials(),
        session=loopback_session(args.port, args.ca),
    )
    seconds = time.perf_counter() - start
    args.report.write_text(json.dumps({"records": report.records, "seconds": seconds, "api_calls": report.api_calls,
                                       "peak_rss_mib": _peak_rss_mib(),
                                       "objects": {r.object: r.records for r in report.results}}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    w.add_argument("--api", choices=APIS, required=True)
    w.add_argument("--port", type=int, required=True)
    w.add_argument("--ca", type=Path, required=True)
    w.add_argument("--data-dir", type=Path, required=True)
    w.add_argument("--report", type=Path, required=True)
    w.add_argument("--objects", default="")
    parser.add_argument("--data-dir", type=Path, help="a data directory whose bronze holds Salesforce objects")
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / ".bench" / "extract")
    args = parser.parse_args(argv)
    if args.cmd == "worker":
        _worker(args)
        return
    if args.data_dir is None:
        parser.error("--data-dir is required")
    print(json.dumps(bench_extract(args.data_dir, args.workdir), indent=2))


if __name__ == "__main__":
    main()
