"""OrderConfirmed events for mailer tests."""

from __future__ import annotations

from kafka_restaurants.events import Customer, Delivery, OrderConfirmed, OrderDetails, OrderLine


def confirmed(
    order_id: str = "0f8fad5b-d9cb-469f-a165-70867728950e",
    *,
    restaurant: str = "Falafel Haifa",
    name: str = "Dana Levi",
    email: str = "dana@example.com",
    delivery: Delivery | None = None,
    currency: str = "ILS",
) -> OrderConfirmed:
    """A confirmed order of two lines: 2 x Falafel plate (42.00) and 1 x Lemonade (12.50)."""
    items = [
        OrderLine(
            menu_item_id=1,
            name="Falafel plate",
            quantity=2,
            unit_price_minor=2100,
            line_total_minor=4200,
        ),
        OrderLine(
            menu_item_id=2,
            name="Lemonade",
            quantity=1,
            unit_price_minor=1250,
            line_total_minor=1250,
        ),
    ]
    return OrderConfirmed(
        order_id=order_id,
        charge_id="ch_123",
        order=OrderDetails(
            restaurant_id=7,
            restaurant_name=restaurant,
            customer=Customer(name=name, email=email),
            delivery=delivery or Delivery(mode="delivery", address="12 Herzl St, Haifa"),
            items=items,
            total_minor=5450,
            currency=currency,
        ),
    )
