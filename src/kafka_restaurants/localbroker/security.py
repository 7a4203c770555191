"""The files and settings of the secured managed broker (`restaurants up --secure`).

Under `<broker home>/security/`, made once and kept (0600 where secret):

- `tls/ca.pem`, `tls/ca.key`: a CA of our own; clients trust `ca.pem` (KAFKA_SSL_CA_LOCATION);
- `tls/broker.pem`: the broker's key and certificate (for 127.0.0.1 and localhost), a PEM
  keystore; it serves the SASL_SSL listener and, with client authentication required, the
  controller listener, so only the holder of this key can talk to the controller;
- `credentials.json`: the SCRAM password of the admin and of each service principal.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from kafka_restaurants.localbroker.jars import MissingPrerequisite
from kafka_restaurants.messaging.principals import ADMIN, SERVICES
from kafka_restaurants.messaging.security import ClientSecurity, client_security
from kafka_restaurants.settings import Settings

SASL_MECHANISM = "SCRAM-SHA-512"
BROKER_SUBJECT = "CN=kafka-restaurants-broker"
CA_SUBJECT = "CN=Kafka Restaurants local CA"
CERT_DAYS = 825


@dataclass(frozen=True)
class BrokerSecrets:
    """The CA, broker key pair and SCRAM passwords of one secured broker, under `directory`."""

    directory: Path

    @property
    def tls_dir(self) -> Path:
        return self.directory / "tls"

    @property
    def ca_path(self) -> Path:
        return self.tls_dir / "ca.pem"

    @property
    def keystore_path(self) -> Path:
        return self.tls_dir / "broker.pem"

    @property
    def credentials_path(self) -> Path:
        return self.directory / "credentials.json"

    def ensure(self, hosts: tuple[str, ...]) -> None:
        """Make the CA, the broker certificate and every principal's password, if missing."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self.directory.chmod(0o700)
        if not (self.ca_path.is_file() and self.keystore_path.is_file()):
            make_certificates(self.tls_dir, hosts)
        known = self._read_passwords()
        wanted = {user: known.get(user) or secrets.token_urlsafe(24) for user in (ADMIN, *SERVICES)}
        if wanted != known:
            write_private(self.credentials_path, json.dumps(wanted, indent=2) + "\n")

    def _read_passwords(self) -> dict[str, str]:
        if not self.credentials_path.is_file():
            return {}
        return dict(json.loads(self.credentials_path.read_text()))

    def passwords(self) -> dict[str, str]:
        """Each principal's SCRAM password (made by `ensure`)."""
        passwords = self._read_passwords()
        if not passwords:
            raise RuntimeError(f"no Kafka credentials in {self.credentials_path} yet")
        return passwords

    def settings_for(self, settings: Settings, user: str) -> Settings:
        """`settings` as the client of `user` on this broker (SASL_SSL, SCRAM, our CA)."""
        return settings.model_copy(
            update={
                "kafka_security_protocol": "SASL_SSL",
                "kafka_sasl_mechanism": SASL_MECHANISM,
                "kafka_sasl_username": user,
                "kafka_sasl_password": SecretStr(self.passwords()[user]),
                "kafka_ssl_ca_location": self.ca_path.resolve(),
            }
        )

    def client_env(self, user: str) -> dict[str, str]:
        """The environment a process running as `user` needs: its own credential only."""
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": SASL_MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.passwords()[user],
            "KAFKA_SSL_CA_LOCATION": str(self.ca_path.resolve()),
        }

    def server_properties(self, host: str, port: int, controller_port: int) -> dict[str, object]:
        """What server.properties needs for SASL_SSL clients, an mTLS controller and ACLs."""
        admin_password = self.passwords()[ADMIN]
        scram_login = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{admin_password}";'
        )
        return {
            "listeners": f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}",
            "advertised.listeners": (
                f"SASL_SSL://{host}:{port},CONTROLLER://{host}:{controller_port}"
            ),
            "inter.broker.listener.name": "SASL_SSL",
            "listener.security.protocol.map": "CONTROLLER:SSL,SASL_SSL:SASL_SSL",
            "sasl.enabled.mechanisms": SASL_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SASL_MECHANISM,
            f"listener.name.sasl_ssl.{SASL_MECHANISM.lower()}.sasl.jaas.config": scram_login,
            # One key pair and CA for every listener; PEM files, no JKS and no keytool.
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore_path.resolve()),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca_path.resolve()),
            # The controller listener takes no SASL (KRaft keeps SCRAM users in the very log it
            # serves), so it asks for the broker's certificate instead.
            "listener.name.controller.ssl.client.auth": "required",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            "super.users": f"User:{ADMIN};User:{BROKER_SUBJECT}",
        }

    def format_arguments(self) -> list[str]:
        """StorageTool arguments that create the admin's SCRAM credential with the storage.

        The broker needs it to authenticate to itself before any admin call could add it.
        """
        admin_password = self.passwords()[ADMIN]
        return ["--add-scram", f"{SASL_MECHANISM}=[name={ADMIN},password={admin_password}]"]


def write_private(path: Path, text: str) -> None:
    """Write `text` to `path` readable by the owner only, from the first byte on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    path.chmod(0o600)


def make_certificates(tls_dir: Path, hosts: tuple[str, ...]) -> None:
    """A new CA and a broker certificate it signs, valid for `hosts` (with openssl)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise MissingPrerequisite(
            "openssl is needed to make the secured broker's certificates (apt-get install openssl)."
        )
    tls_dir.mkdir(parents=True, exist_ok=True)
    tls_dir.chmod(0o700)
    names = sorted({"localhost", *hosts})
    alt_names = ",".join(
        f"IP:{name}" if name.replace(".", "").isdigit() or ":" in name else f"DNS:{name}"
        for name in names
    )
    ca_key, ca_pem = tls_dir / "ca.key", tls_dir / "ca.pem"
    key, csr, cert = tls_dir / "broker.key", tls_dir / "broker.csr", tls_dir / "broker.crt"
    extensions = tls_dir / "broker.ext"
    extensions.write_text(
        f"subjectAltName={alt_names}\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
    )
    ec_key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    old_umask = os.umask(0o077)  # keys are born private
    try:
        _openssl(
            openssl, "req", "-x509", *ec_key, "-keyout", ca_key, "-out", ca_pem,
            "-days", str(CERT_DAYS), "-subj", f"/{CA_SUBJECT}",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        _openssl(
            openssl, "req", *ec_key, "-keyout", key, "-out", csr, "-subj", f"/{BROKER_SUBJECT}"
        )
        _openssl(
            openssl, "x509", "-req", "-in", csr, "-CA", ca_pem, "-CAkey", ca_key,
            "-CAcreateserial", "-out", cert, "-days", str(CERT_DAYS), "-extfile", extensions,
        )  # fmt: skip
    finally:
        os.umask(old_umask)
    # Kafka's PEM keystore: the PKCS#8 key, then the chain, in one file.
    write_private(tls_dir / "broker.pem", key.read_text() + cert.read_text() + ca_pem.read_text())
    ca_pem.chmod(0o644)
    for leftover in (key, csr, extensions, tls_dir / "ca.srl"):
        leftover.unlink(missing_ok=True)


def _openssl(openssl: str, *args: str | Path) -> None:
    done = subprocess.run(
        [openssl, *map(str, args)], capture_output=True, text=True, timeout=60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.strip()[-2000:]}")


def home_dir(data_dir: Path, secure: bool) -> Path:
    """Where the managed broker of `data_dir` keeps its files."""
    return data_dir / ("kafka-secure" if secure else "kafka")


def managed_secrets(settings: Settings) -> BrokerSecrets | None:
    """The secrets of the secured broker `restaurants up` runs, or None when it runs none."""
    if not (settings.kafka_secure and settings.manages_kafka):
        return None
    return BrokerSecrets(home_dir(settings.data_dir, secure=True) / "security")


def operator_settings(settings: Settings) -> Settings:
    """`settings` for the operator's own clients (topics, provisioning, `restaurants dlq`).

    On the secured managed broker, without a KAFKA_SASL_USERNAME of one's own, that is the
    admin principal; everywhere else the settings as they are.
    """
    secrets_ = managed_secrets(settings)
    if secrets_ is None or settings.kafka_sasl_username:
        return settings
    return secrets_.settings_for(settings, ADMIN)


def operator_security(settings: Settings) -> ClientSecurity:
    """Client security options of the operator's tools (see `operator_settings`)."""
    return client_security(operator_settings(settings))


def service_kafka_env(settings: Settings, service: str) -> dict[str, str]:
    """Environment that gives `service` its own principal on the secured managed broker."""
    secrets_ = managed_secrets(settings)
    return secrets_.client_env(service) if secrets_ is not None else {}
