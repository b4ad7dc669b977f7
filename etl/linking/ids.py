"""Stable master account ids.

Account teams bookmark, export and discuss master accounts by id, so an id
must keep meaning the same company from run to run.  Ids look like
``M<generation>-<founding account id>``: the generation is one more than the
highest generation in the previous mapping when the master is created, and
the founding account is the smallest account id of the cluster at that time.
The generation makes "older" well defined and keeps ids unique over time; the
account id makes a new id readable and reproducible from the same input.

Rules, given the previous mapping (account_id -> master_id):

* every previous master passes its id to one heir: the new cluster holding
  most of its (still present) accounts; ties go to the cluster with the
  smallest account id.  So a master whose members are unchanged, or that only
  gained or lost accounts, keeps its id, and a split keeps it on the larger part;
* a cluster that is heir to several previous masters (a merge) keeps the
  oldest id (lowest generation, then smallest founding account id); the
  others are retired;
* a cluster that is heir to none gets a new id, in a generation above every
  id of the previous mapping, so it never repeats one of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.errors import DataError

ID_PATTERN = r"^M(?P<gen>\d+)-(?P<founder>.+)$"


def _parse(previous: pd.DataFrame) -> pd.DataFrame:
    for col in ("account_id", "master_id"):
        if col not in previous.columns:
            raise DataError(f"previous master accounts lack column {col!r}")
    prev = previous[["account_id", "master_id"]].dropna().astype({"account_id": str, "master_id": str})
    dup = prev["account_id"].duplicated()
    if dup.any():
        raise DataError(f"previous master accounts list account {prev.loc[dup, 'account_id'].iloc[0]!r} twice")
    parts = prev["master_id"].str.extract(ID_PATTERN)
    bad = parts["gen"].isna()
    if bad.any():
        raise DataError(
            f"previous master id {prev.loc[bad, 'master_id'].iloc[0]!r} is not of the form M<generation>-<account id>"
        )
    return prev.assign(gen=parts["gen"].astype(np.int64), founder=parts["founder"].astype(str))


def assign_master_ids(account_ids: np.ndarray, labels: np.ndarray, previous: pd.DataFrame | None) -> np.ndarray:
    """The master id of each account, given its cluster label and the previous mapping."""
    cur = pd.DataFrame({"account_id": pd.array(account_ids, dtype="str"), "label": labels})
    founder = cur.groupby("label")["account_id"].min()
    prev = _parse(previous) if previous is not None and len(previous) else None
    heir_id = pd.Series(dtype=object)
    generation = 1
    taken: set[str] = set()
    if prev is not None:
        generation = int(prev["gen"].max()) + 1
        taken = set(prev["master_id"])
        overlap = cur.merge(prev, on="account_id", how="inner")
        counts = overlap.groupby(["master_id", "gen", "founder", "label"]).size().rename("n").reset_index()
        counts["label_founder"] = founder.reindex(counts["label"]).to_numpy()
        # Each previous master's heir: the cluster with most of its accounts.
        counts = counts.sort_values(["master_id", "n", "label_founder"], ascending=[True, False, True], kind="stable")
        heirs = counts.drop_duplicates("master_id")
        # Each cluster keeps the oldest id it is heir to.
        heirs = heirs.sort_values(["label", "gen", "founder"], kind="stable").drop_duplicates("label")
        heir_id = heirs.set_index("label")["master_id"]
    ids = heir_id.reindex(founder.index)
    new = ids.isna()
    if new.any():
        fresh = founder[new]
        while True:  # only loops if a retired id would otherwise come back
            candidate = "M" + str(generation) + "-" + fresh.astype(str)
            if not candidate.isin(taken).any():
                break
            generation += 1
        ids[new] = candidate
    return ids.reindex(labels).to_numpy(dtype=object)
