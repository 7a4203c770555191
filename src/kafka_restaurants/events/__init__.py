"""Event schemas and topic names shared by every process."""

from kafka_restaurants.events.codec import InvalidEvent, decode, decode_on_topic, encode
from kafka_restaurants.events.models import (
    FINAL_STATUSES,
    PAYMENT_FAILED,
    Customer,
    Delivery,
    Event,
    OrderConfirmed,
    OrderDeclined,
    OrderDetails,
    OrderLine,
    OrderPlaced,
    OrderStatus,
    OrderStatusChanged,
    OrderStep,
    PaymentToken,
)
from kafka_restaurants.events.topics import (
    ALL_TOPICS,
    ORDER,
    ORDER_CONFIRM,
    ORDER_DECLINED,
    ORDER_STATUS,
    dead_letter_topic,
)

__all__ = [
    "ALL_TOPICS",
    "FINAL_STATUSES",
    "ORDER",
    "ORDER_CONFIRM",
    "ORDER_DECLINED",
    "ORDER_STATUS",
    "PAYMENT_FAILED",
    "Customer",
    "Delivery",
    "Event",
    "InvalidEvent",
    "OrderConfirmed",
    "OrderDeclined",
    "OrderDetails",
    "OrderLine",
    "OrderPlaced",
    "OrderStatus",
    "OrderStatusChanged",
    "OrderStep",
    "PaymentToken",
    "dead_letter_topic",
    "decode",
    "decode_on_topic",
    "encode",
]
