"""The PostgreSQL server the tests and the chaos run start: a crash keeps every commit."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from kafka_restaurants.bench.postgres import LocalPostgres, postgres_bin
from kafka_restaurants.chaos.faults import DatabaseOutage, Injected, inject
from kafka_restaurants.chaos.schedule import DISRUPT, Fault
from tests.fixtures.components import require


def test_a_crashed_server_refuses_connections_then_starts_with_every_commit() -> None:
    require(postgres_bin("postgres") is not None, "PostgreSQL server binaries")
    server = LocalPostgres()
    try:
        url = server.start()
        engine = create_engine(url, pool_pre_ping=True)
        with engine.begin() as conn:
            conn.execute(text("create table paid (id int primary key)"))
            conn.execute(text("insert into paid select generate_series(1, 500)"))
        server.crash()
        assert not server.running
        with pytest.raises(OperationalError), engine.connect() as conn:
            conn.execute(text("select 1"))
        assert server.start() == url  # same port: clients reconnect to the address they know
        with engine.connect() as conn:
            assert conn.execute(text("select count(*) from paid")).scalar() == 500
        engine.dispose()
    finally:
        server.remove()
    assert not server.dir.exists()


def test_the_chaos_database_outage_refuses_connections_for_its_duration() -> None:
    require(postgres_bin("postgres") is not None, "PostgreSQL server binaries")
    server = LocalPostgres()
    try:
        engine = create_engine(server.start(), pool_pre_ping=True)
        fault = Fault(0, "database outage", DISRUPT, "postgresql", duration=1.0)
        refused: list[bool] = []

        async def outage_seen_from_a_client() -> Injected:
            injecting = asyncio.create_task(
                inject(fault, dict, {"postgresql": DatabaseOutage(server)})
            )
            while server.running:  # the crash has not happened yet
                await asyncio.sleep(0.01)
            try:
                with engine.connect():
                    refused.append(False)
            except OperationalError:
                refused.append(True)
            return await injecting

        done = asyncio.run(outage_seen_from_a_client())
        assert refused == [True]
        assert done.done and done.pid > 0 and done.ended - done.started >= 1.0, done
        with engine.connect() as conn:  # up again once the fault is over
            assert conn.execute(text("select 1")).scalar() == 1
        engine.dispose()
    finally:
        server.remove()
