"""Card rules: Luhn, brands, expiry, CVC and the test cards, without I/O."""

from __future__ import annotations

from dataclasses import fields
from datetime import date

import pytest

from kafka_restaurants.bank.cards import (
    CardBehaviour,
    CardRejected,
    FieldError,
    behaviour_for,
    check_card,
    detect_brand,
    full_expiry_year,
    is_expired,
    normalise_number,
    passes_luhn,
)

TODAY = date(2026, 6, 15)
VISA = "4242424242424242"


def rejected(
    number: str = VISA, month: int = 12, year: int = 2030, cvc: str = "123"
) -> list[FieldError]:
    with pytest.raises(CardRejected) as caught:
        check_card(number, month, year, cvc, TODAY)
    return caught.value.errors


@pytest.mark.parametrize(
    "number",
    [
        VISA,
        "4000000000000002",
        "4000000000009995",
        "4000000000000119",
        "378282246310005",
        "5555555555554444",
        "6011111111111117",
        "79927398713",
    ],
)
def test_luhn_accepts_valid_numbers(number: str) -> None:
    assert passes_luhn(number)


@pytest.mark.parametrize("number", ["4242424242424241", "79927398710", "1234567812345678"])
def test_luhn_rejects_invalid_numbers(number: str) -> None:
    assert not passes_luhn(number)


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        (VISA, "visa"),
        ("5555555555554444", "mastercard"),
        ("2223003122003222", "mastercard"),
        ("378282246310005", "amex"),
        ("341111111111111", "amex"),
        ("6011111111111117", "discover"),
        ("6445644564456445", "discover"),
        ("3056930009020004", "diners"),
        ("36227206271667", "diners"),
        ("3566002020360505", "jcb"),
        ("6200000000000005", "unionpay"),
        ("9999999999999995", "unknown"),
    ],
)
def test_detect_brand(number: str, brand: str) -> None:
    assert detect_brand(number) == brand


def test_spaces_between_digit_groups_are_stripped() -> None:
    assert normalise_number("4242 4242 4242 4242") == VISA
    assert check_card("4242 4242 4242 4242", 12, 30, "123", TODAY).last4 == "4242"


def test_valid_card_keeps_only_what_a_vault_may_keep() -> None:
    card = check_card(VISA, 7, 28, "123", TODAY)
    assert (card.brand, card.last4, card.exp_month, card.exp_year) == ("visa", "4242", 7, 2028)
    assert card.behaviour is CardBehaviour.SUCCEEDS
    assert {f.name for f in fields(card)} == {
        "brand",
        "last4",
        "exp_month",
        "exp_year",
        "behaviour",
    }
    assert VISA not in repr(card) and "123" not in repr(card)


@pytest.mark.parametrize(
    ("number", "kind", "message"),
    [
        ("4242-4242-4242-4242", "invalid_characters", "card number must contain only digits"),
        ("4242x24242424242", "invalid_characters", "card number must contain only digits"),
        ("", "invalid_characters", "card number must contain only digits"),
        (
            "\uff14\uff12" * 8,  # full-width digits
            "invalid_characters",
            "card number must contain only digits",
        ),
        ("42424242424", "invalid_length", "card number must have 12 to 19 digits"),
        ("42424242424242424242", "invalid_length", "card number must have 12 to 19 digits"),
        ("4242424242424241", "luhn_check_failed", "card number fails the Luhn check"),
    ],
)
def test_bad_numbers_name_the_field_and_reason(number: str, kind: str, message: str) -> None:
    assert rejected(number=number) == [FieldError("number", message, kind)]


def test_twelve_and_nineteen_digit_numbers_are_allowed() -> None:
    assert check_card("000000000000", 1, 2030, "123", TODAY).last4 == "0000"
    assert check_card("6011000000000000001", 1, 2030, "123", TODAY).brand == "discover"


@pytest.mark.parametrize("month", [0, 13, -1])
def test_expiry_month_must_be_1_to_12(month: int) -> None:
    assert rejected(month=month) == [
        FieldError("exp_month", "expiry month must be 1 to 12", "out_of_range")
    ]


@pytest.mark.parametrize("year", [100, 999, 10000, -1])
def test_expiry_year_must_have_2_or_4_digits(year: int) -> None:
    assert rejected(year=year) == [
        FieldError("exp_year", "expiry year must have 2 or 4 digits", "invalid_format")
    ]


def test_two_and_four_digit_years() -> None:
    assert full_expiry_year(26) == 2026
    assert full_expiry_year(0) == 2000
    assert full_expiry_year(2031) == 2031
    assert full_expiry_year(123) is None


def test_card_is_valid_through_the_end_of_its_expiry_month() -> None:
    assert not is_expired(6, 2026, date(2026, 6, 30))
    assert is_expired(6, 2026, date(2026, 7, 1))
    assert not is_expired(12, 2026, date(2026, 12, 31))
    assert is_expired(12, 2026, date(2027, 1, 1))
    assert check_card(VISA, 6, 26, "123", TODAY).exp_year == 2026


def test_expired_card_blames_the_month_in_the_current_year_else_the_year() -> None:
    assert rejected(month=5, year=2026) == [
        FieldError("exp_month", "card has expired", "card_expired")
    ]
    assert rejected(month=12, year=25) == [
        FieldError("exp_year", "card has expired", "card_expired")
    ]


@pytest.mark.parametrize(
    ("number", "cvc", "message"),
    [
        (VISA, "12", "CVC must be 3 digits"),
        (VISA, "1234", "CVC must be 3 digits"),
        (VISA, "12a", "CVC must be 3 digits"),
        (VISA, "", "CVC must be 3 digits"),
        ("378282246310005", "123", "CVC must be 4 digits for amex"),
        ("378282246310005", "12345", "CVC must be 4 digits for amex"),
    ],
)
def test_cvc_format(number: str, cvc: str, message: str) -> None:
    assert rejected(number=number, cvc=cvc) == [FieldError("cvc", message, "invalid_cvc")]


def test_amex_takes_a_four_digit_cvc() -> None:
    assert check_card("378282246310005", 1, 2030, "1234", TODAY).brand == "amex"


def test_every_problem_is_reported_and_no_message_echoes_the_card() -> None:
    with pytest.raises(CardRejected) as caught:
        check_card("4242424242424241", 13, 123, "98", TODAY)
    assert [e.field for e in caught.value.errors] == ["number", "exp_month", "exp_year", "cvc"]
    text = str(caught.value) + repr(caught.value.errors)
    assert "4242424242424241" not in text and "98" not in text


@pytest.mark.parametrize(
    ("number", "behaviour"),
    [
        ("4242424242424242", CardBehaviour.SUCCEEDS),
        ("4000000000000002", CardBehaviour.CARD_DECLINED),
        ("4000000000009995", CardBehaviour.INSUFFICIENT_FUNDS),
        ("4000000000000119", CardBehaviour.PROCESSING_ERROR),
        ("5555555555554444", CardBehaviour.SUCCEEDS),
    ],
)
def test_test_card_behaviour(number: str, behaviour: CardBehaviour) -> None:
    assert behaviour_for(number) is behaviour
    assert check_card(number, 1, 2030, "123", TODAY).behaviour is behaviour
