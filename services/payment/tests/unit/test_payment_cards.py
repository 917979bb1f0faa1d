"""Card checks: number (Luhn, length, digits), expiry (end of month), CVV."""

from datetime import date

import pytest

from payment_service.domain.cards import CardExpired, InvalidCard, luhn_valid, read_card

TODAY = date(2026, 11, 27)
GOOD = "4970 1000 0006 0000"


@pytest.mark.parametrize(
    "number",
    ["4970100000060000", "4111111111111111", "5555555555554444", "378282246310005",
     "4000000000000002", "4000000000009995", "4222222222222", "6011000990139424"],
)
def test_known_valid_card_numbers_pass_the_luhn_check(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4970100000000000", "4970100000060001", "4111111111111112", "378282246310006"]
)
def test_a_mistyped_digit_fails_the_luhn_check(number: str) -> None:
    assert not luhn_valid(number)


def test_a_card_typed_with_spaces_is_read_as_its_digits() -> None:
    card = read_card(GOOD, "12/28", "123", TODAY)
    assert card.number == "4970100000060000"
    assert card.last4 == "0000"
    assert (card.expiry_month, card.expiry_year) == (12, 2028)


def test_a_card_never_shows_its_number_nor_cvv_when_printed() -> None:
    card = read_card(GOOD, "12/28", "739", TODAY)
    assert "4970100000060000" not in repr(card)
    assert "739" not in repr(card)
    assert "4970100000060000" not in str(card)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("4970-1000-0006-0000", "Le numéro de carte ne doit contenir que des chiffres."),
        ("4970 1000 000six 0000", "Le numéro de carte ne doit contenir que des chiffres."),
        ("٤٩٧٠١٠٠٠٠٠٠٦٠٠٠٠", "Le numéro de carte ne doit contenir que des chiffres."),
        ("", "Le numéro de carte ne doit contenir que des chiffres."),
        ("4111 1111 1111", "Le numéro de carte doit comporter entre 13 et 19 chiffres."),
        ("4" * 20, "Le numéro de carte doit comporter entre 13 et 19 chiffres."),
        ("4970 1000 0006 0001", "Le numéro de carte n'est pas valide : vérifiez-le."),
        ("4970 1000 0000 0000", "Le numéro de carte n'est pas valide : vérifiez-le."),
    ],
)
def test_a_bad_card_number_is_refused_with_a_clear_message(number: str, message: str) -> None:
    with pytest.raises(InvalidCard) as refusal:
        read_card(number, "12/28", "123", TODAY)
    assert str(refusal.value) == message


@pytest.mark.parametrize(
    ("card", "field"),
    [(("4970 1000 0006 0001", "12/28", "123"), "card_number"), ((GOOD, "10/26", "123"), "expiry"),
     ((GOOD, "1228", "123"), "expiry"), ((GOOD, "12/28", "12"), "cvv")],
)
def test_a_refusal_names_the_input_to_correct(card: tuple[str, str, str], field: str) -> None:
    with pytest.raises(InvalidCard) as refusal:
        read_card(*card, TODAY)
    assert refusal.value.field == field


def test_card_numbers_of_13_and_19_digits_are_accepted() -> None:
    assert read_card("4222222222222", "12/28", "123", TODAY).last4 == "2222"
    assert read_card("6200 0000 0000 0000 000", "12/28", "123", TODAY).last4 == "0000"


@pytest.mark.parametrize(
    ("expiry", "today"),
    [("11/26", TODAY), ("11/26", date(2026, 11, 30)), ("12/26", TODAY), ("01/27", TODAY),
     ("12/26", date(2026, 12, 31))],
)
def test_a_card_is_valid_until_the_end_of_its_expiry_month(expiry: str, today: date) -> None:
    assert read_card(GOOD, expiry, "123", today).last4 == "0000"


@pytest.mark.parametrize(
    ("expiry", "today"),
    [("10/26", TODAY), ("11/26", date(2026, 12, 1)), ("12/25", date(2026, 1, 1)), ("01/21", TODAY)],
)
def test_a_card_past_its_expiry_month_is_expired(expiry: str, today: date) -> None:
    with pytest.raises(CardExpired) as refusal:
        read_card(GOOD, expiry, "123", today)
    assert str(refusal.value) == "La carte est expirée."


@pytest.mark.parametrize("expiry", ["1228", "12/2028", "1/28", "12-28", "", "ab/cd", "12/28/1"])
def test_an_expiry_not_written_mm_yy_is_refused(expiry: str) -> None:
    with pytest.raises(InvalidCard) as refusal:
        read_card(GOOD, expiry, "123", TODAY)
    assert "MM/AA" in str(refusal.value)


@pytest.mark.parametrize("expiry", ["00/28", "13/28"])
def test_an_expiry_month_must_exist(expiry: str) -> None:
    with pytest.raises(InvalidCard, match="entre 01 et 12"):
        read_card(GOOD, expiry, "123", TODAY)


@pytest.mark.parametrize("cvv", ["12", "1234", "12a", "", "1 3", "١٢٣", "123\n4"])
def test_the_cvv_must_be_exactly_three_digits(cvv: str) -> None:
    with pytest.raises(InvalidCard) as refusal:
        read_card(GOOD, "12/28", cvv, TODAY)
    assert str(refusal.value) == "Le cryptogramme visuel doit comporter exactement 3 chiffres."


def test_a_three_digit_cvv_is_accepted() -> None:
    assert read_card(GOOD, "12/28", "007", TODAY).cvv == "007"
