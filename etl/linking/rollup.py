"""Commercial roll-ups per master account.

A global account team asks "how much is Siemens worth to us, how healthy is
it, when does its first contract come up": the answers sum or combine the
members' gold metrics.  Health is weighted by ARR because a failing small
regional account matters less than a failing large one; when no member has
ARR, the plain mean of the members' health is used instead of nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.linking.schemas import LINK_SCHEMAS, ROLLUPS

CHURN_ORDER = {"LOW": 1, "MEDIUM": 2, "HIGH": 3}
_CHURN_NAME = {v: k for k, v in CHURN_ORDER.items()}


def master_rollups(master_accounts: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per master: total ARR/MRR, ARR-weighted health, worst churn level,
    members at HIGH churn risk, earliest next contract end.

    ``metrics`` may hold accounts without a master (ignored) and masters may
    have members without metrics (counted in ``member_accounts`` only).
    Totals are null when no member has a value.
    """
    needed = ["account_id", "arr_usd", "mrr_usd", "health_score", "churn_level", "next_contract_end_date"]
    missing = [c for c in needed if c not in metrics.columns]
    if missing:
        raise KeyError(f"metrics frame lacks column(s) {missing}")
    m = metrics[needed].copy()
    m["account_id"] = m["account_id"].astype(str)
    m["_has"] = True
    df = master_accounts[["account_id", "master_id"]].astype(str).merge(m, on="account_id", how="left")
    arr = pd.to_numeric(df["arr_usd"], errors="coerce")
    health = pd.to_numeric(df["health_score"], errors="coerce")
    weighted = health.notna() & arr.notna() & (arr > 0)
    df = df.assign(
        _arr=arr,
        _mrr=pd.to_numeric(df["mrr_usd"], errors="coerce"),
        _health=health,
        _w=np.where(weighted, arr, 0.0),
        _wh=np.where(weighted, health * arr, 0.0),
        _churn=df["churn_level"].astype(object).str.upper().map(CHURN_ORDER),
        _high=(df["churn_level"].astype(object).str.upper() == "HIGH"),
        _end=pd.to_datetime(df["next_contract_end_date"], errors="coerce"),
        _has=df["_has"].fillna(False).astype(bool),
    )
    g = df.groupby("master_id", sort=True)
    out = pd.DataFrame(
        {
            "member_accounts": g.size(),
            "accounts_with_metrics": g["_has"].sum(),
            "total_arr_usd": g["_arr"].sum(min_count=1),
            "total_mrr_usd": g["_mrr"].sum(min_count=1),
            "_w": g["_w"].sum(),
            "_wh": g["_wh"].sum(),
            "_mean_health": g["_health"].mean(),
            "_worst": g["_churn"].max(),
            "high_risk_accounts": g["_high"].sum(),
            "earliest_contract_end_date": g["_end"].min(),
        }
    )
    weighted_mean = out["_wh"] / out["_w"].where(out["_w"] > 0)
    out["arr_weighted_health_score"] = np.where(out["_w"] > 0, weighted_mean, out["_mean_health"])
    out["worst_churn_level"] = out["_worst"].map(_CHURN_NAME)
    out["earliest_contract_end_date"] = out["earliest_contract_end_date"].dt.date
    counts = {"member_accounts": "int64", "accounts_with_metrics": "int64", "high_risk_accounts": "int64"}
    out = out.reset_index().astype(counts)
    return out[LINK_SCHEMAS[ROLLUPS].names]
