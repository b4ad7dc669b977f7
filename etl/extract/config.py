"""The validated model of config/salesforce_config.json.

Which objects and fields to extract, API version, and the thresholds that
pick REST or Bulk API 2.0.  Credentials are never here: they come from the
environment or a secrets file.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from etl.contracts import BRONZE_SALESFORCE
from etl.settings import load_config

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


class SalesforceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_version: str = Field(pattern=r"^\d{2}\.0$")
    bulk_threshold_records: int = Field(gt=0)
    lookback_minutes: int = Field(ge=0, le=1440)
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


def load_salesforce_config(path: Path) -> SalesforceConfig:
    return load_config(path, SalesforceConfig)
