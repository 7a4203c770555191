"""Sample events for the payment service's tests."""

from __future__ import annotations

from kafka_restaurants.events import (
    Customer,
    Delivery,
    OrderDetails,
    OrderLine,
    OrderPlaced,
    PaymentToken,
)


def placed(
    order_id: str = "ord_123",
    total: int = 2550,
    currency: str = "EUR",
    token: str = "tok_abc",
    last4: str = "4242",
) -> OrderPlaced:
    """An OrderPlaced for one line whose price is the whole total."""
    return OrderPlaced(
        order_id=order_id,
        order=OrderDetails(
            restaurant_id=7,
            restaurant_name="Trattoria",
            customer=Customer(name="Ada", email="ada@example.com"),
            delivery=Delivery(mode="pickup"),
            items=[
                OrderLine(
                    menu_item_id=1,
                    name="Pizza",
                    quantity=1,
                    unit_price_minor=total,
                    line_total_minor=total,
                )
            ],
            total_minor=total,
            currency=currency,
        ),
        payment=PaymentToken(token=token, brand="visa", last4=last4),
    )
