"""Alert and recommendation lifecycles across nightly runs, as one pure function.

Every night the rules fire afresh; the lifecycle turns today's firings plus
yesterday's published tables plus what users did in between into today's
tables, so that:

Alerts (id = ``<alert type>:<account_id>``, stable across runs)

* a condition that still holds keeps the same alert (``first_seen`` stays,
  ``last_seen`` moves, severity/message/explanation are refreshed);
* an ACKNOWLEDGED alert stays acknowledged while its condition holds, and a
  SNOOZED one stays snoozed until ``snoozed_until`` (on that date it reopens);
  either reopens early when its severity rises above the acknowledged one
  (``parameters.reopen_on_escalation``);
* an alert whose condition clears is RESOLVED by the system; if the condition
  comes back, the same id reopens as a new episode (new ``first_seen``);
* RESOLVED alerts are kept ``resolved_alert_retention_days``, then dropped.

Recommendations (id = ``<rule>:<account_id>:<first day yyyymmdd>``, one per instance)

* OPEN while the condition holds; users mark it EXECUTED or DISMISSED (a
  reason is required); an OPEN one whose condition clears becomes EXPIRED;
* after EXECUTED or DISMISSED the same rule is not re-issued to the account
  for the cool-down (the rule's ``cooldown_days``, else
  ``recommendation_cooldown_days``), counted from the user's change;
* closed instances are kept ``closed_recommendation_retention_days`` so that
  outcomes can be measured (`rules.outcomes`).

User changes arrive as a frame (``STATUS_CHANGES_COLUMNS``): the latest change
per id wins; a change not newer than the last one applied to that row is
ignored (so replaying the same changes is harmless); changes for ids that
no longer exist are ignored.  System changes are stamped at the end of the
as-of day (midnight UTC after it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.errors import DataError
from rules.model import SEVERITY_RANK, RuleSet
from rules.schemas import ALERTS_SCHEMA, RECOMMENDATIONS_SCHEMA, empty, to_pandas

ALERT_STATUSES = ("OPEN", "ACKNOWLEDGED", "SNOOZED", "RESOLVED")
RECOMMENDATION_STATUSES = ("OPEN", "EXECUTED", "DISMISSED", "EXPIRED")
USER_ALERT_STATUSES = ("OPEN", "ACKNOWLEDGED", "SNOOZED", "RESOLVED")
USER_RECOMMENDATION_STATUSES = ("OPEN", "EXECUTED", "DISMISSED")
# The frame of user changes the API's store supplies: id, new_status, at (UTC
# timestamp), reason (text, required to dismiss), until (date, required to snooze).
STATUS_CHANGES_COLUMNS = ("id", "new_status", "at", "reason", "until")

_SEP = pa.scalar(":", pa.large_string())
_REFRESHED = ("rule_name", "category", "message", "explanation", "conditions", "impact_usd", "rule_version")


@dataclass(frozen=True)
class LifecycleConfig:
    recommendation_cooldown_days: int
    resolved_alert_retention_days: int
    closed_recommendation_retention_days: int
    reopen_on_escalation: bool
    cooldown_days_by_rule: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def from_ruleset(cls, ruleset: RuleSet) -> LifecycleConfig:
        p = ruleset.parameters
        return cls(
            recommendation_cooldown_days=p.recommendation_cooldown_days,
            resolved_alert_retention_days=p.resolved_alert_retention_days,
            closed_recommendation_retention_days=p.closed_recommendation_retention_days,
            reopen_on_escalation=p.reopen_on_escalation,
            cooldown_days_by_rule={r.id: r.cooldown_days for r in ruleset.rules if r.cooldown_days is not None},
        )


def end_of_day(as_of: date) -> pd.Timestamp:
    """The instant system changes of the as-of run are stamped with."""
    return pd.Timestamp(datetime.combine(as_of + timedelta(days=1), time(0), tzinfo=timezone.utc)).as_unit("us")


def empty_status_changes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series([], dtype="str"),
            "new_status": pd.Series([], dtype="str"),
            "at": pd.Series([], dtype="datetime64[us, UTC]"),
            "reason": pd.Series([], dtype="str"),
            "until": pd.Series([], dtype="datetime64[s]"),
        }
    )


# --------------------------------------------------------------------------- helpers


def _dates(series: pd.Series) -> pd.Series:
    """Any date-like column (dates as read from Parquet, datetimes, ISO text) as datetime64[s], NaT for null."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.astype("datetime64[s]")
    arr = pa.array(series, from_pandas=True)
    if pa.types.is_date(arr.type):  # the fast path for a million Parquet dates
        return pd.Series(pc.cast(arr, pa.timestamp("s")).to_numpy(zero_copy_only=False), index=series.index, dtype="datetime64[s]")
    return pd.to_datetime(series).astype("datetime64[s]")


def _stamps(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, utc=True).astype("datetime64[us, UTC]")


def _typed(frame: pd.DataFrame, schema) -> pd.DataFrame:
    for f in schema:
        if f.name not in frame.columns:
            continue
        if str(f.type) == "date32[day]":
            frame[f.name] = _dates(frame[f.name])
        elif str(f.type).startswith("timestamp"):
            frame[f.name] = _stamps(frame[f.name])
    return frame


def _normalise_previous(frame: pd.DataFrame | None, schema) -> pd.DataFrame:
    """The previous snapshot's table (or an empty one) with dates as datetime64 and stamps in UTC."""
    columns = [c for c in schema.names if c != "run_id"]
    if frame is None or len(frame) == 0:
        return _typed(empty(schema)[columns], schema)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"previous rules table lacks column(s) {missing}")
    return _typed(frame[columns].reset_index(drop=True), schema)


def _latest_changes(changes: pd.DataFrame | None, ids: pd.Series, allowed: tuple[str, ...], what: str) -> pd.DataFrame:
    """The newest user change per id among `ids`; DataError for malformed rows."""
    if changes is None or len(changes) == 0:
        return empty_status_changes()
    missing = [c for c in STATUS_CHANGES_COLUMNS if c not in changes.columns]
    if missing:
        raise DataError(f"status changes lack column(s) {missing}")
    mine = changes.loc[changes["id"].isin(ids), list(STATUS_CHANGES_COLUMNS)].copy()
    if len(mine) == 0:
        return empty_status_changes()
    mine["at"] = _stamps(mine["at"])
    mine["until"] = _dates(mine["until"])

    def fail(mask: pd.Series, problem: str) -> DataError:
        row = mine[mask].iloc[0]
        return DataError(f"status change for {what} {row['id']!r}: {problem.format(status=row['new_status'])}")

    if (bad := ~mine["new_status"].isin(allowed)).any():
        raise fail(bad, "unknown status {status!r} (allowed: " + ", ".join(allowed) + ")")
    if (bad := mine["at"].isna()).any():
        raise fail(bad, "'at' is missing")
    if (bad := (mine["new_status"] == "SNOOZED") & mine["until"].isna()).any():
        raise fail(bad, "SNOOZED needs 'until'")
    if (bad := (mine["new_status"] == "DISMISSED") & (mine["reason"].isna() | (mine["reason"].astype("str").str.strip() == ""))).any():
        raise fail(bad, "DISMISSED needs a reason")
    return mine.sort_values(["id", "at"], kind="stable").drop_duplicates("id", keep="last")


def _find(keys: pa.Array, universe: pa.Array) -> np.ndarray:
    """Position of each key in `universe` (unique keys), -1 where absent: an Arrow hash lookup."""
    if len(universe) == 0 or len(keys) == 0:
        return np.full(len(keys), -1, dtype=np.int64)
    return pc.fill_null(pc.index_in(keys, value_set=universe), -1).to_numpy(zero_copy_only=False).astype(np.int64)


def _text(series: pd.Series) -> pa.Array:
    """A text column as one contiguous Arrow string array (pandas may hold it in chunks)."""
    arr = pa.array(series, from_pandas=True, type=pa.large_string())
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _apply_user_changes(prev: pd.DataFrame, key: str, changes: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Apply each id's newest change unless it is not newer than the last one applied to the row.

    Returns the table, which rows changed, and the changes' `until` dates (aligned with the rows).
    """
    fresh = np.zeros(len(prev), dtype=bool)
    until = np.full(len(prev), np.datetime64("NaT"), dtype="datetime64[s]")
    if len(changes) == 0 or len(prev) == 0:
        return prev, fresh, until
    row = _find(_text(changes["id"]), _text(prev[key]))
    changes = changes[row >= 0].reset_index(drop=True)
    row = row[row >= 0]
    last_applied = prev["user_changed_at"].iloc[row].reset_index(drop=True)
    newer = (last_applied.isna() | (changes["at"] > last_applied)).to_numpy()
    changes, row = changes[newer].reset_index(drop=True), row[newer]
    order = np.argsort(row)  # a boolean mask below selects rows in ascending order
    changes, row = changes.iloc[order].reset_index(drop=True), row[order]
    out = prev.copy()
    fresh[row] = True
    out.loc[fresh, "status"] = changes["new_status"].to_numpy()
    out.loc[fresh, "status_changed_at"] = changes["at"].array
    out.loc[fresh, "user_changed_at"] = changes["at"].array
    out.loc[fresh, "status_changed_by"] = "user"
    out.loc[fresh, "status_reason"] = changes["reason"].to_numpy(dtype=object)
    until[row] = changes["until"].to_numpy(dtype="datetime64[s]")
    return out, fresh, until


def _system(frame: pd.DataFrame, mask: np.ndarray, status: str, reason: str | pd.Series, stamp: pd.Timestamp) -> None:
    """A change made by the lifecycle itself."""
    if not mask.any():
        return
    frame.loc[mask, "status"] = status
    frame.loc[mask, "status_changed_at"] = stamp
    frame.loc[mask, "status_changed_by"] = "system"
    frame.loc[mask, "status_reason"] = reason if isinstance(reason, str) else reason[mask].to_numpy()


def _join(
    prev: pd.DataFrame, key: str, ids: pa.Array, src: np.ndarray, pos: np.ndarray | None = None
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """Yesterday's rows (light columns only) joined with today's ids by an Arrow hash lookup.

    Rows come out as: every id that fired today, in firing order, then
    yesterday's rows that did not fire, in their order; ``_prev_row`` and
    ``_src`` remember where each row's content lives (-1: nowhere).  Both
    keep ascending order within their group, so `_assemble` reads the text
    columns sequentially.  `pos` (each id's row in `prev`) may be passed when
    the caller already knows it.
    """
    prev_ids = _text(prev[key])
    if pos is None:
        pos = _find(ids, prev_ids)
    unmatched = np.ones(len(prev), dtype=bool)
    unmatched[pos[pos >= 0]] = False
    gone_rows = np.flatnonzero(unmatched)
    prev_row = np.concatenate([pos, gone_rows])
    out = prev.reindex(prev_row).reset_index(drop=True)  # -1: a row of nulls
    out[key] = pd.Series(pa.concat_arrays([ids, prev_ids.take(pa.array(gone_rows))]), dtype="str")
    out["_prev_row"] = prev_row
    out["_src"] = np.concatenate([src, np.full(len(gone_rows), -1, dtype=np.int64)])
    seen = np.arange(len(out)) < len(ids)
    both = seen & (prev_row >= 0)
    return out, both, seen & ~both, ~seen


def _content_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    relaxed = pa.schema([f.with_nullable(True) for f in schema])
    return pa.Table.from_pandas(frame[schema.names], schema=relaxed, preserve_index=False)


def _assemble(light: pd.DataFrame, keep: np.ndarray, prev: pa.Table, today: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """The kept rows with their content: today's firing for rows that fired today, else yesterday's row.

    The message, explanation and conditions columns are the bulk of the data;
    they are read once, in ascending order from each source (see `_join`).
    """
    src, prev_row = light["_src"].to_numpy(), light["_prev_row"].to_numpy()
    seen = src >= 0  # the rows that fired today come first (see _join): row order matches the content's
    content = to_pandas(pa.concat_tables([_rows(today, src[seen & keep]), _rows(prev, prev_row[~seen & keep])]))
    out = light.loc[keep].drop(columns=["_prev_row", "_src"]).reset_index(drop=True)
    for name in content.columns:
        out[name] = content[name]
    return out[[c for c in schema.names if c != "run_id"]]


def _is(series: pd.Series, *values: str) -> np.ndarray:
    """series in values, via Arrow (no Python string objects for millions of rows)."""
    return pc.fill_null(pc.is_in(_text(series), value_set=pa.array(values, pa.large_string())), False).to_numpy(zero_copy_only=False)


def _rows(table: pa.Table, rows: np.ndarray) -> pa.Table:
    """table[rows] for ascending rows; a zero-copy slice when they are contiguous (the usual case)."""
    if len(rows) and rows[-1] - rows[0] + 1 == len(rows):
        return table.slice(int(rows[0]), len(rows))
    return table.take(pa.array(rows, pa.int64()))


def _lookup(keys: pa.Array, mapping: Mapping[str, float], default: float) -> np.ndarray:
    """mapping[key] for each key (a handful of distinct keys), default where absent, without a per-row loop."""
    names = list(mapping)
    values = np.append(np.array([mapping[k] for k in names], dtype=np.float64), default)
    found = _find(keys, pa.array(names, keys.type))
    return values[np.where(found >= 0, found, len(names))]


def _rows_of_kind(firings: pd.DataFrame, kind: str) -> np.ndarray:
    return np.flatnonzero(pc.equal(pa.array(firings["kind"]), kind).to_numpy(zero_copy_only=False))


def _days_since(today: pd.Timestamp, when: pd.Series) -> np.ndarray:
    return (today - when).dt.days.to_numpy(dtype=float, na_value=np.nan)


# --------------------------------------------------------------------------- alerts

_ALERT_CONTENT = pa.schema([ALERTS_SCHEMA.field(c) for c in ("account_id", "alert_type", "severity", *_REFRESHED)])
_REC_CONTENT = pa.schema(
    [RECOMMENDATIONS_SCHEMA.field(c) for c in ("account_id", "rule_id", "priority", "action", "expected_outcome", *_REFRESHED)]
)


def _alerts(firings: pd.DataFrame, previous: pd.DataFrame | None, changes: pd.DataFrame | None, as_of: date, config: LifecycleConfig) -> pd.DataFrame:
    today = pd.Timestamp(as_of).as_unit("s")
    stamp = end_of_day(as_of)
    prev = _normalise_previous(previous, ALERTS_SCHEMA)

    prev, fresh, until = _apply_user_changes(prev, "alert_id", _latest_changes(changes, prev["alert_id"], USER_ALERT_STATUSES, "alert"))
    snoozed, held = fresh & _is(prev["status"], "SNOOZED"), fresh & _is(prev["status"], "ACKNOWLEDGED", "SNOOZED")
    prev.loc[snoozed, "snoozed_until"] = until[snoozed]
    prev.loc[fresh & ~snoozed, "snoozed_until"] = pd.NaT
    prev.loc[held, "acknowledged_severity"] = prev.loc[held, "severity"].to_numpy()
    prev.loc[fresh & ~held, "acknowledged_severity"] = None
    resolved = fresh & _is(prev["status"], "RESOLVED")
    prev.loc[resolved, "resolved_on"] = prev.loc[resolved, "status_changed_at"].dt.tz_convert(None).dt.normalize().astype("datetime64[s]").to_numpy()

    rows = _rows_of_kind(firings, "alert")
    take = pa.array(rows)
    ids = pc.binary_join_element_wise(_text(firings["rule_id"]).take(take), _text(firings["account_id"]).take(take), _SEP)
    if pc.count_distinct(ids).as_py() != len(ids):
        raise DataError("firings hold more than one row for an alert (one rule and account)")
    out, both, new, gone = _join(prev.drop(columns=list(_ALERT_CONTENT.names)), "alert_id", ids, rows)
    today_severity = pd.Series(_text(firings["severity"]).take(take), dtype="str").reindex(range(len(out)))
    rank_now = np.append(_lookup(_text(firings["severity"]).take(take), SEVERITY_RANK, np.nan), np.full(len(out) - len(rows), np.nan))
    was_resolved, was_snoozed, was_held = _is(out["status"], "RESOLVED"), _is(out["status"], "SNOOZED"), _is(out["status"], "ACKNOWLEDGED", "SNOOZED")
    out.loc[both | new, "last_seen"] = today
    # A new alert, or a resolved one whose condition is back: a new episode under the same id.
    back = both & was_resolved
    episode = new | back
    out.loc[episode, "first_seen"] = today
    out.loc[episode, ["resolved_on", "snoozed_until"]] = pd.NaT
    out.loc[episode, "acknowledged_severity"] = None
    _system(out, new, "OPEN", "condition true", stamp)
    _system(out, back, "OPEN", "condition true again", stamp)
    # A snooze that ran out (snoozed until today or earlier) reopens.
    expired = both & was_snoozed & (out["snoozed_until"] <= today).to_numpy()
    _system(out, expired, "OPEN", "snooze expired", stamp)
    # A severity above the one the user acknowledged or snoozed reopens.
    if config.reopen_on_escalation:
        rank_ack = _lookup(_text(out["acknowledged_severity"]), SEVERITY_RANK, np.nan)
        rose = both & was_held & ~expired & (rank_now > rank_ack)
        if rose.any():
            reason = "severity rose from " + out["acknowledged_severity"].fillna("") + " to " + today_severity.fillna("")
            _system(out, rose, "OPEN", reason, stamp)
        expired = expired | rose
    out.loc[expired, "snoozed_until"] = pd.NaT
    out.loc[expired, "acknowledged_severity"] = None
    # A condition that cleared resolves the alert, whatever its status.
    clears = gone & ~was_resolved
    _system(out, clears, "RESOLVED", "condition cleared", stamp)
    out.loc[clears, "resolved_on"] = today
    out.loc[clears, "snoozed_until"] = pd.NaT
    out["as_of"] = today
    stale = _is(out["status"], "RESOLVED") & (_days_since(today, out["resolved_on"]) > config.resolved_alert_retention_days)
    content = (_content_table(prev, _ALERT_CONTENT), _content_table(firings.rename(columns={"rule_id": "alert_type"}), _ALERT_CONTENT))
    return _assemble(out, ~stale, *content, ALERTS_SCHEMA)


# --------------------------------------------------------------------------- recommendations


def _recommendations(
    firings: pd.DataFrame, previous: pd.DataFrame | None, changes: pd.DataFrame | None, as_of: date, config: LifecycleConfig
) -> pd.DataFrame:
    today = pd.Timestamp(as_of).as_unit("s")
    stamp = end_of_day(as_of)
    prev = _normalise_previous(previous, RECOMMENDATIONS_SCHEMA)

    user = _latest_changes(changes, prev["recommendation_id"], USER_RECOMMENDATION_STATUSES, "recommendation")
    prev, fresh, _ = _apply_user_changes(prev, "recommendation_id", user)
    executed = fresh & _is(prev["status"], "EXECUTED")
    prev.loc[executed, "executed_on"] = prev.loc[executed, "user_changed_at"].dt.tz_convert(None).dt.normalize().astype("datetime64[s]").to_numpy()
    prev.loc[fresh & ~executed, "executed_on"] = pd.NaT

    rows = _rows_of_kind(firings, "recommendation")
    take = pa.array(rows)
    rule_ids = _text(firings["rule_id"]).take(take)
    pairs = pc.binary_join_element_wise(rule_ids, _text(firings["account_id"]).take(take), _SEP)
    prev_pairs = pc.binary_join_element_wise(_text(prev["rule_id"]), _text(prev["account_id"]), _SEP)
    prev_ids = _text(prev["recommendation_id"])

    # Today's firing lands on the pair's OPEN instance when there is one (at most one per pair) ...
    fresh_ids = pc.binary_join_element_wise(pairs, pa.scalar(as_of.strftime("%Y%m%d"), pa.large_string()), _SEP)
    open_rows = np.flatnonzero(_is(prev["status"], "OPEN"))
    at_open = _find(pairs, prev_pairs.take(pa.array(open_rows)))
    has_open = at_open >= 0
    open_ids = prev_ids.take(pa.array(open_rows[np.where(has_open, at_open, 0)])) if len(open_rows) else fresh_ids
    # ... otherwise it is a new instance, unless the pair is cooling down after an execution or dismissal.
    closed = _is(prev["status"], "EXECUTED", "DISMISSED") & prev["user_changed_at"].notna().to_numpy()
    last = (
        pd.DataFrame({"pair": pd.Series(prev_pairs, dtype="str")[closed], "day": prev.loc[closed, "user_changed_at"].dt.tz_convert(None).dt.normalize()})
        .groupby("pair", sort=False)["day"]
        .max()
    )
    at_closed = _find(pairs, _text(pd.Series(last.index, dtype="str")))
    last_closed = pd.Series(np.full(len(pairs), np.datetime64("NaT"), dtype="datetime64[s]"))
    last_closed[at_closed >= 0] = last.to_numpy(dtype="datetime64[s]")[at_closed[at_closed >= 0]]
    cooldown = _lookup(rule_ids, config.cooldown_days_by_rule, config.recommendation_cooldown_days)
    cooling = (last_closed + pd.to_timedelta(cooldown, unit="D") > today).to_numpy()
    taken = _find(fresh_ids, prev_ids.take(pa.array(np.flatnonzero(closed)))) >= 0  # closed today already: not again today
    issue = has_open | ~(cooling | taken)
    ids = pc.if_else(pa.array(has_open), open_ids, fresh_ids).filter(pa.array(issue))
    # Rows of yesterday's table: the open instance, or (a rerun of the same day) an expired one with the fresh id.
    pos = np.where(has_open, open_rows[np.maximum(at_open, 0)] if len(open_rows) else -1, -1)
    new_rows = np.flatnonzero(~has_open & issue)
    pos[new_rows] = _find(fresh_ids.take(pa.array(new_rows)), prev_ids)
    pos = pos[issue]

    out, both, new, gone = _join(prev.drop(columns=list(_REC_CONTENT.names)), "recommendation_id", ids, rows[issue], pos)
    was_open, was_expired = _is(out["status"], "OPEN"), _is(out["status"], "EXPIRED")
    out.loc[both | new, "last_seen"] = today
    out.loc[new, "first_seen"] = today
    _system(out, new, "OPEN", "condition true", stamp)
    _system(out, both & was_expired, "OPEN", "condition true again", stamp)  # a rerun of the same day
    _system(out, gone & was_open, "EXPIRED", "condition cleared", stamp)
    out["as_of"] = today
    changed_day = out["status_changed_at"].dt.tz_convert(None).dt.normalize()
    stale = _is(out["status"], "EXECUTED", "DISMISSED", "EXPIRED") & (
        _days_since(today, changed_day) > config.closed_recommendation_retention_days
    )
    content = (_content_table(prev, _REC_CONTENT), _content_table(firings.rename(columns={"severity": "priority"}), _REC_CONTENT))
    return _assemble(out, ~stale, *content, RECOMMENDATIONS_SCHEMA)


def apply_lifecycle(
    firings: pd.DataFrame,
    previous_alerts: pd.DataFrame | None,
    previous_recommendations: pd.DataFrame | None,
    status_changes: pd.DataFrame | None,
    as_of: date,
    config: LifecycleConfig,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(today's firings, the previous snapshot's tables, user changes since) -> today's tables.

    `firings` is an `evaluate_batch` result; the previous tables are the last
    published ``gold_risk_alerts`` / ``gold_recommendations`` (None or empty
    on the first run).  Returns frames with every column of their schema
    except ``run_id``, which the caller stamps (`rules.run.run_rules`).
    Outcome columns of recommendations are carried over unchanged here and
    filled by `rules.outcomes.track_outcomes`.
    """
    alerts = _alerts(firings, previous_alerts, status_changes, as_of, config)
    recommendations = _recommendations(firings, previous_recommendations, status_changes, as_of, config)
    return alerts, recommendations
