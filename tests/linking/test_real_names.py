"""Real company names: regional variants that must link, look-alikes that must not.

The generator's names are synthetic; this hand-made book of 100 accounts of
real companies keeps the linker honest on the problem it is for.  The
expected company of each account is in data/real_company_names.csv.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.linking import evaluate_links
from tests.linking.helpers import run

BOOK = Path(__file__).parent / "data" / "real_company_names.csv"


def test_real_names_pairwise_precision_and_recall(config):
    truth = pd.read_csv(BOOK, dtype=str)
    result = run(config, truth[["account_id", "account_name"]].itertuples(index=False))
    precision, recall = evaluate_links(result.master_accounts, truth)
    assert precision == 1.0
    assert recall == 1.0
    # Deutsche Bank / Deutsche Bahn is the one look-alike close enough to show a person.
    queue = result.review_queue
    assert list(zip(queue["account_name_a"], queue["account_name_b"])) == [("Deutsche Bank AG", "Deutsche Bahn AG")]
