"""Dates, amounts and sizes as French readers expect them; one action per submitted form."""

from __future__ import annotations

from portal_service.clients import ApiError
from portal_service.formatting import amount, file_size, french_date, french_datetime
from portal_service.web.common import FormErrors
from portal_service.web.documents import disposition


def test_dates_and_amounts_read_the_french_way() -> None:
    assert french_date("2026-03-01") == "1er mars 2026"
    assert french_date("2026-12-27") == "27 décembre 2026"
    assert french_datetime("2026-03-05T13:07:00+00:00") == "5 mars 2026 à 14 h 07"  # Paris, winter
    assert french_datetime("2026-07-14T08:30:00+00:00") == "14 juillet 2026 à 10 h 30"  # summer
    assert amount("13.76") == "13,76\u00a0€"
    assert amount("1234.5") == "1\u202f234,50\u00a0€"
    assert file_size(5 * 1024 * 1024) == "5 Mo"
    assert file_size(1536 * 1024) == "1,5 Mo"
    assert file_size(26_000) == "25 ko"


def test_a_refusal_goes_next_to_the_field_it_names_when_the_page_shows_it() -> None:
    error = ApiError(422, "Format attendu AB-123-CD.", [("plate", "Format attendu AB-123-CD.")])
    errors = FormErrors.of(error, ("plate", "reason"))
    assert errors.get("plate") == "Format attendu AB-123-CD."
    assert errors.summary == [{"anchor": "field-plate", "message": "Format attendu AB-123-CD."}]
    elsewhere = FormErrors.of(error, ("card_number",))
    assert elsewhere.get("plate") is None
    assert elsewhere.summary == [{"anchor": None, "message": "Format attendu AB-123-CD."}]


def test_a_refusal_without_fields_keeps_the_services_message() -> None:
    import httpx

    answer = httpx.Response(409, json={"status_code": 409, "message": "Déjà payé."})
    error = ApiError.from_response(answer)
    assert (error.status, error.message) == (409, "Déjà payé.")
    assert error.errors == [(None, "Déjà payé.")]


def test_a_document_is_downloaded_unless_shown_in_the_page() -> None:
    upstream = "attachment; filename=\"cpi.pdf\"; filename*=UTF-8''cpi.pdf"
    assert disposition(upstream, inline=False) == upstream
    assert disposition(upstream, inline=True) == upstream.replace("attachment", "inline")
    assert disposition(None, inline=False) == 'attachment; filename="document"'
