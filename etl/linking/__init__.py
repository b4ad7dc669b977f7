"""Cross-regional account linking: one master account per real company.

Public API (pure functions except `run_standalone`)::

    load_linking_config(path) -> LinkingConfig
    load_manual_linkages(path) -> ManualLinkages
    link_accounts(accounts, contacts, config, manual, previous_masters=None) -> LinkResult
    master_rollups(master_accounts, metrics) -> DataFrame
    evaluate_links(master_accounts, ground_truth) -> (precision, recall)
    run_standalone(input_dir, output_dir, config_dir) -> LinkResult

See docs/linking.md for the methods, the clustering policy and the id rules.
"""

from etl.linking.config import LinkingConfig, ManualLinkages, load_linking_config, load_manual_linkages, merge_manual_decisions
from etl.linking.evaluate import evaluate_links
from etl.linking.link import LinkResult, LinkStats, link_accounts
from etl.linking.rollup import master_rollups
from etl.linking.schemas import (
    ACCOUNT_LINKS,
    LINK_SCHEMAS,
    MASTER_ACCOUNTS,
    REVIEW_QUEUE,
    ROLLUPS,
    to_arrow,
    READ_ORDER,
)
from etl.linking.standalone import run_standalone

__all__ = [
    "READ_ORDER",
    "ACCOUNT_LINKS",
    "LINK_SCHEMAS",
    "MASTER_ACCOUNTS",
    "REVIEW_QUEUE",
    "ROLLUPS",
    "LinkResult",
    "LinkStats",
    "LinkingConfig",
    "ManualLinkages",
    "evaluate_links",
    "link_accounts",
    "load_linking_config",
    "load_manual_linkages",
    "master_rollups",
    "merge_manual_decisions",
    "run_standalone",
    "to_arrow",
]
