"""`python -m kafka_restaurants.mailbox`: run the development mailbox in the foreground."""

from kafka_restaurants.mailbox.app import serve
from kafka_restaurants.settings import get_settings

if __name__ == "__main__":
    serve(get_settings())
