"""A single-node Apache Kafka broker (KRaft, combined mode) run from Maven-resolved jars."""

from __future__ import annotations

import base64
import secrets
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kafka_restaurants.localbroker import jars as kafka_jars
from kafka_restaurants.localbroker.jars import (
    MIN_JAVA,
    MissingPrerequisite,
    check_prerequisites,
    ensure_kafka_jars,
    jars_ready,
    kafka_lib_dir,
    parse_java_major,
)
from kafka_restaurants.localbroker.security import (
    BrokerSecrets,
    home_dir,
    managed_secrets,
    operator_security,
    operator_settings,
    service_kafka_env,
    write_private,
)
from kafka_restaurants.messaging.admin import (
    admin_client,
    create_topics,
    describe_topics,
    ensure_topics,
    planned_topics,
    wait_until_ready,
)
from kafka_restaurants.messaging.principals import ADMIN, provision_principals
from kafka_restaurants.messaging.security import ClientSecurity, client_security
from kafka_restaurants.settings import Settings

__all__ = [
    "BrokerSecrets",
    "KafkaBroker",
    "MissingPrerequisite",
    "check_prerequisites",
    "create_topics",
    "describe_topics",
    "ensure_kafka_jars",
    "ensure_topics",
    "jars_ready",
    "kafka_lib_dir",
    "managed_secrets",
    "new_cluster_id",
    "operator_security",
    "operator_settings",
    "parse_java_major",
    "planned_topics",
    "prepare_cluster",
    "server_properties",
    "service_kafka_env",
    "wait_until_ready",
]

# --- configuration ----------------------------------------------------------------------------


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes as 22 characters of unpadded base64url."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


def server_properties(
    *,
    host: str,
    port: int,
    controller_port: int,
    log_dir: Path,
    node_id: int = 1,
    overrides: Mapping[str, object] | None = None,
) -> str:
    """server.properties for one node that is both broker and KRaft controller.

    `overrides` replace or add settings (the secured broker's listeners, TLS and ACLs).
    """
    settings: dict[str, object] = {
        "process.roles": "broker,controller",
        "node.id": node_id,
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        # One node: every internal topic must live with a single replica.
        "num.partitions": 1,
        "default.replication.factor": 1,
        "offsets.topic.replication.factor": 1,
        "transaction.state.log.replication.factor": 1,
        "transaction.state.log.min.isr": 1,
        "share.coordinator.state.topic.replication.factor": 1,
        "share.coordinator.state.topic.min.isr": 1,
        # Topics are created explicitly (create_topics); a typo must not create a new topic.
        "auto.create.topics.enable": "false",
        # Consumers join at once instead of waiting 3 s for more members: faster tests and dev.
        "group.initial.rebalance.delay.ms": 0,
        # Fewer offsets partitions: a laptop broker needs 50 far less than it needs a quick start.
        "offsets.topic.num.partitions": 10,
        "transaction.state.log.num.partitions": 10,
        "num.network.threads": 2,
        "num.io.threads": 4,
        "num.recovery.threads.per.data.dir": 1,
        "log.retention.hours": 168,
        "log.segment.bytes": 64 * 1024 * 1024,
    }
    settings.update(overrides or {})
    lines = ["# Written by kafka_restaurants.localbroker.broker; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in settings.items()]
    return "\n".join(lines) + "\n"


# Console logging, because the process supervisor captures stdout into var/log/kafka.log;
# the chatty per-partition state-change log stays in Kafka's own logs dir.
LOG4J2_CONFIG = """\
status = warn
name = kafka-restaurants

appender.console.type = Console
appender.console.name = STDOUT
appender.console.target = SYSTEM_OUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n

appender.stateChange.type = RollingFile
appender.stateChange.name = STATE_CHANGE
appender.stateChange.fileName = ${sys:kafka.logs.dir}/state-change.log
appender.stateChange.filePattern = ${sys:kafka.logs.dir}/state-change.log.%i
appender.stateChange.layout.type = PatternLayout
appender.stateChange.layout.pattern = [%d] %p %m (%c)%n
appender.stateChange.policies.type = Policies
appender.stateChange.policies.size.type = SizeBasedTriggeringPolicy
appender.stateChange.policies.size.size = 10MB
appender.stateChange.strategy.type = DefaultRolloverStrategy
appender.stateChange.strategy.max = 3

rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT

logger.stateChange.name = state.change.logger
logger.stateChange.level = INFO
logger.stateChange.additivity = false
logger.stateChange.appenderRef.file.ref = STATE_CHANGE

logger.request.name = kafka.request.logger
logger.request.level = WARN
"""


# --- the broker process -----------------------------------------------------------------------


@dataclass
class KafkaBroker:
    """One local broker+controller whose files all live under `data_dir/kafka/`."""

    data_dir: Path
    port: int = 9092
    controller_port: int = 9093
    lib_dir: Path | None = None
    heap: str = "512m"
    host: str = "127.0.0.1"
    # SASL_SSL with SCRAM and ACLs instead of PLAINTEXT; its files live in a home of their own
    # (`kafka-secure/`), so switching modes never mixes a plaintext and a secured storage.
    secure: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings, *, fetch_jars: bool = False) -> KafkaBroker:
        """The managed broker that `settings` describe. Its jars are only located, unless
        `fetch_jars` (about to launch it): then they are resolved first if not cached yet."""
        version = settings.kafka_version
        return cls(
            data_dir=settings.data_dir,
            port=settings.kafka_port,
            controller_port=settings.kafka_controller_port,
            lib_dir=ensure_kafka_jars(version) if fetch_jars else kafka_lib_dir(version),
            heap=settings.kafka_heap,
            secure=settings.kafka_secure,
        )

    @property
    def home(self) -> Path:
        return home_dir(self.data_dir, self.secure)

    @property
    def secrets(self) -> BrokerSecrets | None:
        """The CA, certificates and SCRAM passwords of a secured broker (None: plaintext)."""
        return BrokerSecrets(self.home / "security") if self.secure else None

    def admin_security(self) -> ClientSecurity:
        """Client options for the broker's super user (plaintext: none beyond PLAINTEXT)."""
        if self.secrets is None:
            return ClientSecurity({"security.protocol": "plaintext"})
        return client_security(self.secrets.settings_for(Settings(), ADMIN))

    @property
    def storage_dir(self) -> Path:
        return self.home / "data"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def properties_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def log4j_path(self) -> Path:
        return self.home / "log4j2.properties"

    @property
    def cluster_id_path(self) -> Path:
        return self.home / "cluster.id"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def libs(self) -> Path:
        return self.lib_dir or kafka_lib_dir(Settings().kafka_version)

    @property
    def formatted(self) -> bool:
        return (self.storage_dir / "meta.properties").is_file()

    def cluster_id(self) -> str:
        """This broker's cluster id, created on first use and kept in `cluster.id`."""
        if self.cluster_id_path.is_file():
            return self.cluster_id_path.read_text().strip()
        cluster_id = new_cluster_id()
        self.home.mkdir(parents=True, exist_ok=True)
        self.cluster_id_path.write_text(cluster_id + "\n")
        return cluster_id

    def write_config(self) -> None:
        """(Re)write server.properties and the log4j2 config from the current fields."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        overrides: dict[str, object] = {}
        if self.secrets is not None:
            self.secrets.ensure(hosts=(self.host,))
            overrides = self.secrets.server_properties(self.host, self.port, self.controller_port)
        text = server_properties(
            host=self.host,
            port=self.port,
            controller_port=self.controller_port,
            log_dir=self.storage_dir.resolve(),
            overrides=overrides,
        )
        # The secured broker's file holds the admin's password: owner only, from the start.
        write_private(self.properties_path, text)
        self.log4j_path.write_text(LOG4J2_CONFIG)

    def _java(self) -> str:
        java = kafka_jars.java_executable()
        if java is None:
            raise MissingPrerequisite(
                f"Java {MIN_JAVA} or newer is required to run Kafka: install "
                "openjdk-17-jre-headless (apt-get install openjdk-17-jre-headless)."
            )
        return java

    def prepare(self) -> None:
        """Write the config and format the storage the first time; later calls only rewrite."""
        self.write_config()
        if not any(self.libs.glob("kafka_2.13-*.jar")):
            raise MissingPrerequisite(
                f"the Kafka jars are not in {self.libs}: run `make setup` (or call "
                "ensure_kafka_jars) to download them with Maven."
            )
        if self.formatted:
            return
        command = [
            self._java(), "-Xmx256m",
            f"-Dlog4j2.configurationFile={self.log4j_path.resolve()}",
            f"-Dkafka.logs.dir={self.logs_dir.resolve()}",
            "-cp", f"{self.libs.resolve()}/*",
            "kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
            # "=": a base64url id may start with "-", which would read as an option.
            f"--cluster-id={self.cluster_id()}", "-c", str(self.properties_path.resolve()),
        ]  # fmt: skip
        arguments_file = self.home / "format-arguments"
        if self.secrets is not None:
            # Read from a private file ("@file", one argument a line), not the command line,
            # where any local user could see the admin's password.
            write_private(arguments_file, "\n".join(self.secrets.format_arguments()) + "\n")
            command.append(f"@{arguments_file.resolve()}")
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        finally:
            arguments_file.unlink(missing_ok=True)
        if done.returncode != 0 or not self.formatted:
            raise RuntimeError(
                f"formatting Kafka storage in {self.storage_dir} failed "
                f"(exit {done.returncode}):\n{(done.stdout + done.stderr).strip()[-3000:]}"
            )

    def command(self) -> list[str]:
        """The java command line that runs the broker in the foreground."""
        return [
            self._java(),
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j_path.resolve()}",
            f"-Dkafka.logs.dir={self.logs_dir.resolve()}",
            "-cp",
            f"{self.libs.resolve()}/*",
            "kafka.Kafka",
            str(self.properties_path.resolve()),
        ]

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        """True while the process started by `start` is alive."""
        return self._process is not None and self._process.poll() is None

    def start(self, log_path: Path) -> None:
        """Prepare, then start the broker in the background with its output in `log_path`."""
        if self.is_running():
            return
        self.prepare()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log_file:
            # A session of its own: Ctrl-C in the terminal reaches our supervisor, which then
            # stops the broker in order, instead of killing it mid-write.
            self._process = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker: SIGTERM (controlled shutdown), then SIGKILL after `timeout`."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._process = None

    def provision_principals(self) -> None:
        """Give each service its SCRAM user and ACLs (a secured broker; plaintext: nothing)."""
        if self.secrets is not None:
            provision_principals(
                admin_client(self.bootstrap, self.admin_security()), self.secrets.passwords()
            )

    def wait_until_ready(self, timeout: float = 120.0) -> None:
        """Block until this broker answers metadata requests; fail fast if it dies."""
        wait_until_ready(
            self.bootstrap, timeout, is_alive=self.is_running, security=self.admin_security()
        )


def prepare_cluster(settings: Settings) -> None:
    """The application's topics and, on the secured managed broker, each service's principal
    and ACLs; as the operator (`operator_settings`). Safe to run again."""
    security = operator_security(settings)
    bootstrap = settings.bootstrap_servers
    create_topics(
        bootstrap, settings.order_partitions, settings.topic_partitions, security=security
    )
    secrets_ = managed_secrets(settings)
    if secrets_ is not None:
        provision_principals(admin_client(bootstrap, security), secrets_.passwords())
