"""Composition root of the web process: the customer-facing site, one stateless replica."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from kafka_restaurants.observability import configure_logging
from kafka_restaurants.service_app import service_app
from kafka_restaurants.settings import Settings
from kafka_restaurants.tls import https_verify, server_tls
from kafka_restaurants.web import routes_cart, routes_catalog, routes_kitchen, routes_orders
from kafka_restaurants.web.api_client import ApiClient, ApiNotFound, ApiUnavailable, default_timeout
from kafka_restaurants.web.cart import CartCookie
from kafka_restaurants.web.checkout import PlacedOrdersCookie
from kafka_restaurants.web.kitchen_client import KitchenClient, KitchenDenied, KitchenUnavailable
from kafka_restaurants.web.pages import (
    STATIC_DIR,
    CsrfRejected,
    WebContext,
    build_templates,
    is_fragment_request,
    render,
)
from kafka_restaurants.web.security import (
    CSRF_COOKIE,
    SECURITY_HEADERS,
    CsrfTokens,
    resolve_web_secret,
)

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    replica_name: str | None = None,
    api_transport: httpx.AsyncBaseTransport | None = None,
    kitchen_transport: httpx.AsyncBaseTransport | None = None,
) -> FastAPI:
    """Build the web app. The transports let tests talk to in-process api and kitchen apps."""
    secret = resolve_web_secret(settings)
    context = WebContext(
        settings=settings,
        templates=build_templates(settings),
        cart_cookie=CartCookie(secret),
        placed_cookie=PlacedOrdersCookie(secret),
        csrf=CsrfTokens(secret),
        replica_name=replica_name or settings.web_replica_name or socket.gethostname(),
        secure_cookies=settings.public_base_url.startswith("https://"),
    )

    def backend(base_url: str, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        """A client of a service behind the website: the same timeouts and CA for each."""
        return httpx.AsyncClient(
            base_url=base_url,
            timeout=default_timeout(),
            transport=transport,
            verify=https_verify(settings.tls_ca_file),
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            backend(settings.api_base_url, api_transport) as http,
            backend(settings.kitchen_base_url, kitchen_transport) as kitchen_http,
        ):
            context.api = ApiClient(http)
            context.kitchen = KitchenClient(kitchen_http)
            yield
            context.api = None
            context.kitchen = None

    # Ready as soon as it serves (the default probes): pages degrade to a friendly 503 while
    # the api is away.
    app = service_app(
        "web",
        title="Kafka Restaurants web",
        routers=[
            routes_catalog.router,
            routes_cart.router,
            routes_orders.router,
            routes_kitchen.router,
        ],
        lifespan=lifespan,
        security_headers=SECURITY_HEADERS,
        documented=False,
    )
    app.state.web = context
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.middleware("http")
    async def replica_cache_and_cookies(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        response.headers["X-Served-By"] = context.replica_name
        if request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=86400"
        else:
            # Pages carry per-browser carts and tokens: never cache them in shared caches.
            response.headers["Cache-Control"] = "no-store"
        if getattr(request.state, "csrf_cookie_is_new", False):
            response.set_cookie(
                CSRF_COOKIE,
                request.state.csrf_cookie,
                path="/",
                httponly=True,
                samesite="lax",
                secure=context.secure_cookies,
            )
        return response

    _add_error_pages(app)
    return app


ErrorPageHandler = Callable[[Request, Exception], Awaitable[HTMLResponse]]


def _add_error_pages(app: FastAPI) -> None:
    """Friendly pages (or fragments, for htmx) instead of stack traces."""

    def error_page(request: Request, status_code: int, kind: str) -> HTMLResponse:
        fragment = is_fragment_request(request)
        template = "_error_fragment.html" if fragment else "error.html"
        context = {"kind": kind, "status_code": status_code, "fragment": fragment}
        return render(request, template, context, status_code=status_code)

    def unavailable(service: str) -> ErrorPageHandler:
        """503 with Retry-After: a service behind the website (api, kitchen) did not answer."""

        async def handler(request: Request, exc: Exception) -> HTMLResponse:
            log.warning(
                "%s unavailable for %s %s: %s", service, request.method, request.url.path, exc
            )
            response = error_page(request, 503, f"{service}_unavailable")
            response.headers["Retry-After"] = "5"
            return response

        return handler

    app.add_exception_handler(ApiUnavailable, unavailable("api"))
    app.add_exception_handler(KitchenUnavailable, unavailable("kitchen"))

    def page(status_code: int, kind: str) -> ErrorPageHandler:
        """The error page of `kind`, and nothing else to do."""

        async def handler(request: Request, exc: Exception) -> HTMLResponse:
            return error_page(request, status_code, kind)

        return handler

    app.add_exception_handler(KitchenDenied, page(403, "kitchen_denied"))
    app.add_exception_handler(ApiNotFound, page(404, "not_found"))
    # Only typed path parameters can fail validation here, e.g. /restaurants/abc.
    app.add_exception_handler(RequestValidationError, page(404, "not_found"))

    @app.exception_handler(CsrfRejected)
    async def csrf_rejected(request: Request, exc: CsrfRejected) -> HTMLResponse:
        log.info("rejected a %s to %s without a valid CSRF token", request.method, request.url.path)
        return error_page(request, 403, "csrf")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        kind = {404: "not_found", 405: "not_allowed"}.get(exc.status_code, "error")
        return error_page(request, exc.status_code, kind)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> HTMLResponse:
        log.exception("unexpected error for %s %s", request.method, request.url.path)
        return error_page(request, 500, "error")


def serve(settings: Settings, port: int, replica_name: str | None = None) -> None:
    """Run one web replica with uvicorn on settings.host:port (the supervisor runs several).

    The replica's name (the X-Served-By header) is `replica_name`, else WEB_REPLICA_NAME,
    else host:port.
    """
    import uvicorn

    name = replica_name or settings.web_replica_name or f"{socket.gethostname()}:{port}"
    configure_logging(settings.log_level, settings.log_format, "web")
    uvicorn.run(
        create_app(settings, replica_name=name),
        host=settings.host,
        port=port,
        log_level=settings.log_level.lower(),
        # The browser's address (behind the load balancer) is what the api rate-limits by.
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
        log_config=None,  # uvicorn's lines go through our handler (JSON in files)
        **server_tls(settings),  # type: ignore[arg-type]  # HTTPS with TLS_CERT_FILE/KEY_FILE
    )
