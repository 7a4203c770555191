"""Topic names: the contract between producers and consumers."""

ORDER = "order"
ORDER_CONFIRM = "order_confirm"
ORDER_DECLINED = "order_declined"

MAIN_TOPICS = (ORDER, ORDER_CONFIRM, ORDER_DECLINED)


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic that holds messages from `topic` that could not be processed."""
    return f"{topic}.DLQ"


ALL_TOPICS = MAIN_TOPICS + tuple(dead_letter_topic(t) for t in MAIN_TOPICS)
