"""The dated schedule of fees for a duplicate: which lines apply on a given day."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

DEFAULT_SCHEDULE = Path(__file__).with_name("fee_schedule.json")
PROCEDURE_TIMEZONE = ZoneInfo("Europe/Paris")


def today_in_france(now: datetime | None = None) -> date:
    """The day whose fees apply: the calendar date in Paris (not UTC, which is still the day
    before for an hour or two after midnight), for every service that quotes the fees."""
    return (now or datetime.now(PROCEDURE_TIMEZONE)).astimezone(PROCEDURE_TIMEZONE).date()


@dataclass(frozen=True)
class Fee:
    code: str
    label: str
    amount: Decimal


@dataclass(frozen=True)
class Quote:
    lines: tuple[Fee, ...]
    currency: str = "EUR"

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00"))


class FeeSchedule:
    def __init__(self, periods: list[tuple[date, tuple[Fee, ...]]]) -> None:
        self.periods = sorted(periods, key=lambda p: p[0])

    @classmethod
    def load(cls, path: Path | None = None) -> FeeSchedule:
        raw = json.loads((path or DEFAULT_SCHEDULE).read_text())
        return cls(
            [
                (
                    date.fromisoformat(period["valid_from"]),
                    tuple(Fee(f["code"], f["label"], Decimal(f["amount"])) for f in period["lines"]),
                )
                for period in raw["periods"]
            ]
        )

    def quote(self, on: date) -> Quote:
        applicable = [lines for start, lines in self.periods if start <= on]
        if not applicable:
            raise LookupError(f"no fee schedule in force on {on.isoformat()}")
        return Quote(applicable[-1])
