"""How the pages write dates, amounts and sizes: the French way."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

PARIS = ZoneInfo("Europe/Paris")
MONTHS = (
    "janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
    "octobre", "novembre", "décembre",
)
CURRENCIES = {"EUR": "€"}


def _parse(value: str | date | datetime | None) -> date | datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    text = str(value)
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def french_date(value: str | date | datetime | None) -> str:
    """"2026-03-05" -> "5 mars 2026"."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    if isinstance(parsed, datetime):
        parsed = parsed.astimezone(PARIS).date() if parsed.tzinfo else parsed.date()
    day = "1er" if parsed.day == 1 else str(parsed.day)
    return f"{day} {MONTHS[parsed.month - 1]} {parsed.year}"


def french_datetime(value: str | datetime | None) -> str:
    """An instant as read in France: "5 mars 2026 à 14 h 07"."""
    parsed = _parse(value)
    if parsed is None:
        return ""
    if not isinstance(parsed, datetime):
        return french_date(parsed)
    local = parsed.astimezone(PARIS) if parsed.tzinfo else parsed
    return f"{french_date(local.date())} à {local.hour} h {local.minute:02d}"


def french_instant(value: str | datetime | None) -> str:
    """To the second, for the auditor's timeline: "5 mars 2026 à 14:07:32"."""
    parsed = _parse(value)
    if not isinstance(parsed, datetime):
        return french_datetime(value)
    local = parsed.astimezone(PARIS) if parsed.tzinfo else parsed
    return f"{french_date(local.date())} à {local:%H:%M:%S}"


def amount(value: str | int | float | Decimal | None, currency: str = "EUR") -> str:
    """"13.76" -> "13,76 €" (non-breaking space before the symbol)."""
    if value is None or value == "":
        return ""
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    whole, _, cents = f"{number:,.2f}".partition(".")
    whole = whole.replace(",", "\u202f")
    return f"{whole},{cents}\u00a0{CURRENCIES.get(currency, currency)}"


def file_size(size: int) -> str:
    """5242880 -> "5 Mo"; 1536 -> "2 ko"."""
    if size >= 1024 * 1024:
        text = f"{size / (1024 * 1024):.1f}".rstrip("0").rstrip(".").replace(".", ",")
        return f"{text} Mo"
    return f"{max(1, round(size / 1024))} ko"


URL = re.compile(r"https?://[^\s<>\"']+")


def with_links(text: str) -> Markup:
    """Plain text made safe for a page, its web addresses made links."""
    parts, last = [], 0
    for found in URL.finditer(text):
        address = found.group(0).rstrip(".,;:)")
        parts += [escape(text[last:found.start()]),
                  Markup('<a href="{0}">{0}</a>').format(address)]
        last = found.start() + len(address)
    parts.append(escape(text[last:]))
    return Markup("").join(parts)
