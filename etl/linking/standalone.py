"""`c360 link`: link the accounts of any folder of Salesforce exports, outside the pipeline.

Account teams often hold a one-off export (a CSV per object from Data Loader,
or Parquet files) and want master accounts without running the whole
pipeline.  This reads ``Account`` and ``Contact`` tables with Salesforce field
names, applies the minimal normalisation the linker relies on (lower-cased
emails, digits-only phones), links, and writes the three gold tables.

Where the files may be, for each object (the name is case-insensitive):
``<dir>/Account.parquet``, ``<dir>/Account.csv``, ``<dir>/Accounts.csv``, or
every ``*.parquet``/``*.csv`` under ``<dir>/Account/`` (the bronze layout).
``Contact`` is optional: without it only names, parents and account phones
count.  Rows with ``IsDeleted`` true are skipped; an Id listed twice keeps
its last row (later files win, as later extraction batches do).

A previous ``gold_master_accounts.parquet`` in the output folder is read back
as the previous mapping, so master ids stay stable between runs.  Outputs are
written to temporary files first and renamed into place only when all three
are complete.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.errors import DataError
from etl.linking.config import LINKING_FILE, MANUAL_FILE, ManualLinkages, load_linking_config, load_manual_linkages
from etl.linking.link import LinkResult, link_accounts
from etl.linking.schemas import ACCOUNT_LINKS, MASTER_ACCOUNTS, REVIEW_QUEUE, to_arrow
from etl.storage import write_parquet

REQUIRED = {"Account": ("Id", "Name"), "Contact": ("AccountId",)}
ACCOUNT_FIELDS = {"Id": "account_id", "Name": "account_name", "ParentId": "parent_id",
                  "BillingCountry": "country_code", "Phone": "phone", "Website": "website"}
CONTACT_FIELDS = {"Id": "contact_id", "AccountId": "account_id", "Email": "email", "Phone": "phone"}
FIELDS = {"Account": ACCOUNT_FIELDS, "Contact": CONTACT_FIELDS}


def _files(input_dir: Path, obj: str) -> list[Path]:
    names = {obj.lower(), obj.lower() + "s"}
    direct = sorted(
        p
        for p in input_dir.iterdir()
        if p.is_file() and p.suffix.lower() in (".csv", ".parquet") and p.stem.lower() in names
    )
    if direct:
        return direct
    folders = [p for p in input_dir.iterdir() if p.is_dir() and p.name.lower() in names]
    found: list[Path] = []
    for folder in folders:
        found += sorted(
            p for p in folder.rglob("*")
            if p.is_file() and p.suffix.lower() in (".csv", ".parquet")
            and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        )
    return found


def _read(path: Path, wanted: set[str]) -> tuple[pd.DataFrame, list[str]]:
    """The wanted columns of one file (all text to the linker), and every column it has."""
    try:
        if path.suffix.lower() == ".csv":
            header = pacsv.read_csv(path, read_options=pacsv.ReadOptions(skip_rows_after_names=10**9)).column_names
            present = [c for c in header if c in wanted]
            opts = pacsv.ConvertOptions(
                column_types={c: pa.string() for c in present}, include_columns=present, strings_can_be_null=True
            )
            table = pacsv.read_csv(path, convert_options=opts)
        else:
            header = pq.read_schema(path).names
            table = pq.read_table(path, columns=[c for c in header if c in wanted])
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: unreadable: {exc}") from exc
    return table.to_pandas(), list(header)


def read_object(input_dir: Path, obj: str, required: bool) -> pd.DataFrame | None:
    """All files of one object, concatenated; a file lacking a required column names itself."""
    files = _files(Path(input_dir), obj)
    if not files:
        if required:
            raise DataError(f"{input_dir}: no {obj} table ({obj}.parquet, {obj}.csv or a {obj}/ folder of them)")
        return None
    wanted = set(FIELDS[obj]) | {"IsDeleted"}
    frames = []
    for path in files:
        df, header = _read(path, wanted)
        missing = [c for c in REQUIRED[obj] if c not in header]
        if missing:
            have = ", ".join(header)
            raise DataError(f"{path}: column {missing[0]!r} is required in a {obj} table (has: {have})")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _rename(df: pd.DataFrame, fields: dict[str, str]) -> pd.DataFrame:
    out = pd.DataFrame({new: df[old] if old in df.columns else None for old, new in fields.items()}, index=df.index)
    return out.astype(object).where(out.notna(), None)


def _live(df: pd.DataFrame) -> pd.DataFrame:
    """Rows not deleted, one per Id (the last one: later files and batches win)."""
    if "IsDeleted" in df.columns:
        deleted = df["IsDeleted"].astype(str).str.strip().str.lower().isin(["true", "1", "yes", "t"])
        df = df[~deleted]
    if "Id" in df.columns:
        df = df[df["Id"].notna()].drop_duplicates("Id", keep="last")
    return df.reset_index(drop=True)


def prepare_frames(account: pd.DataFrame, contact: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Salesforce-named Account/Contact frames -> the linker's account and contact frames.

    Used by the standalone command and by evaluations on bronze, so both see
    exactly the minimal normalisation: lower-cased trimmed emails and
    digits-only phones (the linker compares phones as digits anyway).
    """
    accounts = _rename(_live(account), ACCOUNT_FIELDS)
    if contact is None:
        contacts = pd.DataFrame({c: pd.Series(dtype=object) for c in CONTACT_FIELDS.values()})
    else:
        contacts = _rename(_live(contact), CONTACT_FIELDS)
    contacts["email"] = contacts["email"].astype(object).str.strip().str.lower()
    contacts["phone"] = contacts["phone"].astype(object).str.replace(r"\D+", "", regex=True)
    accounts["phone"] = accounts["phone"].astype(object).str.replace(r"\D+", "", regex=True)
    return accounts, contacts


def prepare_inputs(input_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the exports of ``input_dir`` and prepare them for the linker."""
    account = read_object(input_dir, "Account", required=True)
    assert account is not None  # required=True raises instead
    return prepare_frames(account, read_object(input_dir, "Contact", required=False))


def run_standalone(input_dir: Path, output_dir: Path, config_dir: Path) -> LinkResult:
    """Read exports from ``input_dir``, link, write the gold tables to ``output_dir`` atomically."""
    config = load_linking_config(Path(config_dir) / LINKING_FILE)
    manual_path = Path(config_dir) / MANUAL_FILE
    no_manual = ManualLinkages(must_link=[], must_not_link=[])
    manual = load_manual_linkages(manual_path) if manual_path.exists() else no_manual
    accounts, contacts = prepare_inputs(Path(input_dir))
    output_dir = Path(output_dir)
    previous_path = output_dir / f"{MASTER_ACCOUNTS}.parquet"
    previous = pq.read_table(previous_path).to_pandas() if previous_path.exists() else None
    result = link_accounts(accounts, contacts, config, manual, previous)

    output_dir.mkdir(parents=True, exist_ok=True)
    tables = {
        MASTER_ACCOUNTS: to_arrow(MASTER_ACCOUNTS, result.master_accounts),
        ACCOUNT_LINKS: to_arrow(ACCOUNT_LINKS, result.links),
        REVIEW_QUEUE: to_arrow(REVIEW_QUEUE, result.review_queue),
    }
    temps: dict[Path, Path] = {}
    try:
        for name, table in tables.items():
            final = output_dir / f"{name}.parquet"
            tmp = output_dir / f".{name}.{uuid.uuid4().hex}.tmp"
            temps[final] = tmp
            write_parquet(table, tmp)
        for final, tmp in temps.items():
            os.replace(tmp, final)
    finally:
        for tmp in temps.values():
            tmp.unlink(missing_ok=True)
    return result
