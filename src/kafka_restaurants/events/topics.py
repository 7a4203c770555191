"""Topic names: the contract between producers and consumers."""

ORDER = "order"
ORDER_CONFIRM = "order_confirm"
ORDER_DECLINED = "order_declined"
# The kitchen's steps for a confirmed order (OrderStatusChanged), keyed by order id.
ORDER_STATUS = "order_status"

MAIN_TOPICS = (ORDER, ORDER_CONFIRM, ORDER_DECLINED, ORDER_STATUS)


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that holds messages from `topic` that could not be processed."""
    return f"{topic}.DLQ"


ALL_TOPICS = MAIN_TOPICS + tuple(dead_letter_topic(t) for t in MAIN_TOPICS)
