"""Why an order was refused, located like FastAPI's validation errors."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One reason an order was refused and the field it concerns."""

    loc: tuple[str | int, ...]
    msg: str
    type: str = "value_error"

    def as_dict(self) -> dict[str, object]:
        return {"loc": list(self.loc), "msg": self.msg, "type": self.type}


class OrderRejected(Exception):
    """The order cannot be placed as asked; nothing was written."""

    def __init__(self, errors: list[FieldError], status_code: int = 422) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e.loc))}: {e.msg}" for e in errors))
        self.errors = errors
        self.status_code = status_code


class PaymentServiceUnavailable(Exception):
    """The bank could not tokenize the card right now; the customer may try again."""
