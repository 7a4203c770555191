"""Liveness and readiness: the checks behind /healthz and /readyz (served by service_app)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from kafka_restaurants.api.workers import worker_health
from kafka_restaurants.service_app import Probe

router = APIRouter(tags=["health"])

# Reported, never gating: while Kafka is away the api still takes orders into its outbox.
INFORMATIONAL = ("kafka",)


@router.get("/health")
def health() -> dict[str, str]:
    """The seed's health check: the process answers."""
    return {"status": "ok"}


def alive(request: Request) -> Probe:
    """Alive unless a background worker died and is not coming back."""
    return worker_health(getattr(request.app.state, "workers", []))


def ready(request: Request) -> Probe:
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
    passed = all(value == "ok" for name, value in checks.items() if name not in INFORMATIONAL)
    body = {
        "status": "ready" if passed else "not ready",
        "checks": checks,
        "informational": list(INFORMATIONAL),
    }
    return passed, body
