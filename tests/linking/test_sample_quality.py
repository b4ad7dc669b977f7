"""Precision and recall on the generated sample book against its ground truth."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from etl.linking import evaluate_links, link_accounts
from etl.linking.config import ManualLinkages
from etl.linking.standalone import prepare_frames
from etl.storage import read_bronze

try:
    from etl.generate import generate
except ImportError as exc:  # the generator is built in parallel; say so rather than pass silently
    generate = None
    GENERATOR_MISSING = f"etl.generate cannot be imported: {exc}"
else:
    GENERATOR_MISSING = ""


@pytest.fixture(scope="module")
def sample_book(tmp_path_factory) -> Path:
    if generate is None:
        pytest.skip(GENERATOR_MISSING)
    data_dir = tmp_path_factory.mktemp("linking-sample")
    generate(data_dir, accounts=3000, seed=42, as_of=date(2026, 10, 31))
    return data_dir


def test_precision_and_recall_on_the_default_sample(config, sample_book):
    accounts, contacts = prepare_frames(read_bronze(sample_book, "Account"), read_bronze(sample_book, "Contact"))
    result = link_accounts(accounts, contacts, config, ManualLinkages(must_link=[], must_not_link=[]))
    truth = pd.read_csv(sample_book / "ground_truth" / "account_links.csv", dtype=str)
    precision, recall = evaluate_links(result.master_accounts, truth)
    assert precision >= 0.98, f"precision {precision:.4f}"
    assert recall >= 0.95, f"recall {recall:.4f}"
    assert len(result.master_accounts) == accounts["account_id"].nunique()
