"""Tables owned by the bank: tokens (the vault), charges and transient-failure attempt counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String, Table
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kafka_restaurants.db.schema import UtcDateTime, service_metadata

metadata = service_metadata()


class Base(DeclarativeBase):
    metadata = metadata


class CardToken(Base):
    """A tokenized card: no number, no CVC and no expiry date (checked once, at tokenizing).

    A token pays for one order: the charge must carry its reference, stay within its amount
    and currency, come before it expires, and only one charge (`used_by`, that charge's
    Idempotency-Key) may use it.
    """

    __tablename__ = "bank_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    behaviour: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reference: Mapped[str] = mapped_column(String(200))
    max_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_by: Mapped[str | None] = mapped_column(String(255), nullable=True)


class Charge(Base):
    """A processed charge; the unique idempotency key is what stops a second charge."""

    __tablename__ = "bank_charges"

    # A sequence for "newest first" that does not depend on clock resolution.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    charge_id: Mapped[str] = mapped_column(String(40), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(255), unique=True)
    request_fingerprint: Mapped[str] = mapped_column(String(64))
    token: Mapped[str] = mapped_column(String(64), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    decline_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ChargeAttempt(Base):
    """How many times a key was tried, so a flaky test card can fail the first N of them."""

    __tablename__ = "bank_charge_attempts"

    idempotency_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)


# The same tables for SQLAlchemy Core, which the service uses: no unit of work per request.
TOKENS: Table = metadata.tables["bank_tokens"]
CHARGES: Table = metadata.tables["bank_charges"]
ATTEMPTS: Table = metadata.tables["bank_charge_attempts"]
