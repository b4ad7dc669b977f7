"""Column rendering and calendar helpers, on hand-checkable values."""

from __future__ import annotations

from datetime import date

import numpy as np

from etl.generate import text
from etl.generate.common import add_months, month_index, month_start


def _days(*values: str) -> np.ndarray:
    return np.array([(date.fromisoformat(v) - date(1970, 1, 1)).days for v in values])


def test_salesforce_id_checksum_marks_upper_case_positions() -> None:
    # 15-char part "0015g0000000001": no upper-case letters -> "AAA".
    # Sequence 10 = "00000A" in base 62 puts an "A" at position 15 (last of chunk 3, bit 4) -> "Q".
    ids = text.salesforce_ids("001", np.array([1, 10]), "5g").to_pylist()
    assert ids == ["0015g0000000001AAA", "0015g000000000AAAQ"]


def test_salesforce_ids_are_18_chars_and_unique() -> None:
    ids = text.salesforce_ids("006", np.arange(5000) * 977, "zz").to_pylist()
    assert all(len(i) == 18 and i.startswith("006zz") for i in ids)
    assert len(set(ids)) == 5000


def test_dates_and_datetimes_in_salesforce_format() -> None:
    days = _days("2024-02-29", "1999-12-31")
    assert text.dates(days).to_pylist() == ["2024-02-29", "1999-12-31"]
    assert text.dates(days, valid=np.array([True, False])).to_pylist() == ["2024-02-29", None]
    seconds = days * 86_400 + np.array([10 * 3600 + 22 * 60 + 1, 23 * 3600 + 59 * 60 + 59])
    assert text.datetimes(seconds).to_pylist() == ["2024-02-29T10:22:01.000+0000", "1999-12-31T23:59:59.000+0000"]


def test_numbers_and_months() -> None:
    assert text.numbers(np.array([7, 1234]), 6, "INV-").to_pylist() == ["INV-000007", "INV-001234"]
    assert text.year_months(month_index(_days("2024-03-15", "2023-12-01"))).to_pylist() == ["2024-03", "2023-12"]


def test_fill_templates_replaces_only_placeholders() -> None:
    rng = np.random.default_rng(0)
    out = text.fill_templates(["(212) %##-####", "+49 30 ### ####"], np.array([0, 1, 0]), rng).to_pylist()
    assert out[0][:6] == "(212) " and out[0][6] in "23456789" and len(out[0]) == 14
    assert out[1].startswith("+49 30 ") and out[1][7:].replace(" ", "").isdigit()


def test_add_months_clips_to_month_end() -> None:
    got = add_months(_days("2024-01-31", "2023-03-15", "2024-11-30"), np.array([1, 12, 3]))
    assert text.dates(got).to_pylist() == ["2024-02-29", "2024-03-15", "2025-02-28"]
    assert text.dates(month_start(month_index(_days("2024-03-15")))).to_pylist() == ["2024-03-01"]
