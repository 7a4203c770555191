"""Secrets, CSRF tokens and security headers for the web process."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from kafka_restaurants.secret_files import shared_secret
from kafka_restaurants.settings import Settings

SECRET_FILE_NAME = "web_secret"
CSRF_COOKIE = "csrf"
CSRF_FIELD = "csrf_token"

# No inline script or style anywhere: htmx is a static file and its indicator styles are off.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def resolve_web_secret(settings: Settings) -> str:
    """CART_SECRET when set; otherwise a random secret shared by every replica via the data dir."""
    if settings.cart_secret:
        return settings.cart_secret
    return shared_secret(settings.data_dir / SECRET_FILE_NAME)


class CsrfTokens:
    """Signed double-submit tokens: a random cookie, and a form field that is its HMAC."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(f"csrf:{secret}".encode()).digest()

    @staticmethod
    def new_cookie_value() -> str:
        """A fresh random value for the CSRF cookie."""
        return secrets.token_urlsafe(24)

    def form_token(self, cookie_value: str) -> str:
        """The token a form must send back alongside the cookie."""
        return hmac.new(self._key, cookie_value.encode(), hashlib.sha256).hexdigest()

    def is_valid(self, cookie_value: str | None, form_token: str | None) -> bool:
        """True when the form token was issued for this browser's cookie."""
        if not cookie_value or not form_token:
            return False
        return hmac.compare_digest(self.form_token(cookie_value), form_token)
