"""Kafka Restaurants: search, order, pay and confirm over Apache Kafka."""

__version__ = "0.1.0"
