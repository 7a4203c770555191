"""Money formatting: integer minor units, one consistent style."""

import pytest

from kafka_restaurants.money import format_money


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (4200, "ILS", "₪42.00"),
        (5, "ILS", "₪0.05"),
        (0, "ILS", "₪0.00"),
        (123456789, "ils", "₪1,234,567.89"),
        (1999, "USD", "$19.99"),
        (1250, "EUR", "€12.50"),
        (1250, "CHF", "12.50 CHF"),
        (500, "JPY", "500 JPY"),
        (1234, "KWD", "1.234 KWD"),
        (-4200, "ILS", "-₪42.00"),
    ],
)
def test_format_money(amount: int, currency: str, expected: str) -> None:
    assert format_money(amount, currency) == expected
