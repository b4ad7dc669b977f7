"""The documentation names what the contract defines."""

from etl.contracts import BRONZE_FEEDS, BRONZE_SALESFORCE, SILVER_TABLES
from etl.settings import REPO_ROOT

DATA_MODEL = (REPO_ROOT / "docs" / "data-model.md").read_text()


def test_every_feed_column_is_documented():
    for feed, schema in BRONZE_FEEDS.items():
        assert f"`{feed}`" in DATA_MODEL
        for name in schema.names:
            assert f"`{name}`" in DATA_MODEL, f"{feed}.{name} missing from docs/data-model.md"


def test_every_object_and_silver_table_is_named():
    for name in [*BRONZE_SALESFORCE, *SILVER_TABLES]:
        assert f"`{name}`" in DATA_MODEL, f"{name} missing from docs/data-model.md"
