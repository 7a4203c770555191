"""The `restaurants` command: run, stop and inspect the system, seed it, serve one process."""

from __future__ import annotations

import contextlib
import importlib
import os
import signal
import subprocess
import sys
import time
from typing import Annotated

import typer

from kafka_restaurants.settings import Settings, get_settings

app = typer.Typer(
    help="Kafka Restaurants: search, order, pay and confirm over Apache Kafka.",
    no_args_is_help=True,
    add_completion=False,
)


def _settings() -> Settings:
    return get_settings()


@app.command()
def setup() -> None:
    """Check Java and Maven and fetch the Kafka broker jars (cheap when already done)."""
    from kafka_restaurants.localbroker.broker import (
        MissingPrerequisite,
        check_prerequisites,
        ensure_kafka_jars,
    )

    settings = _settings()
    if not settings.manages_kafka:
        typer.echo(f"Using the Kafka cluster at {settings.bootstrap_svr}; no broker jars needed.")
        return
    try:
        check_prerequisites()
        lib = ensure_kafka_jars(settings.kafka_version)
    except MissingPrerequisite as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"Kafka {settings.kafka_version} jars ready in {lib}")


@app.command()
def up(
    detach: Annotated[
        bool, typer.Option("--detach", "-d", help="Start in the background; return once ready.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness (detach).")] = 300,
    secure: Annotated[
        bool,
        typer.Option(
            "--secure",
            help="Run the managed Kafka broker with SASL_SSL, SCRAM and ACLs, one principal "
            "per service (KAFKA_SECURE=true does the same).",
        ),
    ] = False,
) -> None:
    """Run the whole system; Ctrl-C stops all of it. With --detach, return once ready."""
    from kafka_restaurants.cli.supervisor import read_state

    settings = _settings()
    if secure:
        if not settings.manages_kafka:
            typer.echo(
                f"--secure secures the managed broker, but BOOTSTRAP_SVR={settings.bootstrap_svr} "
                "names a cluster of your own: set KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* and "
                "KAFKA_SSL_CA_LOCATION for it instead.",
                err=True,
            )
            raise typer.Exit(2)
        settings = settings.model_copy(update={"kafka_secure": True})
    state = read_state(settings.data_dir)
    if state is not None:
        typer.echo(f"Already running (supervisor pid {state['pid']}); see `restaurants status`.")
        raise typer.Exit(1)
    if not detach:
        from kafka_restaurants.cli.system import run_system

        raise typer.Exit(run_system(settings))
    _start_detached(settings, timeout)


def _start_detached(settings: Settings, timeout: float) -> None:
    from kafka_restaurants.cli.supervisor import log_tail, read_state

    log_dir = settings.data_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "supervisor.log"
    with log_path.open("ab") as log_file:
        command = [sys.executable, "-m", "kafka_restaurants.cli.main", "up"]
        if settings.kafka_secure:
            command.append("--secure")
        child = subprocess.Popen(
            command,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.poll() is not None:
            typer.echo(
                f"Start-up failed. Last lines of {log_path}:\n{log_tail(log_path)}", err=True
            )
            raise typer.Exit(1)
        state = read_state(settings.data_dir)
        if state and state.get("state") == "ready":
            typer.echo(f"Kafka Restaurants is up (supervisor pid {child.pid}).")
            for process in state["processes"]:
                typer.echo(f"  {process['name']:<13} pid {process['pid']:<8} {process['url']}")
            return
        time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    typer.echo(f"Not ready after {timeout:.0f}s. Last lines of {log_path}:\n{log_tail(log_path)}")
    raise typer.Exit(1)


@app.command()
def down(timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 90) -> None:
    """Stop the system that `up --detach` started."""
    from kafka_restaurants.cli.supervisor import pid_alive, read_state

    settings = _settings()
    state = read_state(settings.data_dir)
    if state is None:
        typer.echo("Not running.")
        return
    pid = int(state["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        typer.echo(f"Supervisor {pid} did not stop in {timeout:.0f}s.", err=True)
        raise typer.Exit(1)
    typer.echo("Stopped.")


@app.command()
def status() -> None:
    """Show each process: pid, whether it is alive, where it listens."""
    from kafka_restaurants.cli.supervisor import pid_alive, read_state

    settings = _settings()
    state = read_state(settings.data_dir)
    if state is None:
        typer.echo("Not running.")
        raise typer.Exit(3)
    typer.echo(f"supervisor    pid {state['pid']:<8} {state['state']}")
    for process in state["processes"]:
        alive = "running" if pid_alive(int(process["pid"])) else "DEAD"
        typer.echo(f"{process['name']:<13} pid {process['pid']:<8} {alive:<8} {process['url']}")


@app.command()
def logs(
    process: Annotated[
        str | None,
        typer.Argument(help="api, bank, transactions, mailer, mailbox, web (every replica)..."),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing lines as they are written.")
    ] = False,
    raw: Annotated[bool, typer.Option(help="Print JSON lines as they are.")] = False,
) -> None:
    """Print DATA_DIR/log/PROCESS.log; with no PROCESS, every log interleaved by time."""
    from kafka_restaurants.observability.logfiles import (
        complete_lines,
        interleave,
        log_files,
        render,
    )
    from kafka_restaurants.observability.logfiles import follow as follow_logs

    log_dir = _settings().data_dir / "log"
    files = log_files(log_dir, process)
    if not files and not (follow and process is None):
        known = ", ".join(log_files(log_dir)) or "none yet"
        typer.echo(f"No log for {process or 'any process'} in {log_dir} (there are: {known}).")
        raise typer.Exit(2)
    width = max((len(name) for name in files), default=0) if len(files) > 1 else 0
    # Read up to where each file ends now; --follow goes on from exactly there.
    read_to: dict[str, int] = {}
    sizes = {name: path.stat().st_size for name, path in files.items()}
    lines = {name: complete_lines(path, sizes[name], read_to) for name, path in files.items()}
    for line in interleave(lines):
        typer.echo(render(line, raw, width))
    if follow:
        width = width or (0 if process else 12)
        with contextlib.suppress(KeyboardInterrupt):
            follow_logs(
                log_dir,
                process,
                lambda line: typer.echo(render(line, raw, width)),
                offsets=read_to,
            )


@app.command()
def migrate() -> None:
    """Bring every service's database schema up to date."""
    from kafka_restaurants.cli.system import prepare_databases

    prepare_databases(_settings())
    typer.echo("Databases migrated.")


@app.command()
def seed(
    restaurants: Annotated[
        int | None,
        typer.Option(help="Total restaurants: the hand-written ones plus generated ones."),
    ] = None,
    replace: Annotated[bool, typer.Option(help="Delete the current catalog first.")] = False,
) -> None:
    """Load the catalog; with --restaurants N, generate a large deterministic one."""
    from rich.progress import Progress

    from kafka_restaurants.api.seed import CatalogNotEmpty, seed_catalog
    from kafka_restaurants.db import migrate as run_migrations

    settings = _settings()
    run_migrations("api", settings.api_db_url)
    with Progress(transient=False) as progress:
        task = progress.add_task("Seeding restaurants", total=restaurants or None)
        try:
            written = seed_catalog(
                settings.api_db_url,
                restaurants,
                replace=replace,
                progress=lambda n: progress.advance(task, n),
            )
        except CatalogNotEmpty as exc:
            typer.echo(f"Not seeded: {exc}", err=True)
            raise typer.Exit(1) from exc
    typer.echo(f"Seeded {written} restaurants.")


@app.command()
def topics() -> None:
    """Create the topics (and their dead-letter topics) on the configured cluster."""
    from kafka_restaurants.localbroker.broker import (
        create_topics,
        describe_topics,
        operator_security,
    )

    settings = _settings()
    security = operator_security(settings)
    create_topics(
        settings.bootstrap_servers,
        settings.order_partitions,
        settings.topic_partitions,
        security=security,
    )
    topics = describe_topics(settings.bootstrap_servers, security=security)
    for name, partitions in sorted(topics.items()):
        typer.echo(f"{name:<22} {partitions} partitions")


@app.command()
def chaos(
    quick: Annotated[
        bool, typer.Option("--quick", help="15 orders/s, each fault once (CHAOS_QUICK=1).")
    ] = False,
) -> None:
    """Start a system of its own, load it with orders, crash and pause its processes on a
    printed schedule, then audit every order; bench/results/chaos-latest.{json,md}."""
    from kafka_restaurants.chaos.__main__ import main as run

    if quick:
        os.environ["CHAOS_QUICK"] = "1"
    raise typer.Exit(run())


dlq_app = typer.Typer(help="Inspect and replay dead letters (messages no consumer could handle).")
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    topic: Annotated[str, typer.Argument(help="The consumed topic, e.g. order")],
) -> None:
    """Show each dead letter of TOPIC: where it came from and why it failed."""
    from kafka_restaurants.localbroker.broker import operator_security
    from kafka_restaurants.messaging.dead_letters import list_dead_letters

    settings = _settings()
    letters = list_dead_letters(
        settings.bootstrap_servers, topic, security=operator_security(settings)
    )
    for letter in letters:
        key = (letter.key or b"").decode(errors="replace")
        source = (
            f"{letter.header('dlq.original_topic')}[{letter.header('dlq.original_partition')}]"
            f"@{letter.header('dlq.original_offset')}"
        )
        typer.echo(
            f"{letter.partition}:{letter.offset}  key={key}  from={source}  "
            f"at={letter.header('dlq.failed_at')}\n    {letter.header('dlq.error')[:300]}"
        )
    typer.echo(f"{len(letters)} dead letter(s) in {topic}.DLQ")


@dlq_app.command("replay")
def dlq_replay(
    topic: Annotated[str, typer.Argument(help="The consumed topic, e.g. order")],
) -> None:
    """Re-publish TOPIC's dead letters to TOPIC (each one once), e.g. after a fix."""
    from kafka_restaurants.localbroker.broker import operator_security
    from kafka_restaurants.messaging.dead_letters import replay_dead_letters

    settings = _settings()
    count = replay_dead_letters(
        settings.bootstrap_servers, topic, security=operator_security(settings)
    )
    typer.echo(f"Replayed {count} dead letter(s) to {topic}.")


@app.command("kitchen-link")
def kitchen_link(
    restaurant_id: Annotated[int, typer.Argument(help="The restaurant's id.", min=1)],
) -> None:
    """Print the secret link to one restaurant's kitchen screen (give it to that restaurant)."""
    from kafka_restaurants.kitchen.access import kitchen_link as link

    typer.echo(link(_settings(), restaurant_id))


@app.command()
def serve(
    process: Annotated[
        str, typer.Argument(help="api, bank, mailbox, transactions, mailer, kitchen, web, lb")
    ],
    port: Annotated[int | None, typer.Option(help="Port (web replicas).")] = None,
    replica_name: Annotated[str | None, typer.Option(help="Replica name (web).")] = None,
) -> None:
    """Run one process in the foreground (what the supervisor and containers call)."""
    from kafka_restaurants.cli.processes import SERVE_TARGETS

    settings = _settings()
    if process not in SERVE_TARGETS:
        typer.echo(f"unknown process {process!r}; one of {', '.join(SERVE_TARGETS)}", err=True)
        raise typer.Exit(2)
    module_name, function_name = SERVE_TARGETS[process].split(":")
    target = getattr(importlib.import_module(module_name), function_name)
    if process == "web":
        target(settings, port=port or settings.web_port, replica_name=replica_name)
    else:
        target(settings)


if __name__ == "__main__":
    app()
