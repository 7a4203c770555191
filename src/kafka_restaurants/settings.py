"""Configuration for every process, read from the environment and an optional `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """All settings; each process reads the ones it needs. Names are the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Where processes keep their files: databases, broker data, logs, pid files.
    data_dir: Path = Field(default=Path("var"), alias="DATA_DIR")

    # Kafka. Unset BOOTSTRAP_SVR means `restaurants up` runs its own single-node broker.
    bootstrap_svr: str | None = Field(default=None, alias="BOOTSTRAP_SVR")
    kafka_port: int = Field(default=9092, alias="KAFKA_PORT")
    kafka_controller_port: int = Field(default=9093, alias="KAFKA_CONTROLLER_PORT")
    kafka_version: str = Field(default="4.1.0", alias="KAFKA_VERSION")
    kafka_heap: str = Field(default="512m", alias="KAFKA_HEAP")
    # Kafka client security. PLAINTEXT is for the loopback broker of `make run`; a shared
    # cluster takes SASL_SSL with SCRAM, each service with its own principal and ACLs.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(default=None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(default=None, alias="KAFKA_SASL_PASSWORD")
    # PEM file of the CA that signed the brokers' certificates (unset: the system's store).
    kafka_ssl_ca_location: Path | None = Field(default=None, alias="KAFKA_SSL_CA_LOCATION")
    # The managed local broker (`restaurants up --secure`): SASL_SSL listener, SCRAM users and
    # ACLs, one principal per service; the credentials are generated into DATA_DIR.
    kafka_secure: bool = Field(default=False, alias="KAFKA_SECURE")
    order_partitions: int = Field(default=6, ge=1, alias="ORDER_PARTITIONS")
    topic_partitions: int = Field(default=3, ge=1, alias="TOPIC_PARTITIONS")

    # Databases. DATABASE_URL (PostgreSQL, say) is used by every service unless it has its own.
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    bank_database_url: str | None = Field(default=None, alias="BANK_DATABASE_URL")
    mailer_database_url: str | None = Field(default=None, alias="MAILER_DATABASE_URL")
    kitchen_database_url: str | None = Field(default=None, alias="KITCHEN_DATABASE_URL")

    # HTTP services.
    host: str = Field(default="127.0.0.1", alias="HOST")
    # HTTPS for api, bank and web: each serves TLS when both files are set (PEM). Clients check
    # https api/bank URLs against TLS_CA_FILE (unset: the default trust store).
    tls_cert_file: Path | None = Field(default=None, alias="TLS_CERT_FILE")
    tls_key_file: Path | None = Field(default=None, alias="TLS_KEY_FILE")
    tls_ca_file: Path | None = Field(default=None, alias="TLS_CA_FILE")
    api_port: int = Field(default=5000, alias="API_PORT")
    api_url: str | None = Field(default=None, alias="API_URL")
    # The api's outbox relay and order-status consumer; off only for catalog-only tests.
    api_workers: bool = Field(default=True, alias="API_WORKERS")
    # uvicorn worker processes serving the api: more than one uses more cores.
    api_processes: int = Field(default=1, ge=1, le=32, alias="API_PROCESSES")
    # Admission control of POST /orders, per api process: with this many orders in flight, or
    # this many outbox rows Kafka has not acknowledged, new orders get 503 + Retry-After at
    # once instead of a place in a queue. 0 turns a limit off.
    api_max_orders_in_flight: int = Field(default=32, ge=0, alias="API_MAX_ORDERS_IN_FLIGHT")
    api_max_outbox_backlog: int = Field(default=10_000, ge=0, alias="API_MAX_OUTBOX_BACKLOG")
    api_busy_retry_after_ms: int = Field(default=1000, ge=1, alias="API_BUSY_RETRY_AFTER_MS")
    # Orders one client may place, per api process: a burst, then a steady rate (429 beyond).
    # The client is the browser's address the web tier forwards; 0 turns the limit off.
    api_order_rate_per_client: float = Field(default=1.0, ge=0, alias="API_ORDER_RATE_PER_CLIENT")
    api_order_burst_per_client: int = Field(default=10, ge=1, alias="API_ORDER_BURST_PER_CLIENT")
    # Whose X-Forwarded-For is believed (web: the load balancer; api: the web replicas):
    # comma-separated addresses or CIDR networks. The api is internal, so private networks.
    trusted_proxies: str = Field(
        default="127.0.0.1,::1,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,fc00::/7",
        alias="TRUSTED_PROXIES",
    )
    # Service identity at the bank. A caller presents BANK_API_KEY (its own key); the bank
    # knows one key per caller and what each may do: the api creates tokens and looks up
    # charges, transactions charges and looks up charges, the operator may also list every
    # charge and change fault injection. Unset keys are generated by `restaurants up`.
    bank_api_key: SecretStr | None = Field(default=None, alias="BANK_API_KEY")
    bank_caller_key_api: SecretStr | None = Field(default=None, alias="BANK_CALLER_KEY_API")
    bank_caller_key_transactions: SecretStr | None = Field(
        default=None, alias="BANK_CALLER_KEY_TRANSACTIONS"
    )
    bank_caller_key_operator: SecretStr | None = Field(
        default=None, alias="BANK_CALLER_KEY_OPERATOR"
    )
    # A card token pays for one order, up to the amount it was made for, once, within this.
    bank_token_ttl_seconds: float = Field(default=3600.0, gt=0, alias="BANK_TOKEN_TTL_SECONDS")
    bank_port: int = Field(default=5100, alias="BANK_PORT")
    bank_url: str | None = Field(default=None, alias="BANK_URL")
    web_port: int = Field(default=8088, alias="WEB_PORT")
    web_replicas: int = Field(default=2, ge=1, alias="WEB_REPLICAS")
    web_replica_base_port: int = Field(default=8101, alias="WEB_REPLICA_BASE_PORT")
    transactions_health_port: int = Field(default=5201, alias="TRANSACTIONS_HEALTH_PORT")
    transactions_concurrency: int = Field(default=16, ge=1, alias="TRANSACTIONS_CONCURRENCY")
    # How long the payment service waits for more orders after a batch's first one (see
    # ConsumerSettings.batch_linger): fewer Kafka transactions and bank calls per order.
    transactions_batch_linger_ms: int = Field(
        default=20, ge=0, le=1000, alias="TRANSACTIONS_BATCH_LINGER_MS"
    )
    mailer_health_port: int = Field(default=5301, alias="MAILER_HEALTH_PORT")
    # The kitchen serves its tickets (to web), its presses, health and metrics on one port.
    kitchen_port: int = Field(default=5401, alias="KITCHEN_PORT")
    kitchen_url: str | None = Field(default=None, alias="KITCHEN_URL")
    # Kitchens `restaurants up` runs in the group kitchen-display (instance i on KITCHEN_PORT+i).
    kitchen_instances: int = Field(default=1, ge=1, le=32, alias="KITCHEN_INSTANCES")
    # Signs each restaurant's kitchen-screen link; unset means a random secret kept in
    # DATA_DIR/kitchen_secret. Only the kitchen (and `restaurants kitchen-link`) read it.
    kitchen_secret: SecretStr | None = Field(default=None, alias="KITCHEN_SECRET")
    # Processes of each consumer `restaurants up` runs, sharing one consumer group; instance i
    # (from 0) serves health on the base port + i. One keeps the plain name ("transactions").
    transactions_instances: int = Field(default=1, ge=1, le=32, alias="TRANSACTIONS_INSTANCES")
    mailer_instances: int = Field(default=1, ge=1, le=32, alias="MAILER_INSTANCES")
    public_url: str | None = Field(default=None, alias="PUBLIC_URL")
    # Signs the web cart/CSRF cookies; unset means a random secret kept in DATA_DIR/web_secret.
    cart_secret: str | None = Field(default=None, alias="CART_SECRET")
    web_replica_name: str | None = Field(default=None, alias="WEB_REPLICA_NAME")

    # Mail: the mailer sends through SMTP_*; the dev mailbox listens on MAILBOX_*.
    smtp_host: str = Field(default="127.0.0.1", alias="SMTP_HOST")
    smtp_port: int = Field(default=1025, alias="SMTP_PORT")
    smtp_tls: bool = Field(default=False, alias="SMTP_TLS")
    smtp_user: str | None = Field(default=None, alias="SMTP_USER")
    smtp_password: str | None = Field(default=None, alias="SMTP_PASSWORD")
    mail_from: str = Field(
        default="Kafka Restaurants <orders@kafka-restaurants.local>", alias="MAIL_FROM"
    )
    mailbox_smtp_port: int = Field(default=1025, alias="MAILBOX_SMTP_PORT")
    mailbox_http_port: int = Field(default=8025, alias="MAILBOX_HTTP_PORT")
    mailbox_enabled: bool = Field(default=True, alias="MAILBOX_ENABLED")
    mailbox_max_messages: int = Field(default=10_000, ge=1, alias="MAILBOX_MAX_MESSAGES")
    mailbox_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1, alias="MAILBOX_MAX_BYTES")

    # Mock bank behaviour, for fault injection.
    bank_latency_ms: int = Field(default=0, ge=0, alias="BANK_LATENCY_MS")
    bank_error_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="BANK_ERROR_RATE")
    bank_timeout_rate: float = Field(default=0.0, ge=0.0, le=1.0, alias="BANK_TIMEOUT_RATE")
    bank_timeout_seconds: float = Field(default=30.0, ge=0.0, alias="BANK_TIMEOUT_SECONDS")
    bank_transient_failures: int = Field(default=2, ge=0, alias="BANK_TRANSIENT_FAILURES")

    # Deliveries of one consumed message before a transient failure gives up: the payment
    # service then ends the order `failed` (when the bank shows no charge) and every consumer
    # dead-letters the message. With the 0.2 s..30 s backoff, 12 attempts retry for 1-2 minutes.
    max_delivery_attempts: int = Field(default=12, ge=1, alias="MAX_DELIVERY_ATTEMPTS")
    # The mailer waits out SMTP outages far longer: a confirmation it gives up on is a lost
    # email (until `restaurants dlq replay`), and nothing else waits on it. 150 attempts at the
    # 30 s backoff cap is about an hour.
    mailer_max_delivery_attempts: int = Field(
        default=150, ge=1, alias="MAILER_MAX_DELIVERY_ATTEMPTS"
    )

    # The api's reconciler settles orders still pending this long after their event was
    # published, by asking the bank for the order's charges; it looks every interval seconds
    # (0 turns it off). Keep the age well above the payment service's retry window.
    reconcile_after_seconds: float = Field(default=900.0, gt=0, alias="RECONCILE_AFTER_SECONDS")
    reconcile_interval_seconds: float = Field(
        default=60.0, ge=0, alias="RECONCILE_INTERVAL_SECONDS"
    )

    # `restaurants up` restarts a process that exits, unless it needed MAX_RESTARTS restarts
    # within the last RESTART_WINDOW_SECONDS already: then it is crash-looping and up gives up.
    max_restarts: int = Field(default=5, ge=0, alias="MAX_RESTARTS")
    restart_window_seconds: float = Field(default=60.0, gt=0, alias="RESTART_WINDOW_SECONDS")

    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    log_format: str = Field(default="auto", alias="LOG_FORMAT")

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap servers: the configured cluster or the managed local broker."""
        return self.bootstrap_svr or f"127.0.0.1:{self.kafka_port}"

    @property
    def manages_kafka(self) -> bool:
        """True when `restaurants up` should run its own broker."""
        return not self.bootstrap_svr

    @property
    def serves_tls(self) -> bool:
        """True when api, bank and web serve HTTPS (TLS_CERT_FILE and TLS_KEY_FILE set)."""
        return self.tls_cert_file is not None and self.tls_key_file is not None

    @property
    def http_scheme(self) -> str:
        """The scheme api, bank and web serve: https with TLS, http otherwise."""
        return "https" if self.serves_tls else "http"

    @property
    def api_base_url(self) -> str:
        return self.api_url or f"{self.http_scheme}://{self.host}:{self.api_port}"

    @property
    def bank_base_url(self) -> str:
        return self.bank_url or f"{self.http_scheme}://{self.host}:{self.bank_port}"

    @property
    def kitchen_base_url(self) -> str:
        return self.kitchen_url or f"{self.http_scheme}://{self.host}:{self.kitchen_port}"

    @property
    def public_base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.web_port}"

    @property
    def mailbox_base_url(self) -> str:
        return f"http://{self.host}:{self.mailbox_http_port}"

    def sqlite_url(self, name: str) -> str:
        return f"sqlite:///{(self.data_dir / 'db' / f'{name}.sqlite').resolve()}"

    @property
    def api_db_url(self) -> str:
        """Where each service keeps its tables: its own *_DATABASE_URL, else DATABASE_URL (the
        api reads only that one), else a SQLite file of its own under DATA_DIR."""
        return self.database_url or self.sqlite_url("api")

    @property
    def bank_db_url(self) -> str:
        return self.bank_database_url or self.database_url or self.sqlite_url("bank")

    @property
    def mailer_db_url(self) -> str:
        return self.mailer_database_url or self.database_url or self.sqlite_url("mailer")

    @property
    def kitchen_db_url(self) -> str:
        return self.kitchen_database_url or self.database_url or self.sqlite_url("kitchen")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
