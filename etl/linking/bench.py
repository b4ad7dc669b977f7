"""Benchmark the linker on a generated book: time, peak memory, precision and recall.

    python -m etl.linking.bench --data-dir /tmp/link100k --accounts 100000

Generates the book with `etl.generate` if ``data-dir`` holds no bronze yet,
then links the bronze Account and Contact tables once, read and prepared
exactly as ``c360 link --input DATA_DIR/bronze`` does, and prints one JSON line.  Linking time
excludes reading; peak memory is the process's maximum resident set size,
reading included.  Never part of the test suite: it is meant to be run by
hand, sparingly, on the shared 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from datetime import date
from pathlib import Path

import pandas as pd
import psutil

from etl.linking.config import LINKING_FILE, MANUAL_FILE, load_linking_config, load_manual_linkages
from etl.linking.evaluate import evaluate_links
from etl.linking.link import link_accounts
from etl.linking.standalone import prepare_inputs
from etl.settings import REPO_ROOT
from etl.storage import bronze_tables_present


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts to generate when data-dir is empty")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--config-dir", type=Path, default=REPO_ROOT / "config")
    args = parser.parse_args(argv)

    if "Account" not in bronze_tables_present(args.data_dir):
        from etl.generate import generate

        generate(args.data_dir, accounts=args.accounts, seed=args.seed, as_of=date(2026, 10, 31))
    config = load_linking_config(args.config_dir / LINKING_FILE)
    manual = load_manual_linkages(args.config_dir / MANUAL_FILE)
    started = time.perf_counter()
    accounts, contacts = prepare_inputs(args.data_dir / "bronze")
    read_seconds = time.perf_counter() - started
    rss_before_link = psutil.Process().memory_info().rss
    started = time.perf_counter()
    result = link_accounts(accounts, contacts, config, manual)
    link_seconds = time.perf_counter() - started
    report: dict = {
        "accounts": result.stats.accounts,
        "contacts": result.stats.contacts,
        "read_seconds": round(read_seconds, 2),
        "link_seconds": round(link_seconds, 2),
        "rss_before_link_mb": round(rss_before_link / 2**20),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "stats": {k: v for k, v in vars(result.stats).items()},
    }
    truth_path = args.data_dir / "ground_truth" / "account_links.csv"
    if truth_path.exists():
        precision, recall = evaluate_links(result.master_accounts, pd.read_csv(truth_path, dtype=str))
        report["precision"], report["recall"] = round(precision, 4), round(recall, 4)
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
