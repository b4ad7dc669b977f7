"""Helpers for the linker tests: tiny hand-made books and ways to look at the result."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from etl.linking import LinkResult, link_accounts
from etl.linking.config import LinkingConfig, ManualLinkages, ManualPair
from etl.settings import REPO_ROOT

CONFIG_DIR = REPO_ROOT / "config"
NO_MANUAL = ManualLinkages(must_link=[], must_not_link=[])


def accounts(rows: Iterable[tuple]) -> pd.DataFrame:
    """(account_id, account_name[, parent_id[, phone]]) tuples -> an accounts frame."""
    rows = [tuple(r) + (None,) * (4 - len(r)) for r in rows]
    return pd.DataFrame(rows, columns=["account_id", "account_name", "parent_id", "phone"])


def contacts(rows: Iterable[tuple] = ()) -> pd.DataFrame:
    """(account_id, email[, phone]) tuples -> a contacts frame."""
    rows = [tuple(r) + (None,) * (3 - len(r)) for r in rows]
    return pd.DataFrame(rows, columns=["account_id", "email", "phone"])


def pair(a: str, b: str, reason: str = "confirmed by the account team") -> ManualPair:
    return ManualPair(account_a=a, account_b=b, reason=reason, author="alice", date=date(2024, 5, 1))


def run(
    config: LinkingConfig,
    account_rows: Iterable[tuple],
    contact_rows: Iterable[tuple] = (),
    manual: ManualLinkages = NO_MANUAL,
    previous: pd.DataFrame | None = None,
) -> LinkResult:
    return link_accounts(accounts(account_rows), contacts(contact_rows), config, manual, previous)


def master_of(result: LinkResult) -> dict[str, str]:
    m = result.master_accounts
    return dict(zip(m["account_id"], m["master_id"]))


def groups(result: LinkResult) -> set[frozenset[str]]:
    """The clusters as sets of account ids (ids of the masters left out)."""
    m = result.master_accounts
    return {frozenset(g["account_id"]) for _, g in m.groupby("master_id")}


def link_row(result: LinkResult, a: str, b: str) -> dict:
    lo, hi = min(a, b), max(a, b)
    links = result.links
    rows = links[(links["account_id_a"] == lo) & (links["account_id_b"] == hi)]
    assert len(rows) == 1, f"no link {lo} - {hi}; links:\n{links[['account_id_a', 'account_id_b', 'evidence']]}"
    return rows.iloc[0].to_dict()
