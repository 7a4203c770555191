"""`python -m kafka_restaurants.mailer`: run the confirmation mailer in the foreground."""

from kafka_restaurants.mailer.app import serve
from kafka_restaurants.settings import get_settings

if __name__ == "__main__":
    serve(get_settings())
