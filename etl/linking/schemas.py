"""The linker's output tables and their Parquet schemas.

``gold_master_accounts``      one row per account: its master and why
``gold_account_links``        one row per accepted link inside a master, with evidence
``gold_link_review_queue``    what a person should look at: grey-band pairs,
                              links held back by the guards, flagged clusters
``gold_master_account_rollups``  one row per master: commercial totals over members
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

STR, F64, I64, BOOL, DATE = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.date32()

MASTER_ACCOUNTS = "gold_master_accounts"
ACCOUNT_LINKS = "gold_account_links"
REVIEW_QUEUE = "gold_link_review_queue"
ROLLUPS = "gold_master_account_rollups"

# The order each table is published in: by master account, so the API reads a master's
# members, links and roll-up from the file instead of holding the tables.
READ_ORDER: dict[str, list[str]] = {
    MASTER_ACCOUNTS: ["master_id", "account_id"],
    ACCOUNT_LINKS: ["master_id", "account_id_a", "account_id_b"],
    ROLLUPS: ["master_id"],
}

LINK_SCHEMAS: dict[str, pa.Schema] = {
    MASTER_ACCOUNTS: pa.schema(
        [
            ("account_id", STR),
            ("master_id", STR),  # M<generation>-<founding account id>; stable across runs
            ("method", STR),  # method of the strongest link attaching the account; "singleton" when alone
            ("confidence", F64),  # that link's confidence 0-100; null for a singleton
            ("cluster_size", I64),  # accounts under the master
            ("needs_review", BOOL),  # the account's cluster was flagged (chain or size guard)
        ]
    ),
    ACCOUNT_LINKS: pa.schema(
        [
            ("master_id", STR),
            ("account_id_a", STR),  # account_id_a < account_id_b
            ("account_id_b", STR),
            ("account_name_a", STR),
            ("account_name_b", STR),
            ("method", STR),  # manual / exact / fuzzy / parent / contact: the highest confidence
            ("confidence", F64),
            ("methods", STR),  # every method that matched, comma-separated
            ("name_similarity", F64),  # 0-100 on the normalised names
            ("name_scorer", STR),  # exact / token-sort / compact
            ("same_parent", STR),  # the shared top-level parent account id, or null
            ("shared_contact", STR),  # the (first) shared email or phone, or null
            ("shared_contact_count", I64),
            ("evidence", STR),  # the same in words
        ]
    ),
    REVIEW_QUEUE: pa.schema(
        [
            ("review_type", STR),  # grey_band_pair / held_back_link / chain_cluster / oversize_cluster
            ("account_id_a", STR),  # null for a cluster row
            ("account_id_b", STR),
            ("account_name_a", STR),
            ("account_name_b", STR),
            ("member_account_ids", pa.list_(STR)),  # the pair, or the flagged cluster's accounts
            ("confidence", F64),  # best method confidence, or name similarity when no method matched
            ("method", STR),
            ("evidence", STR),
            ("reason", STR),
        ]
    ),
    ROLLUPS: pa.schema(
        [
            ("master_id", STR),
            ("member_accounts", I64),
            ("accounts_with_metrics", I64),
            ("total_arr_usd", F64),
            ("total_mrr_usd", F64),
            ("arr_weighted_health_score", F64),
            ("worst_churn_level", STR),  # LOW / MEDIUM / HIGH, null when no member has one
            ("high_risk_accounts", I64),
            ("earliest_contract_end_date", DATE),
        ]
    ),
}


def to_arrow(name: str, df: pd.DataFrame) -> pa.Table:
    """A frame as a table in its documented schema (column order and types enforced)."""
    schema = LINK_SCHEMAS[name]
    return pa.Table.from_pandas(df[schema.names], schema=schema, preserve_index=False)
