"""One factory for every HTTP process: probes, metrics, tracing, error redaction, headers.

Each process (api, bank, web, mailbox, and the health servers of the Kafka consumers) builds
its app with `service_app` and adds only its own routers, checks and exception handlers:

    app = service_app("bank", title="...", routers=[routes.router], ready=database_ready)

What every app then has, in one place:
- `GET /healthz` (alive) and `GET /readyz` (ready), each answering a `Probe` of the process's
  own check: 200 with its body, or 503 with it when the check fails;
- `GET /metrics` (Prometheus), one server span per request, request metrics (`instrument_app`);
- 422 bodies without `input`/`ctx`, which would echo card numbers, CVCs and emails back;
- optional security headers, added by plain ASGI middleware (no extra task per request).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, cast

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kafka_restaurants.observability import SERVER_TELEMETRY, instrument_app

# (passed, body): what a probe answers, 200 when it passed, 503 when not.
Probe = tuple[bool, dict[str, Any]]
ProbeCheck = Callable[[Request], Probe | Awaitable[Probe]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def alive(_request: Request) -> Probe:
    """The default liveness: the process answers."""
    return True, {"status": "ok"}


def ready_when_serving(_request: Request) -> Probe:
    """The default readiness: ready as soon as it serves."""
    return True, {"status": "ready"}


class SecurityHeaders:
    """ASGI middleware adding `headers` to every HTTP response that lacks them.

    Plain ASGI rather than @app.middleware("http"): that one runs every request in an extra
    task with streams in between, a large share of a cheap request's CPU.
    """

    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = dict(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def redacted_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """A validation error's `detail` without `input` and `ctx` (they echo what was sent)."""
    return [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]


async def redacted_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's usual 422, minus the values the client sent."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": redacted_errors(exc)}, status_code=422)


def probe_endpoint(check: ProbeCheck) -> Callable[[Request], Awaitable[JSONResponse]]:
    """An endpoint answering `check`'s probe: 200 with its body when it passed, else 503."""

    async def probe(request: Request) -> JSONResponse:
        # A plain function may block (a database query): it runs on the threadpool, as FastAPI
        # runs a plain `def` route.
        if inspect.iscoroutinefunction(check):
            passed, body = await check(request)
        else:
            passed, body = cast(Probe, await run_in_threadpool(check, request))
        return JSONResponse(body, status_code=200 if passed else 503)

    return probe


def probes(alive_check: ProbeCheck, ready_check: ProbeCheck, *, documented: bool) -> APIRouter:
    """/healthz and /readyz answering the checks' probes (a 503 is documented when possible)."""
    router = APIRouter(tags=["health"])
    for path, check, summary in (
        ("/healthz", alive_check, "Liveness"),
        ("/readyz", ready_check, "Readiness"),
    ):
        can_fail = check not in (alive, ready_when_serving)
        router.add_api_route(
            path,
            probe_endpoint(check),
            methods=["GET"],
            summary=summary,
            include_in_schema=documented,
            responses={503: {"description": "The check failed; the body says which part"}}
            if can_fail
            else None,
        )
    return router


def service_app(
    name: str,
    *,
    title: str,
    routers: Sequence[APIRouter] = (),
    lifespan: Lifespan | None = None,
    alive_check: ProbeCheck = alive,
    ready_check: ProbeCheck = ready_when_serving,
    security_headers: Mapping[str, str] | None = None,
    middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
    documented: bool = True,
    **fastapi: Any,
) -> FastAPI:
    """The app of the process called `name` (its metrics and traces carry that name).

    `middleware` runs inside the metrics and tracing middleware (so what it refuses is still
    counted and traced) and outside routing. `documented=False` serves no OpenAPI document
    or docs pages (the website, the health servers). Other keywords go to FastAPI().
    """
    if not documented:
        fastapi |= {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title=title, lifespan=lifespan, telemetry=SERVER_TELEMETRY, **fastapi)
    app.add_exception_handler(RequestValidationError, redacted_validation_error)
    app.include_router(probes(alive_check, ready_check, documented=documented))
    for router in routers:
        app.include_router(router)
    for layer in middleware:
        app.add_middleware(layer)
    if security_headers:
        app.add_middleware(SecurityHeaders, headers=security_headers)
    return instrument_app(app, name)
