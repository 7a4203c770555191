"""`restaurants up`: bring up Kafka, the databases and every service, in order."""

from __future__ import annotations

import signal
import sys
from typing import NoReturn

from kafka_restaurants.cli.processes import ProcessSpec, service_groups
from kafka_restaurants.cli.supervisor import StartupFailed, Supervisor
from kafka_restaurants.settings import Settings


def _raise_interrupt(signum: int, _frame: object) -> NoReturn:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def prepare_databases(settings: Settings, say: object = print) -> None:
    """Migrate every service's database and load the catalog when it is empty."""
    from kafka_restaurants.api.seed import seed_if_empty
    from kafka_restaurants.db import migrate

    migrate("api", settings.api_db_url)
    migrate("bank", settings.bank_db_url)
    migrate("mailer", settings.mailer_db_url)
    migrate("kitchen", settings.kitchen_db_url)
    written = seed_if_empty(settings.api_db_url)
    if written and callable(say):
        say(f"  catalog       seeded with {written} restaurants")


def kafka_process(settings: Settings) -> ProcessSpec:
    """The managed single-node broker, prepared on disk and ready to launch."""
    from kafka_restaurants.localbroker.broker import KafkaBroker
    from kafka_restaurants.messaging.probe import ClusterProbe

    broker = KafkaBroker.from_settings(settings, fetch_jars=True)
    broker.prepare()
    probe = ClusterProbe(
        settings.bootstrap_servers, cache_seconds=0, security=broker.admin_security()
    )
    return ProcessSpec(
        "kafka",
        broker.command(),
        lambda: probe.reachable(timeout=1.0),
        url=settings.bootstrap_servers,
        ready_timeout=120,
    )


def run_system(settings: Settings) -> int:
    """Run everything in the foreground until Ctrl-C or SIGTERM; returns the exit code."""
    from kafka_restaurants.localbroker.broker import prepare_cluster

    signal.signal(signal.SIGTERM, _raise_interrupt)
    supervisor = Supervisor(settings.data_dir)
    if settings.data_dir.joinpath("run", "supervisor.json").exists():
        settings.data_dir.joinpath("run", "supervisor.json").unlink()
    print(f"Starting Kafka Restaurants (data in {settings.data_dir.resolve()})", flush=True)
    try:
        if settings.manages_kafka:
            supervisor.start_group([kafka_process(settings)])
        # Topics, and on the secured broker each service's principal and ACLs.
        prepare_cluster(settings)
        print(f"  topics        ready  on {settings.bootstrap_servers}", flush=True)
        prepare_databases(settings)
        for group in service_groups(settings):
            supervisor.start_group(group)
        supervisor.state = "ready"
        supervisor.write_state()
        print(
            f"\nReady. Website: http://{settings.host}:{settings.web_port}  "
            f"API: {settings.api_base_url}/docs  Inbox: {settings.mailbox_base_url}\n"
            "Kitchen screens: `restaurants kitchen-link RESTAURANT_ID` prints each link.\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        supervisor.watch(lambda: False, settings.max_restarts, settings.restart_window_seconds)
        return 0
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
        return 0
    except StartupFailed as exc:
        supervisor.state = "failed"
        supervisor.error = str(exc)
        supervisor.write_state()
        print(f"\nStart-up failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        supervisor.stop_all()
