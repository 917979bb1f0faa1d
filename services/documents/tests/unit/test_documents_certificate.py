"""The certificate number and how long a provisional certificate is valid."""

from datetime import date
from uuid import uuid4

from ants_runtime.store import stable_id
from documents_service.domain.certificate import (
    certificate_number,
    is_certificate_number,
    valid_until,
)


def test_valid_one_calendar_month_after_issue() -> None:
    assert valid_until(date(2025, 3, 15)) == date(2025, 4, 15)


def test_issued_on_31_january_is_valid_until_the_end_of_february() -> None:
    assert valid_until(date(2025, 1, 31)) == date(2025, 2, 28)
    assert valid_until(date(2024, 1, 31)) == date(2024, 2, 29)


def test_issued_at_month_end_is_valid_until_the_next_month_end_at_most() -> None:
    assert valid_until(date(2025, 3, 31)) == date(2025, 4, 30)
    assert valid_until(date(2025, 8, 31)) == date(2025, 9, 30)


def test_issued_in_december_is_valid_into_the_next_year() -> None:
    assert valid_until(date(2025, 12, 31)) == date(2026, 1, 31)


def test_certificate_number_carries_the_year_and_eight_unambiguous_characters() -> None:
    number = certificate_number(2025, uuid4())
    assert number.startswith("CPI-2025-")
    code = number.removeprefix("CPI-2025-")
    assert len(code) == 8
    assert not set(code) & set("ILOU")
    assert is_certificate_number(number)


def test_same_dossier_gives_the_same_certificate_number() -> None:
    dossier_id = uuid4()
    first = certificate_number(2025, stable_id("documents", "certificate", dossier_id))
    again = certificate_number(2025, stable_id("documents", "certificate", dossier_id))
    other = certificate_number(2025, stable_id("documents", "certificate", uuid4()))
    assert first == again
    assert first != other


def test_free_text_is_not_a_certificate_number() -> None:
    assert not is_certificate_number("CPI-2025-1234567")
    assert not is_certificate_number("../../etc/passwd")
    assert not is_certificate_number("cpi-2025-abcdefgh")
