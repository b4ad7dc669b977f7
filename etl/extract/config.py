"""The validated model of config/salesforce_config.json.

Which objects and fields to extract, API version, the thresholds that pick
REST or Bulk API 2.0, and how hard to try against a misbehaving org
(retries, timeouts, the API budget guard).  Credentials are never here: they
come from the environment or a secrets file (see `etl.extract.credentials`).
Every tuning key has a default so that an older file stays valid; the shipped
file spells them all out.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from etl.contracts import BRONZE_SALESFORCE
from etl.settings import load_config

# Extracted whenever the org's describe has them: they carry identity, soft
# deletes and the incremental watermark.
SYSTEM_FIELDS = ("Id", "IsDeleted", "CreatedDate", "LastModifiedDate", "SystemModstamp")


class ObjectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fields: list[str] = Field(min_length=1)
    bulk: bool | None = None  # None: decide by the record-count threshold

    @field_validator("fields")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        dupes = sorted({f for f in v if v.count(f) > 1})
        if dupes:
            raise ValueError(f"duplicate field(s) {dupes}")
        return v


class RetryConfig(BaseModel):
    """Exponential backoff with jitter for timeouts, dropped connections and 5xx."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int = Field(default=6, ge=1, le=20)  # per call, including the first
    base_seconds: float = Field(default=1.0, gt=0, le=60)  # first delay; doubles per attempt
    max_seconds: float = Field(default=60.0, gt=0, le=600)  # cap on one delay

    @model_validator(mode="after")
    def _ordered(self) -> RetryConfig:
        if self.max_seconds < self.base_seconds:
            raise ValueError("max_seconds must be >= base_seconds")
        return self


class TimeoutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    connect_seconds: float = Field(default=10.0, gt=0, le=300)
    read_seconds: float = Field(default=120.0, gt=0, le=3600)  # Salesforce's own query timeout is 120 s


class Bulk2Config(BaseModel):
    """Bulk API 2.0 query jobs: how results are paged and how the job is polled."""

    model_config = ConfigDict(extra="forbid")

    page_records: int = Field(default=50_000, ge=1, le=1_000_000)  # maxRecords per results page
    poll_seconds: float = Field(default=2.0, gt=0, le=60)  # first wait between job polls
    poll_max_seconds: float = Field(default=30.0, gt=0, le=600)  # polls back off up to this
    job_timeout_minutes: float = Field(default=240.0, gt=0, le=24 * 60)


class SalesforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_version: str = Field(pattern=r"^\d{2}\.0$")
    bulk_threshold_records: int = Field(gt=0)  # more records than this in a window: Bulk API 2.0
    lookback_minutes: int = Field(ge=0, le=1440)  # incremental windows start this far before the watermark
    rest_batch_size: int = Field(default=2000, ge=200, le=2000)  # Sforce-Query-Options batchSize
    part_rows: int = Field(default=100_000, ge=1)  # rows per bronze part file: bounds memory
    api_budget_share: float = Field(default=0.5, gt=0, le=1)  # stop once the org used this share of its daily calls
    retry: RetryConfig = RetryConfig()
    timeouts: TimeoutConfig = TimeoutConfig()
    bulk2: Bulk2Config = Bulk2Config()
    objects: dict[str, ObjectConfig]

    @field_validator("objects")
    @classmethod
    def _known_objects(cls, v: dict[str, ObjectConfig]) -> dict[str, ObjectConfig]:
        unknown = sorted(set(v) - set(BRONZE_SALESFORCE))
        if unknown:
            raise ValueError(f"unknown object(s) {unknown}; bronze knows {sorted(BRONZE_SALESFORCE)}")
        for name, obj in v.items():
            extra = sorted(set(obj.fields) - set(BRONZE_SALESFORCE[name].names))
            if extra:
                raise ValueError(f"{name}: field(s) {extra} are not in the bronze contract for {name}")
        return v

    def fields_for(self, obj: str) -> list[str]:
        """The configured fields of one object, system fields first, each once."""
        configured = self.objects[obj].fields
        schema = BRONZE_SALESFORCE[obj]
        system = [f for f in SYSTEM_FIELDS if f in schema.names]
        return system + [f for f in configured if f not in system]


def load_salesforce_config(path: Path) -> SalesforceConfig:
    return load_config(path, SalesforceConfig)
