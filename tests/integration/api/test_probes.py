"""Readiness follows the database, not Kafka: while Kafka is away the api takes orders into its
outbox, so it must stay in the load balancer's rotation."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, make_url, text

from kafka_restaurants.api.app import create_app
from kafka_restaurants.settings import Settings
from tests.fixtures.components import wait_for
from tests.integration.api.conftest import api_settings, seed_small_catalog


def test_ready_while_kafka_is_unreachable(database_url: str) -> None:
    seed_small_catalog(database_url)
    # Port 1 is closed: the relay and the order-status consumer run, and find no Kafka.
    settings = Settings.model_validate(
        {"DATABASE_URL": database_url, "BOOTSTRAP_SVR": "127.0.0.1:1", "API_WORKERS": "true"}
    )
    with TestClient(create_app(settings)) as api:
        statuses: list[int] = []

        def kafka_reported_unreachable() -> bool:
            response = api.get("/readyz")
            statuses.append(response.status_code)
            return bool(response.json()["checks"]["kafka"] == "unreachable")

        wait_for(kafka_reported_unreachable, timeout=30, what="/readyz to report Kafka down")
        assert set(statuses) == {200}
        body = api.get("/readyz").json()
        assert body["status"] == "ready"
        assert body["checks"] == {"database": "ok", "kafka": "unreachable"}
        assert body["informational"] == ["kafka"]
        health = api.get("/healthz")
        assert health.status_code == 200
        assert health.json()["workers"] == {
            "outbox_relay": "running",
            "order_status": "running",
            "reconciler": "running",
        }
        assert api.get("/health").json() == {"status": "ok"}


class DatabaseGate:
    """Turns a PostgreSQL database's connections off (dropping the open ones) and on again."""

    def __init__(self, server_url: str, database_url: str) -> None:
        self.name = make_url(database_url).database
        self.admin = create_engine(server_url, isolation_level="AUTOCOMMIT")

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.name},
            )

    def open(self) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true'))


def test_not_ready_while_the_database_does_not_answer(
    postgres_server: str, postgres_url: str
) -> None:
    seed_small_catalog(postgres_url)
    database = DatabaseGate(postgres_server, postgres_url)
    try:
        with TestClient(create_app(api_settings(postgres_url))) as api:
            assert api.get("/readyz").status_code == 200
            database.close()
            response = api.get("/readyz")
            assert response.status_code == 503, response.text
            assert response.json()["status"] == "not ready"
            assert response.json()["checks"]["database"] == "unreachable: OperationalError"
            # Alive all the same: restarting the process would not bring the database back.
            assert api.get("/healthz").status_code == 200
            database.open()
            wait_for(lambda: api.get("/readyz").status_code == 200, what="ready again")
    finally:
        database.open()
        database.admin.dispose()
