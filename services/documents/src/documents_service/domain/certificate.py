"""The provisional certificate's number and its period of validity."""

from __future__ import annotations

import calendar
import re
from datetime import date
from uuid import UUID

# Crockford's base 32: no I, L, O or U, so a number read aloud or typed is not misread.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 8
NUMBER_PATTERN = re.compile(r"^CPI-\d{4}-[0-9A-HJKMNP-TV-Z]{8}$")


def certificate_number(year: int, seed: UUID) -> str:
    """`CPI-<year>-<8 characters>`, derived from a seed so a retry gives the same number."""
    value = seed.int
    code = []
    for _ in range(CODE_LENGTH):
        value, digit = divmod(value, len(ALPHABET))
        code.append(ALPHABET[digit])
    return f"CPI-{year:04d}-{''.join(code)}"


def is_certificate_number(text: str) -> bool:
    return bool(NUMBER_PATTERN.match(text))


def valid_until(issued_on: date) -> date:
    """One calendar month after the issue date; 31 January gives the last day of February."""
    year, month = (issued_on.year + 1, 1) if issued_on.month == 12 else (
        issued_on.year, issued_on.month + 1
    )
    last_day = calendar.monthrange(year, month)[1]
    return date(year, month, min(issued_on.day, last_day))
