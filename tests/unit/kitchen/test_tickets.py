"""The kitchen's rules: which step comes next, what a ticket keeps, whose key opens a kitchen."""

import pytest

from kafka_restaurants.events import OrderStep
from kafka_restaurants.kitchen.access import key_matches, kitchen_key
from kafka_restaurants.kitchen.tickets import StepRefused, check_step, ticket_row
from tests.unit.kitchen.samples import confirmed_for, ticket

ACCEPTED, READY, OUT = OrderStep.ACCEPTED, OrderStep.READY, OrderStep.OUT_FOR_DELIVERY


def test_steps_come_in_order_and_pickup_ends_at_ready() -> None:
    assert ticket("pickup").next_step is ACCEPTED
    assert ticket("pickup", ACCEPTED).next_step is READY
    assert ticket("pickup", ACCEPTED, READY).next_step is None
    assert ticket("delivery", ACCEPTED, READY).next_step is OUT
    assert ticket("delivery", ACCEPTED, READY, OUT).step is OUT
    assert ticket("delivery").step is None


def test_the_next_step_is_taken_and_a_repeated_one_is_nothing_to_do() -> None:
    assert check_step(ticket("pickup"), ACCEPTED) is True
    assert check_step(ticket("pickup", ACCEPTED), ACCEPTED) is False
    assert check_step(ticket("delivery", ACCEPTED, READY), OUT) is True


@pytest.mark.parametrize(
    ("mode", "taken", "step", "why"),
    [
        ("pickup", (), READY, "ready comes after accepted"),
        ("delivery", (ACCEPTED,), OUT, "out_for_delivery comes after ready"),
        ("pickup", (ACCEPTED, READY), OUT, "does not apply to a pickup order"),
    ],
)
def test_a_step_out_of_order_is_refused_naming_the_field(
    mode: str, taken: tuple[OrderStep, ...], step: OrderStep, why: str
) -> None:
    with pytest.raises(StepRefused, match=f"^step: .*{why}"):
        check_step(ticket(mode, *taken), step)


def test_a_ticket_keeps_what_to_cook_and_for_whom_but_no_prices_or_email() -> None:
    row = ticket_row(confirmed_for("o-9", 12, delivery=True))
    assert row["order_id"] == "o-9" and row["restaurant_id"] == 12
    assert row["mode"] == "delivery" and row["address"] == "1 Herzl St"
    assert row["items"] == [
        {"name": "Falafel plate", "quantity": 2},
        {"name": "Lemonade", "quantity": 1},
    ]
    assert "dana@example.com" not in str(row)


def test_a_kitchen_key_opens_only_its_own_restaurant() -> None:
    key = kitchen_key("s3cret", 7)
    assert key_matches("s3cret", 7, key)
    assert not key_matches("s3cret", 8, key)
    assert not key_matches("another", 7, key)
    assert not key_matches("s3cret", 7, None)
    assert not key_matches("s3cret", 7, "")
