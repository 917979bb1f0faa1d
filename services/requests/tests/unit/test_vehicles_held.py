"""Which vehicles a citizen holds, as the SIV names their holders and co-holders."""

from __future__ import annotations

from requests_service.adapters.siv import SeededSiv


def test_a_holder_finds_her_vehicles_and_the_one_she_co_holds_by_plate() -> None:
    siv = SeededSiv.load()
    plates = [v.plate for v in siv.held_by("Marie", "MARTIN")]
    assert plates == ["AB-123-CD", "MN-234-PQ", "PQ-741-RS"]


def test_names_match_without_case_or_accents() -> None:
    siv = SeededSiv.load()
    assert [v.plate for v in siv.held_by("helene", "Moreau")] == ["KL-654-MN"]


def test_someone_the_siv_does_not_know_holds_nothing() -> None:
    assert SeededSiv.load().held_by("Karim", "BENALI") == []
