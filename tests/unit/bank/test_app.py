"""Where the bank's routes run their database work: inline on SQLite, a thread elsewhere."""

from __future__ import annotations

import asyncio
import threading

from starlette.concurrency import run_in_threadpool

from kafka_restaurants.bank.app import database_runner
from kafka_restaurants.db import create_db_engine


def test_sqlite_work_runs_inline_on_the_event_loop_thread() -> None:
    engine = create_db_engine("sqlite://")  # creating an engine connects to nothing

    async def thread_of_the_work() -> tuple[int, int]:
        run_db = database_runner(engine)
        return threading.get_ident(), await run_db(threading.get_ident)

    loop_thread, work_thread = asyncio.run(thread_of_the_work())
    assert work_thread == loop_thread


def test_postgresql_work_runs_on_the_threadpool() -> None:
    engine = create_db_engine("postgresql://bank@127.0.0.1:1/bank")
    assert database_runner(engine) is run_in_threadpool
