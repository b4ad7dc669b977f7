"""Extraction from Salesforce into bronze.

`run_extract` pulls the configured objects (config/salesforce_config.json)
into immutable bronze batches, incrementally on ``SystemModstamp``, through
REST ``queryAll`` or Bulk API 2.0, with credentials from `load_credentials`.
``c360 extract`` is `etl.extract.command.extract_command`; the local
Salesforce emulator used by the tests and `etl.extract.bench` is in
`etl.extract.emulator` and is never imported by the extraction path.
"""

from etl.extract.config import SalesforceConfig, load_salesforce_config
from etl.extract.credentials import SalesforceCredentials, load_credentials
from etl.extract.errors import (
    ApiLimitError,
    AuthError,
    CredentialsError,
    ExtractError,
    ObjectUnavailable,
    QueryError,
    SessionExpiredError,
    TransientError,
)
from etl.extract.extractor import ExtractOptions, ExtractReport, ObjectResult, build_soql, run_extract
from etl.extract.state import WatermarkStore

__all__ = [
    "ApiLimitError",
    "AuthError",
    "CredentialsError",
    "ExtractError",
    "ExtractOptions",
    "ExtractReport",
    "ObjectResult",
    "ObjectUnavailable",
    "QueryError",
    "SalesforceConfig",
    "SalesforceCredentials",
    "SessionExpiredError",
    "TransientError",
    "WatermarkStore",
    "build_soql",
    "load_credentials",
    "load_salesforce_config",
    "run_extract",
]
