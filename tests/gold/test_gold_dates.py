from __future__ import annotations

from datetime import date

import pytest

from etl.gold import month_ends_before
from etl.gold.dates import add_months, last_full_month, month_index


def test_month_ends_before_excludes_as_of_even_at_a_month_end() -> None:
    assert month_ends_before(date(2024, 3, 31), 3) == [date(2023, 12, 31), date(2024, 1, 31), date(2024, 2, 29)]
    assert month_ends_before(date(2024, 3, 15), 2) == [date(2024, 1, 31), date(2024, 2, 29)]
    assert month_ends_before(date(2024, 3, 1), 1) == [date(2024, 2, 29)]
    assert month_ends_before(date(2024, 3, 1), 0) == []
    with pytest.raises(ValueError):
        month_ends_before(date(2024, 3, 1), -1)


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2024, 2, 29), -12) == date(2023, 2, 28)
    assert add_months(date(2024, 3, 31), -1) == date(2024, 2, 29)
    assert add_months(date(2024, 6, 30), -24) == date(2022, 6, 30)
    assert add_months(date(2024, 1, 15), 13) == date(2025, 2, 15)


def test_last_full_month_is_the_as_of_month_only_on_its_last_day() -> None:
    assert last_full_month(date(2024, 6, 30)) == month_index(date(2024, 6, 1))
    assert last_full_month(date(2024, 6, 29)) == month_index(date(2024, 5, 1))
    assert last_full_month(date(2024, 1, 1)) == month_index(date(2023, 12, 1))
