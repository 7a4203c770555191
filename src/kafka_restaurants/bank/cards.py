"""Card rules: number format, Luhn, brand, expiry, CVC and the test cards' behaviour.

Everything here is pure so it can be tested without I/O. The card number and CVC only pass
through these functions; what comes out (`VaultedCard`) is what the vault is allowed to keep.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

MIN_DIGITS = 12
MAX_DIGITS = 19


class CardBehaviour(StrEnum):
    """How a card behaves when charged."""

    SUCCEEDS = "succeeds"
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PROCESSING_ERROR = "processing_error"


TEST_CARDS: dict[str, CardBehaviour] = {
    "4242424242424242": CardBehaviour.SUCCEEDS,
    "4000000000000002": CardBehaviour.CARD_DECLINED,
    "4000000000009995": CardBehaviour.INSUFFICIENT_FUNDS,
    "4000000000000119": CardBehaviour.PROCESSING_ERROR,
}


@dataclass(frozen=True)
class FieldError:
    """One reason a card was refused, naming the request field at fault."""

    field: str
    message: str
    type: str


class CardRejected(ValueError):
    """The card details are invalid; `errors` say which fields and why (never their values)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class VaultedCard:
    """What the vault keeps about a card: no number, no CVC."""

    brand: str
    last4: str
    exp_month: int
    exp_year: int
    behaviour: CardBehaviour


def normalise_number(number: str) -> str:
    """The number with the spaces people type between digit groups removed."""
    return "".join(number.split(" "))


def passes_luhn(digits: str) -> bool:
    """True when the digit string's Luhn checksum is valid."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _prefix_in(digits: str, length: int, low: int, high: int) -> bool:
    return len(digits) >= length and low <= int(digits[:length]) <= high


def detect_brand(digits: str) -> str:
    """The card network from the number's prefix (IIN ranges), or "unknown"."""
    if digits.startswith(("34", "37")):
        return "amex"
    if _prefix_in(digits, 2, 51, 55) or _prefix_in(digits, 4, 2221, 2720):
        return "mastercard"
    if digits.startswith("4"):
        return "visa"
    if (
        digits.startswith(("6011", "65"))
        or _prefix_in(digits, 3, 644, 649)
        or _prefix_in(digits, 6, 622126, 622925)
    ):
        return "discover"
    if _prefix_in(digits, 4, 3528, 3589):
        return "jcb"
    if digits.startswith(("36", "38", "39")) or _prefix_in(digits, 3, 300, 305):
        return "diners"
    if digits.startswith("62"):
        return "unionpay"
    return "unknown"


def expected_cvc_length(brand: str) -> int:
    """Amex prints a 4-digit CVC on the front; every other network uses 3 digits."""
    return 4 if brand == "amex" else 3


def full_expiry_year(exp_year: int) -> int | None:
    """A 4-digit year from a 2- or 4-digit one (26 -> 2026), or None when it is neither."""
    if 0 <= exp_year <= 99:
        return 2000 + exp_year
    if 1000 <= exp_year <= 9999:
        return exp_year
    return None


def is_expired(exp_month: int, exp_year: int, today: date) -> bool:
    """A card is valid through the last day of its expiry month."""
    return (exp_year, exp_month) < (today.year, today.month)


def behaviour_for(digits: str) -> CardBehaviour:
    """What charging this card does: the test cards are special, every other card succeeds."""
    return TEST_CARDS.get(digits, CardBehaviour.SUCCEEDS)


def _number_errors(digits: str) -> list[FieldError]:
    if not digits or not digits.isascii() or not digits.isdigit():
        return [FieldError("number", "card number must contain only digits", "invalid_characters")]
    if not MIN_DIGITS <= len(digits) <= MAX_DIGITS:
        return [
            FieldError(
                "number",
                f"card number must have {MIN_DIGITS} to {MAX_DIGITS} digits",
                "invalid_length",
            )
        ]
    if not passes_luhn(digits):
        return [FieldError("number", "card number fails the Luhn check", "luhn_check_failed")]
    return []


def _expiry_errors(exp_month: int, exp_year: int, today: date) -> list[FieldError]:
    errors = []
    if not 1 <= exp_month <= 12:
        errors.append(FieldError("exp_month", "expiry month must be 1 to 12", "out_of_range"))
    year = full_expiry_year(exp_year)
    if year is None:
        errors.append(
            FieldError("exp_year", "expiry year must have 2 or 4 digits", "invalid_format")
        )
    if errors or year is None:
        return errors
    if is_expired(exp_month, year, today):
        # Blame the month when only the month is in the past, so the message points at it.
        field = "exp_year" if year < today.year else "exp_month"
        return [FieldError(field, "card has expired", "card_expired")]
    return []


def _cvc_errors(cvc: str, brand: str) -> list[FieldError]:
    length = expected_cvc_length(brand)
    if len(cvc) != length or not cvc.isascii() or not cvc.isdigit():
        message = f"CVC must be {length} digits" + (" for amex" if brand == "amex" else "")
        return [FieldError("cvc", message, "invalid_cvc")]
    return []


def check_card(number: str, exp_month: int, exp_year: int, cvc: str, today: date) -> VaultedCard:
    """Validate a card and return what may be stored about it; raise CardRejected otherwise."""
    digits = normalise_number(number)
    brand = detect_brand(digits) if digits.isascii() and digits.isdigit() else "unknown"
    errors = [
        *_number_errors(digits),
        *_expiry_errors(exp_month, exp_year, today),
        *_cvc_errors(cvc, brand),
    ]
    if errors:
        raise CardRejected(errors)
    year = full_expiry_year(exp_year)
    assert year is not None  # checked above
    return VaultedCard(
        brand=brand,
        last4=digits[-4:],
        exp_month=exp_month,
        exp_year=year,
        behaviour=behaviour_for(digits),
    )
