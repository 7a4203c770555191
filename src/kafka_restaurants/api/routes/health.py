"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from kafka_restaurants.api.workers import worker_health

router = APIRouter(tags=["health"])

# Reported, never gating: while Kafka is away the api still takes orders into its outbox.
INFORMATIONAL = ("kafka",)


@router.get("/health")
def health() -> dict[str, str]:
    """The seed's health check: the process answers."""
    return {"status": "ok"}


@router.get(
    "/healthz",
    responses={503: {"description": "A background worker died and is not coming back"}},
)
def healthz(request: Request) -> JSONResponse:
    """Alive unless a background worker died and is not coming back."""
    alive, body = worker_health(getattr(request.app.state, "workers", []))
    return JSONResponse(body, status_code=200 if alive else 503)


@router.get("/readyz", responses={503: {"description": "The database does not answer"}})
def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers; Kafka's reachability is reported, not required."""
    checks: dict[str, str] = {}
    try:
        with request.app.state.sessions() as session:
            session.execute(text("select 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    kafka = request.app.state.kafka_reachable.answer()
    checks["kafka"] = "unknown" if kafka is None else "ok" if kafka else "unreachable"
    ready = all(value == "ok" for name, value in checks.items() if name not in INFORMATIONAL)
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "informational": list(INFORMATIONAL),
        },
        status_code=200 if ready else 503,
    )
