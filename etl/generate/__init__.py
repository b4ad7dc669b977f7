"""`c360 generate`: a deterministic sample book of business for a B2B telco.

The book is planned as numbers first (companies and accounts, deal chains,
contacts, cases and activities), then rendered table by table into bronze
exactly as the Salesforce extractor and the billing and usage feeds would
land it, with a known share of dirty records and the linker's ground truth
kept outside bronze.  Same seed, account count and as-of date give the same
tables, byte for byte in content.

Modules: catalogue (vocabulary), companies, people, sales, assets, service,
billing, currency (the generators), dirty (injected defects), text (column
rendering), common (time and randomness), writer (staging and publish).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from etl.errors import DataError
from etl.generate import assets, billing, companies, currency, dirty, people, sales, service
from etl.generate.common import Clock, Stamps, rng_for
from etl.generate.writer import BookWriter, bronze_has_data

__all__ = ["GenerationReport", "generate"]

_POD_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz"


@dataclass
class GenerationReport:
    rows: dict[str, int]  # rows written per bronze table, dirty duplicates included
    seconds: float
    batch_id: str
    ground_truth_path: Path  # directory holding account_links.csv and dirty_records.csv


def _check(accounts: int, seed: int, as_of: date, dirty_rate: float) -> None:
    if not isinstance(accounts, int) or isinstance(accounts, bool) or accounts < 1:
        raise ValueError(f"accounts must be a positive integer, got {accounts!r}")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if not isinstance(as_of, date):
        raise TypeError(f"as_of must be a date, got {as_of!r}")
    if not 0.0 <= dirty_rate <= 0.5:
        raise ValueError(f"dirty_rate must be between 0 and 0.5, got {dirty_rate!r}")


def generate(data_dir: Path, *, accounts: int = 3000, seed: int = 42, as_of: date, dirty_rate: float = 0.01,
             replace: bool = False, progress: Callable[[str], None] | None = None) -> GenerationReport:
    """Write a sample book of ``accounts`` customers into ``data_dir/bronze`` and its ground
    truth into ``data_dir/ground_truth``.

    Raises DataError when bronze already holds data and ``replace`` is False.
    """
    _check(accounts, seed, as_of, dirty_rate)
    data_dir = Path(data_dir)
    if bronze_has_data(data_dir) and not replace:
        raise DataError(f"{data_dir / 'bronze'} already holds data; use --replace to overwrite it")
    started = time.perf_counter()
    clock = Clock(as_of)
    pod_rng = rng_for(seed, "pod")
    pod = "".join(_POD_CHARS[i] for i in pod_rng.integers(0, len(_POD_CHARS), size=2))
    batch_id = f"gen-{as_of:%Y%m%d}-s{seed}-n{accounts}"
    tick = progress or (lambda _label: None)
    rows: dict[str, int] = {}
    dirt: list[pa.Table] = []

    writer = BookWriter(data_dir, batch_id, clock.extracted_at)
    try:
        def land(name: str, table: pa.Table, stamps: Stamps | None, protected: np.ndarray | None = None) -> None:
            table, records = dirty.inject(name, table, dirty_rate, rng_for(seed, f"dirt:{name}"), stamps, protected)
            dirt.append(records)
            writer.salesforce(name, table)
            rows[name] = table.num_rows
            tick(name)

        land("CurrencyType", *currency.currency_type_table(clock, rng_for(seed, "CurrencyType"), pod))
        land("DatedConversionRate", *currency.dated_rate_table(clock, rng_for(seed, "DatedConversionRate"), pod))
        land("Product2", *sales.product_table(clock, rng_for(seed, "Product2"), pod))

        users = people.plan_users(accounts, rng_for(seed, "users"), clock, pod)
        land("User", *people.user_table(users, clock, rng_for(seed, "User")))
        book = companies.plan_accounts(accounts, rng_for(seed, "accounts"), clock, users.region_start,
                                       users.region_count, pod)
        land("Account", *companies.account_table(book, users.ids, clock, rng_for(seed, "Account")))
        links_path = writer.ground_truth("account_links.csv", companies.ground_truth_links(book))

        deals = sales.plan_deals(book, clock, rng_for(seed, "deals"))
        contacts = people.plan_contacts(book, rng_for(seed, "contacts"), clock, pod)
        svc = service.plan_service(book, contacts, clock, rng_for(seed, "service"))
        land("Contact", *people.contact_table(book, contacts, svc.last_activity, svc.first_touch, clock,
                                              rng_for(seed, "Contact")),
             protected=svc.referenced | people.is_primary(contacts))

        opp_ids = sales.opportunity_ids(deals, rng_for(seed, "opportunity-ids"), pod)
        opp_table, opp_stamps = sales.opportunity_table(book, deals, opp_ids, users.ids,
                                                        (users.region_start, users.region_count), clock,
                                                        rng_for(seed, "Opportunity"))
        lines = sales.line_item_table(book, deals, opp_ids, opp_table, clock, rng_for(seed, "OpportunityLineItem"), pod)
        land("Opportunity", opp_table, opp_stamps)
        del opp_table
        land("OpportunityLineItem", *lines)
        del lines
        land("Contract", *sales.contract_table(book, deals, clock, rng_for(seed, "Contract"), pod))
        land("Asset", *assets.asset_table(book, deals, contacts, clock, rng_for(seed, "Asset"), pod))
        # Keep only what the remaining tables need from the deals, to bound memory on big books.
        active, preference = billing.active_services(deals, clock), deals.preference
        del deals
        land("Case", *service.case_table(book, contacts, svc, preference, clock, rng_for(seed, "Case"), pod))
        land("Event", *service.event_table(book, contacts, svc, clock, rng_for(seed, "Event"), pod))
        land("Task", *service.task_table(book, contacts, svc, clock, rng_for(seed, "Task"), pod))
        del svc, contacts

        def land_feed(feed: str, months: Iterator[tuple[str, pa.Table]], ext: str) -> None:
            """One file per month, as billing and mediation drop them."""
            dirt_rng = rng_for(seed, f"dirt:{feed}")
            rows[feed] = 0
            for label, table in months:
                if table.num_rows:
                    table, records = dirty.inject(feed, table, dirty_rate, dirt_rng)
                    dirt.append(records)
                    writer.feed_file(feed, f"{feed}_{label}.{ext}", table)
                    rows[feed] += table.num_rows
            tick(feed)

        land_feed("billing_invoices", billing.invoice_months(book, active, clock, rng_for(seed, "billing_invoices")),
                  "csv")
        land_feed("monthly_usage", billing.usage_months(book, active, clock, rng_for(seed, "monthly_usage")),
                  "parquet")

        writer.ground_truth("dirty_records.csv", pa.concat_tables([dirty.RECORD_SCHEMA.empty_table(), *dirt]))
        writer.publish(replace)
    except BaseException:
        writer.abandon()
        raise
    return GenerationReport(rows=rows, seconds=time.perf_counter() - started, batch_id=batch_id,
                            ground_truth_path=links_path.parent)
