"""The fees of a duplicate are those of the day in Paris, for every service that quotes them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from ants_runtime.fees import Fee, FeeSchedule, today_in_france

NEW_YEAR = date(2027, 1, 1)
SCHEDULE = FeeSchedule([
    (date(2026, 1, 1), (Fee("Y4", "Taxe fixe (Y.4)", Decimal("11.00")),)),
    (NEW_YEAR, (Fee("Y4", "Taxe fixe (Y.4)", Decimal("12.00")),)),
])


def test_half_past_midnight_in_paris_is_already_the_new_day_for_the_fees() -> None:
    still_the_old_year_in_utc = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
    assert today_in_france(still_the_old_year_in_utc) == NEW_YEAR
    assert SCHEDULE.quote(today_in_france(still_the_old_year_in_utc)).total == Decimal("12.00")


def test_in_summer_paris_is_two_hours_ahead_of_utc() -> None:
    assert today_in_france(datetime(2026, 7, 13, 21, 59, tzinfo=UTC)) == date(2026, 7, 13)
    assert today_in_france(datetime(2026, 7, 13, 22, 0, tzinfo=UTC)) == date(2026, 7, 14)
