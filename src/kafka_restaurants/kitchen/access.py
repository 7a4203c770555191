"""Who may open a restaurant's kitchen: holders of its secret link.

The link carries a key, an HMAC of the restaurant id under KITCHEN_SECRET; only the kitchen
holds the secret, so a customer (or another restaurant) cannot make a key for a restaurant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from kafka_restaurants.secret_files import shared_secret
from kafka_restaurants.settings import Settings

SECRET_FILE_NAME = "kitchen_secret"
KEY_HEADER = "X-Kitchen-Key"


def resolve_kitchen_secret(settings: Settings) -> str:
    """KITCHEN_SECRET when set; otherwise a random one made once in DATA_DIR/kitchen_secret."""
    if settings.kitchen_secret is not None:
        return settings.kitchen_secret.get_secret_value()
    return shared_secret(settings.data_dir / SECRET_FILE_NAME)


def kitchen_key(secret: str, restaurant_id: int) -> str:
    """The key in restaurant `restaurant_id`'s kitchen link."""
    digest = hmac.new(secret.encode(), f"kitchen:{restaurant_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


def key_matches(secret: str, restaurant_id: int, key: str | None) -> bool:
    """True when `key` opens this restaurant's kitchen (compared in constant time)."""
    return key is not None and hmac.compare_digest(kitchen_key(secret, restaurant_id), key)


def kitchen_link(settings: Settings, restaurant_id: int) -> str:
    """The kitchen screen's address for one restaurant, key included."""
    key = kitchen_key(resolve_kitchen_secret(settings), restaurant_id)
    return f"{settings.public_base_url}/kitchen/{restaurant_id}?key={key}"
