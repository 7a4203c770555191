"""What every route shares: the process context, page rendering, cookies and CSRF checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from kafka_restaurants.money import format_money
from kafka_restaurants.settings import Settings
from kafka_restaurants.web.api_client import ApiClient
from kafka_restaurants.web.cart import COOKIE_MAX_AGE, COOKIE_NAME, Cart, CartCookie
from kafka_restaurants.web.checkout import PlacedOrdersCookie
from kafka_restaurants.web.kitchen_client import KitchenClient
from kafka_restaurants.web.orders import status_word, step_word
from kafka_restaurants.web.security import CSRF_COOKIE, CSRF_FIELD, CsrfTokens

PACKAGE_DIR = Path(__file__).parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"


# The id of every page's <main>: an htmx request aimed at it gets whole pages back.
WHOLE_PAGE_TARGET = "main"


class CsrfRejected(Exception):
    """A POST came without a valid CSRF token (expired page, or another site's form)."""


@dataclass
class WebContext:
    """Everything a request handler needs, built once by create_app."""

    settings: Settings
    templates: Jinja2Templates
    cart_cookie: CartCookie
    placed_cookie: PlacedOrdersCookie
    csrf: CsrfTokens
    replica_name: str
    secure_cookies: bool
    api: ApiClient | None = None  # set when the app starts, closed when it stops
    kitchen: KitchenClient | None = None  # likewise


def build_templates(settings: Settings) -> Jinja2Templates:
    """Jinja2 with autoescaping everywhere, and the helpers the templates use."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        for path in STATIC_DIR.iterdir()
        if path.is_file()
    }
    env.globals["static_url"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
    env.globals["mailbox_url"] = settings.mailbox_base_url if settings.mailbox_enabled else None
    env.filters["money"] = format_money
    env.filters["status_word"] = status_word
    env.filters["step_word"] = step_word
    return Jinja2Templates(env=env)


def web(request: Request) -> WebContext:
    """The process context for this request."""
    context: WebContext = request.app.state.web
    return context


def api(request: Request) -> ApiClient:
    """The api client; only None before startup, which a request never sees."""
    client = web(request).api
    if client is None:
        raise RuntimeError("the web app has not started")
    return client


def kitchen(request: Request) -> KitchenClient:
    """The kitchen client; only None before startup, which a request never sees."""
    client = web(request).kitchen
    if client is None:
        raise RuntimeError("the web app has not started")
    return client


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    cart: Cart | None = None,
) -> HTMLResponse:
    """Render a page (or fragment) with the shared context every template may use."""
    ctx = web(request)
    current = cart if cart is not None else current_cart(request)
    full = {
        "request": request,
        "csrf_token": ctx.csrf.form_token(csrf_cookie_value(request)),
        "csrf_field": CSRF_FIELD,
        "cart_count": current.item_count,
        "replica_name": ctx.replica_name,
        **(context or {}),
    }
    return ctx.templates.TemplateResponse(request, template, full, status_code=status_code)


def render_text(request: Request, template: str, context: dict[str, Any]) -> str:
    """A fragment rendered to text (for a Server-Sent Event), with the shared context."""
    return bytes(render(request, template, context).body).decode("utf-8")


def is_htmx_request(request: Request) -> bool:
    """True for a request htmx made (not a history restore, which wants the whole page)."""
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def is_fragment_request(request: Request) -> bool:
    """True for an htmx request that wants a fragment rather than a whole page.

    One that targets `main` (the checkout form) swaps in the `main` of a whole page.
    """
    return is_htmx_request(request) and request.headers.get("HX-Target") != WHOLE_PAGE_TARGET


def current_cart(request: Request) -> Cart:
    """The cart in this request's cookie (empty when missing or tampered)."""
    return web(request).cart_cookie.loads(request.cookies.get(COOKIE_NAME))


def save_cart(request: Request, response: Response, cart: Cart) -> None:
    """Write `cart` back to the browser, or clear the cookie when it is empty."""
    ctx = web(request)
    if cart.is_empty:
        response.delete_cookie(COOKIE_NAME, path="/", samesite="lax")
        return
    response.set_cookie(
        COOKIE_NAME,
        ctx.cart_cookie.dumps(cart),
        max_age=COOKIE_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
    )


def csrf_cookie_value(request: Request) -> str:
    """This browser's CSRF cookie value; the middleware issues one on the first visit."""
    value = getattr(request.state, "csrf_cookie", None) or request.cookies.get(CSRF_COOKIE)
    if not value:
        value = CsrfTokens.new_cookie_value()
        request.state.csrf_cookie = value
        request.state.csrf_cookie_is_new = True
    return str(value)


async def checked_form(request: Request) -> FormData:
    """The POSTed form, once its CSRF token matches this browser's cookie."""
    form = await request.form()
    token = form.get(CSRF_FIELD)
    cookie = request.cookies.get(CSRF_COOKIE)
    if not web(request).csrf.is_valid(cookie, token if isinstance(token, str) else None):
        raise CsrfRejected
    return form


def form_int(form: FormData, key: str, default: int | None = None) -> int | None:
    """An integer form field, or `default` when missing or not a number."""
    value = form.get(key)
    try:
        return int(str(value).strip()) if value is not None else default
    except ValueError:
        return default
