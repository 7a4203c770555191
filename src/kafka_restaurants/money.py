"""Money shown to people: integer minor units plus an ISO 4217 code, never floats."""

from __future__ import annotations

# Symbols we print before the amount; any other currency reads "12.50 CHF".
_SYMBOLS = {"ILS": "₪", "USD": "$", "EUR": "€", "GBP": "£"}
# Currencies whose minor unit is not a hundredth.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "BHD": 3, "KWD": 3, "JOD": 3, "OMR": 3, "TND": 3}


def format_money(amount_minor: int, currency: str) -> str:
    """Format integer minor units for display: 4200 ILS -> "₪42.00", 1250 CHF -> "12.50 CHF"."""
    code = currency.upper()
    exponent = _EXPONENTS.get(code, 2)
    sign = "-" if amount_minor < 0 else ""
    units, minor = divmod(abs(int(amount_minor)), 10**exponent)
    number = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    symbol = _SYMBOLS.get(code)
    if symbol:
        return f"{sign}{symbol}{number}"
    return f"{sign}{number} {code}"
