"""The bank's use cases over its database: tokenize a card, charge a token, list charges."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from kafka_restaurants.bank.cards import CardBehaviour, VaultedCard, check_card
from kafka_restaurants.bank.charging import fails_transiently, outcome_for, request_fingerprint
from kafka_restaurants.bank.tables import CardToken, Charge, ChargeAttempt

log = logging.getLogger(__name__)


class UnknownToken(LookupError):
    """No card was tokenized under this token."""


class IdempotencyKeyReused(ValueError):
    """The Idempotency-Key was already used for a charge with a different body."""


class TransientProcessingError(RuntimeError):
    """The charge could not be processed this time; retrying with the same key may succeed."""


@dataclass(frozen=True)
class ChargeRequest:
    """What a client asks to charge."""

    token: str
    amount: int
    currency: str
    reference: str


@dataclass(frozen=True)
class ChargeView:
    """A charge as clients see it."""

    charge_id: str
    status: str
    decline_code: str | None
    amount: int
    currency: str
    reference: str
    created_at: datetime


@dataclass(frozen=True)
class ChargeResult:
    """A charge and whether it was an idempotent replay of an earlier request."""

    charge: ChargeView
    replayed: bool


@dataclass(frozen=True)
class TokenView:
    """A tokenized card as clients see it."""

    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def _view(charge: Charge) -> ChargeView:
    return ChargeView(
        charge_id=charge.charge_id,
        status=charge.status,
        decline_code=charge.decline_code,
        amount=charge.amount,
        currency=charge.currency,
        reference=charge.reference,
        created_at=charge.created_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Bank:
    """The mocked card processor: a token vault and an idempotent charge ledger."""

    def __init__(
        self,
        engine: Engine,
        transient_failures: int = 2,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._engine = engine
        self._sessions: sessionmaker[Session] = sessionmaker(engine, expire_on_commit=False)
        self._transient_failures = transient_failures
        self._clock = clock

    def tokenize_card(self, number: str, exp_month: int, exp_year: int, cvc: str) -> TokenView:
        """Validate a card and store a token for it; raises CardRejected for a bad card."""
        card: VaultedCard = check_card(number, exp_month, exp_year, cvc, self._clock().date())
        row = CardToken(
            token=f"tok_{secrets.token_hex(12)}",
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            behaviour=card.behaviour.value,
            created_at=self._clock(),
        )
        with self._sessions.begin() as session:
            session.add(row)
        log.info("tokenized a card (%s ending %s) as %s", row.brand, row.last4, row.token)
        return TokenView(row.token, row.brand, row.last4, row.exp_month, row.exp_year)

    def charge_card(self, idempotency_key: str, request: ChargeRequest) -> ChargeResult:
        """Charge a token at most once per idempotency key; replays return the stored result."""
        fingerprint = request_fingerprint(
            request.token, request.amount, request.currency, request.reference
        )
        stored = self._stored_result(idempotency_key, fingerprint)
        if stored is not None:
            return stored
        with self._sessions() as session:
            card = session.get(CardToken, request.token)
        if card is None:
            raise UnknownToken(request.token)
        behaviour = CardBehaviour(card.behaviour)
        if behaviour is CardBehaviour.PROCESSING_ERROR:
            attempt = self._count_attempt(idempotency_key)
            if fails_transiently(behaviour, attempt, self._transient_failures):
                log.info("charge %r: transient failure on attempt %d", idempotency_key, attempt)
                raise TransientProcessingError(idempotency_key)
        outcome = outcome_for(behaviour)
        row = Charge(
            charge_id=f"ch_{secrets.token_hex(12)}",
            idempotency_key=idempotency_key,
            request_fingerprint=fingerprint,
            token=request.token,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            status=outcome.status,
            decline_code=outcome.decline_code,
            created_at=self._clock(),
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
        except IntegrityError:
            # A concurrent request with the same key won the race: answer with its result.
            stored = self._stored_result(idempotency_key, fingerprint)
            if stored is None:
                raise
            return stored
        log.info(
            "charge %s for %r (reference %r): %s%s",
            row.charge_id,
            idempotency_key,
            request.reference,
            row.status,
            f" ({row.decline_code})" if row.decline_code else "",
        )
        return ChargeResult(_view(row), replayed=False)

    def list_charges(
        self, reference: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ChargeView]:
        """Charges, newest first, optionally only those for one reference or with one status."""
        query = select(Charge).order_by(Charge.id.desc()).limit(limit)
        if reference is not None:
            query = query.where(Charge.reference == reference)
        if status is not None:
            query = query.where(Charge.status == status)
        with self._sessions() as session:
            return [_view(row) for row in session.scalars(query)]

    def is_ready(self) -> bool:
        """True when the database answers."""
        with self._engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1

    def _stored_result(self, idempotency_key: str, fingerprint: str) -> ChargeResult | None:
        with self._sessions() as session:
            charge = session.scalars(
                select(Charge).where(Charge.idempotency_key == idempotency_key)
            ).one_or_none()
        if charge is None:
            return None
        if charge.request_fingerprint != fingerprint:
            raise IdempotencyKeyReused(idempotency_key)
        return ChargeResult(_view(charge), replayed=True)

    def _count_attempt(self, idempotency_key: str) -> int:
        """Record one more attempt for the key and return the count, atomically (an upsert)."""
        insert = (
            postgresql.insert
            if self._engine.dialect.name == "postgresql"
            else sqlite.insert  # SQLite's upsert syntax is the same ON CONFLICT form
        )
        statement = (
            insert(ChargeAttempt)
            .values(idempotency_key=idempotency_key, attempts=1)
            .on_conflict_do_update(
                index_elements=[ChargeAttempt.idempotency_key],
                set_={"attempts": ChargeAttempt.attempts + 1},
            )
            .returning(ChargeAttempt.attempts)
        )
        with self._sessions.begin() as session:
            return int(session.execute(statement).scalar_one())
