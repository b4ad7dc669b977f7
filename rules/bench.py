"""Time the rules stage on a synthetic book: `python -m rules.bench --accounts 1000000`.

The book is built with numpy, not the sample generator, so that a million
accounts take seconds to make: per account ~2 cases, 6 invoices, 2 usage
series over 8 months and 2 product lines, with metrics spread so that every
rule fires for some accounts.  Prints seconds per step:

* facts: `build_rule_facts` (silver + metrics -> rule facts)
* evaluate: `evaluate_batch` (all rules, all accounts, with explanations)
* lifecycle: `apply_lifecycle`, first run and the next day's run on top of it
* per customer: `evaluate_customer` (durable-rules), mean over 500 accounts
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.contracts import SILVER_TABLES
from rules.evaluate import evaluate_batch, evaluate_customer
from rules.facts import build_rule_facts
from rules.fields import GOLD_FIELDS
from rules.lifecycle import LifecycleConfig, apply_lifecycle
from rules.model import DEFAULT_RULES_DIR, load_rules

AS_OF = date(2026, 10, 31)


def _ids(prefix: str, n: int) -> pd.Series:
    return pd.Series(np.arange(n), dtype="int64").astype("str").radd(prefix).astype("str")


def _frame(table: str, columns: dict[str, object], n: int) -> pd.DataFrame:
    schema = SILVER_TABLES[table]
    out = {}
    for field in schema:
        if field.name in columns:
            out[field.name] = columns[field.name]
        else:
            out[field.name] = pa.nulls(n, field.type).to_pandas()
    return pd.DataFrame(out)


def synthetic_book(n: int, seed: int = 1) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    rng = np.random.default_rng(seed)
    accounts = _ids("001", n)
    day0 = np.datetime64(AS_OF)

    def pick(k: int) -> pd.Series:
        return accounts.iloc[rng.integers(0, n, k)].reset_index(drop=True)

    k = 2 * n
    created = np.datetime64(AS_OF, "s") - rng.integers(3600, 200 * 86400, k).astype("timedelta64[s]")
    closed = created + rng.integers(3600, 20 * 86400, k).astype("timedelta64[s]")
    is_closed = rng.random(k) < 0.8
    cases = _frame(
        "cases",
        {
            "case_id": _ids("c", k), "account_id": pick(k), "case_number": _ids("", k),
            "priority": pd.Series(np.array(["CRITICAL", "HIGH", "MEDIUM", "LOW"])[rng.integers(0, 4, k)], dtype="str"),
            "is_escalated": rng.random(k) < 0.05, "is_closed": is_closed,
            "created_at": pd.Series(created).dt.tz_localize("UTC"),
            "closed_at": pd.Series(np.where(is_closed, closed, np.datetime64("NaT"))).dt.tz_localize("UTC"),
        },
        k,
    )
    k = 6 * n
    due = day0 - rng.integers(-30, 180, k).astype("timedelta64[D]")
    paid = rng.random(k) < 0.85
    invoices = _frame(
        "invoices",
        {
            "invoice_id": _ids("i", k), "account_id": pick(k), "invoice_number": _ids("INV-", k),
            "issue_date": pd.Series(due - np.timedelta64(30, "D")).dt.date, "due_date": pd.Series(due).dt.date,
            "paid_date": pd.Series(np.where(paid, due - np.timedelta64(1, "D"), np.datetime64("NaT"))).dt.date,
            "amount_usd": rng.gamma(2.0, 3000.0, k), "status": pd.Series(np.where(paid, "PAID", "ISSUED"), dtype="str"),
        },
        k,
    )
    series = 2 * n
    months = 8
    acct = np.repeat(accounts.to_numpy(), 2)[:series]
    service = np.tile(np.array(["SDWAN", "DIA"]), n)[:series]
    level = rng.gamma(3.0, 100.0, series)
    month_start = [pd.Timestamp(AS_OF.replace(day=1)) - pd.DateOffset(months=m) for m in range(months)]
    usage = _frame(
        "usage",
        {
            "account_id": pd.Series(np.repeat(acct, months), dtype="str"),
            "service_code": pd.Series(np.repeat(service, months), dtype="str"),
            "unit": pd.Series(np.repeat(np.where(service == "DIA", "GB", "sites"), months), dtype="str"),
            "usage_month": pd.Series(np.tile(np.array([m.date() for m in month_start], dtype=object), series)),
            "quantity": np.repeat(level, months) * rng.normal(1.0, 0.15, series * months).clip(0),
        },
        series * months,
    )
    opportunities = _frame(
        "opportunities",
        {"opportunity_id": _ids("o", n), "account_id": accounts, "status": pd.Series(["WON"] * n, dtype="str"),
         "close_date": pd.Series([date(2026, 1, 1)] * n), "term_months": np.full(n, 12)},
        n,
    )
    k = 2 * n
    products = np.array(["SDWAN", "DIA", "MOB", "SIP-UC", "SEC"])
    lines = _frame(
        "opportunity_line_items",
        {
            "line_item_id": _ids("l", k), "opportunity_id": pd.Series(np.repeat(opportunities["opportunity_id"].to_numpy(), 2), dtype="str"),
            "account_id": pd.Series(np.repeat(accounts.to_numpy(), 2), dtype="str"),
            "product_code": pd.Series(products[rng.integers(0, len(products), k)], dtype="str"),
            "total_price_usd": rng.gamma(2.0, 20000.0, k), "service_start_date": pd.Series([date(2026, 1, 1)] * k),
            "service_end_date": pd.Series([date(2027, 1, 1)] * k), "term_months": np.full(k, 12),
        },
        k,
    )
    silver = {"cases": cases, "invoices": invoices, "usage": usage, "opportunities": opportunities, "opportunity_line_items": lines}

    arrow_types = {"number": pa.float64(), "string": pa.string(), "boolean": pa.bool_(), "date": pa.date32()}
    metrics = pd.DataFrame({name: pa.nulls(n, arrow_types[f.type]).to_pandas() for name, f in GOLD_FIELDS.items()})
    metrics["account_id"] = accounts
    metrics["industry"] = pd.Series(np.array(["Retail", "Finance", "Manufacturing", "Health"])[rng.integers(0, 4, n)], dtype="str")
    metrics["region"] = pd.Series(np.array(["AMER", "EMEA", "APAC"])[rng.integers(0, 3, n)], dtype="str")
    metrics["account_name"] = accounts.radd("Account ")
    churn = rng.uniform(0, 100, n)
    metrics["churn_risk"] = churn
    metrics["churn_level"] = pd.Series(np.where(churn >= 70, "HIGH", np.where(churn >= 40, "MEDIUM", "LOW")), dtype="str")
    metrics["health_score"] = 100 - churn
    metrics["arr_usd"] = rng.gamma(2.0, 60000.0, n)
    metrics["active_services"] = rng.integers(1, 4, n).astype(float)
    metrics["usage_growth"] = rng.normal(0.05, 0.2, n)
    metrics["max_days_overdue"] = rng.integers(0, 90, n).astype(float)
    metrics["days_since_contact"] = rng.integers(0, 120, n).astype(float)
    metrics["days_to_contract_end"] = rng.integers(-10, 400, n).astype(float)
    metrics["has_open_renewal_opportunity"] = rng.random(n) < 0.5
    metrics["last_qbr_date"] = pd.Series(day0 - rng.integers(0, 400, n).astype("timedelta64[D]")).dt.date
    for c in ("churn_usage_decline", "churn_payment", "churn_support", "churn_engagement"):
        metrics[c] = rng.uniform(0, 100, n)
    metrics["open_cases"] = rng.integers(0, 5, n).astype(float)
    return silver, metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path, help="also write the timings here (used by `make bench`)")
    args = parser.parse_args()
    timings: dict[str, float] = {}
    ruleset = load_rules(DEFAULT_RULES_DIR)
    start = time.perf_counter()
    silver, metrics = synthetic_book(args.accounts)
    print(f"synthetic book of {args.accounts:,} accounts: {time.perf_counter() - start:.1f} s "
          f"({sum(len(t) for t in silver.values()):,} silver rows)")

    def timed(label: str, fn):
        t = time.perf_counter()
        out = fn()
        timings[label] = time.perf_counter() - t
        print(f"{label:<28} {timings[label]:7.2f} s")
        return out

    facts = timed("facts (build_rule_facts)", lambda: build_rule_facts(silver, metrics, AS_OF, ruleset.parameters))
    firings = timed("evaluate (evaluate_batch)", lambda: evaluate_batch(facts, ruleset))
    print(f"{'':<28} {len(firings):,} firings ({(firings['kind'] == 'alert').sum():,} alerts)")
    config = LifecycleConfig.from_ruleset(ruleset)
    alerts, recs = timed("lifecycle, first run", lambda: apply_lifecycle(firings, None, None, None, AS_OF, config))
    timed("lifecycle, next day", lambda: apply_lifecycle(firings, alerts, recs, None, AS_OF + timedelta(days=1), config))
    records = facts.head(500).to_dict("records")
    evaluate_customer(records[0], ruleset)  # compiles the durable-rules engine
    t = time.perf_counter()
    for record in records:
        evaluate_customer(record, ruleset)
    per_customer_ms = (time.perf_counter() - t) / len(records) * 1000
    print(f"{'per customer (durable-rules)':<28} {per_customer_ms:7.2f} ms per account")
    if args.json:
        args.json.write_text(json.dumps({"accounts": args.accounts, "firings": int(len(firings)), "seconds": timings,
                                         "per_customer_ms": per_customer_ms}))


if __name__ == "__main__":
    main()
