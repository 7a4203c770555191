"""The bank's use cases over its database: tokenize a card for one order, charge a token,
list charges.

SQLAlchemy Core with statements built once. Charges are settled in batches (a single charge is a
batch of one): one transaction reads the batch's stored keys and token behaviours in two
queries and writes its new charges in one statement.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, bindparam, insert, select, text, update

from kafka_restaurants.bank.cards import CardBehaviour, VaultedCard, check_card
from kafka_restaurants.bank.charging import (
    DECLINED,
    TokenBinding,
    binding_refusal,
    fails_transiently,
    outcome_for,
    request_fingerprint,
)
from kafka_restaurants.bank.domain import (
    ChargeRefusal,
    ChargeRequest,
    ChargeResult,
    ChargeView,
    IdempotencyKeyReused,
    TokenTerms,
    TokenView,
    TokenVoid,
    TransientProcessingError,
    UnknownToken,
)
from kafka_restaurants.bank.tables import ATTEMPTS, CHARGES, TOKENS
from kafka_restaurants.db.engine import conflict_insert
from kafka_restaurants.observability.logs import order_context

log = logging.getLogger(__name__)

# What a client sees of a charge, plus the fingerprint that tells a replay from a reused key.
_VIEW_COLUMNS = (
    CHARGES.c.charge_id,
    CHARGES.c.status,
    CHARGES.c.decline_code,
    CHARGES.c.amount,
    CHARGES.c.currency,
    CHARGES.c.reference,
    CHARGES.c.created_at,
)
_SELECT_BY_KEYS = select(
    *_VIEW_COLUMNS, CHARGES.c.idempotency_key, CHARGES.c.request_fingerprint
).where(CHARGES.c.idempotency_key.in_(bindparam("keys", expanding=True)))
# In token order: on PostgreSQL the rows are locked (FOR UPDATE) in that order, so two batches
# using the same token take turns and cannot deadlock; SQLite lets one writer in at a time.
_SELECT_TOKENS = (
    select(
        TOKENS.c.token,
        TOKENS.c.behaviour,
        TOKENS.c.reference,
        TOKENS.c.max_amount,
        TOKENS.c.currency,
        TOKENS.c.expires_at,
        TOKENS.c.used_by,
    )
    .where(TOKENS.c.token.in_(bindparam("tokens", expanding=True)))
    .order_by(TOKENS.c.token)
)
_INSERT_TOKEN = insert(TOKENS)
_MARK_USED = (
    update(TOKENS)
    .where(TOKENS.c.token == bindparam("used_token"))
    .values(used_by=bindparam("used_key"))
)
DEFAULT_TOKEN_TTL = timedelta(hours=1)
# `used_by` of a token voided before any charge used it: every charge with it is then
# declined `token_used`.
VOIDED_BY = "void"


@dataclass(frozen=True)
class VaultEntry:
    """What a charge needs to know about its token."""

    behaviour: CardBehaviour
    binding: TokenBinding


def _view(row: Row[Any]) -> ChargeView:
    return ChargeView(
        charge_id=row.charge_id,
        status=row.status,
        decline_code=row.decline_code,
        amount=row.amount,
        currency=row.currency,
        reference=row.reference,
        created_at=row.created_at,
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
        token_ttl: timedelta = DEFAULT_TOKEN_TTL,
    ) -> None:
        self._engine = engine
        self._transient_failures = transient_failures
        self._clock = clock
        self._token_ttl = token_ttl
        # Both dialects spell these upserts ON CONFLICT; the statements are built once.
        postgres = engine.dialect.name == "postgresql"
        self._select_tokens = _SELECT_TOKENS.with_for_update() if postgres else _SELECT_TOKENS
        # DO NOTHING on the key alone: a racing duplicate inserts nothing and reads the winner.
        self._insert_charges = (
            conflict_insert(engine, CHARGES)
            .on_conflict_do_nothing(index_elements=[CHARGES.c.idempotency_key])
            .returning(CHARGES.c.idempotency_key)
        )
        self._count_attempt = (
            conflict_insert(engine, ATTEMPTS)
            .values(idempotency_key=bindparam("key"), attempts=1)
            .on_conflict_do_update(
                index_elements=[ATTEMPTS.c.idempotency_key],
                set_={"attempts": ATTEMPTS.c.attempts + 1},
            )
            .returning(ATTEMPTS.c.attempts)
        )

    def tokenize_card(
        self, number: str, exp_month: int, exp_year: int, cvc: str, terms: TokenTerms
    ) -> TokenView:
        """Validate a card and store a token that pays for `terms` only, once, until it
        expires; raises CardRejected for a bad card."""
        now = self._clock()
        card: VaultedCard = check_card(number, exp_month, exp_year, cvc, now.date())
        view = TokenView(
            token=f"tok_{secrets.token_hex(12)}",
            brand=card.brand,
            last4=card.last4,
            exp_month=card.exp_month,
            exp_year=card.exp_year,
            reference=terms.reference,
            max_amount=terms.max_amount,
            currency=terms.currency,
            expires_at=now + self._token_ttl,
        )
        with self._engine.begin() as connection:
            connection.execute(
                _INSERT_TOKEN,
                {
                    "token": view.token,
                    "brand": view.brand,
                    "last4": view.last4,
                    "behaviour": card.behaviour.value,
                    "created_at": now,
                    "reference": view.reference,
                    "max_amount": view.max_amount,
                    "currency": view.currency,
                    "expires_at": view.expires_at,
                    "used_by": None,
                },
            )
        # DEBUG: a token alone is not an event worth a line per order (its charge gets one).
        log.debug(
            "tokenized a card (%s ending %s) as %s for %r",
            view.brand,
            view.last4,
            view.token,
            view.reference,
        )
        return view

    def charge_card(self, idempotency_key: str, request: ChargeRequest) -> ChargeResult:
        """Charge a token at most once per idempotency key; replays return the stored result.

        A batch of one: raises what `charge_batch` answers instead of a charge. A transient
        failure is raised after the commit that keeps the attempt count, so the next try with
        this key gets one step closer to succeeding.
        """
        [result] = self.charge_batch([(idempotency_key, request)])
        if isinstance(result, ChargeResult):
            return result
        raise result

    def charge_batch(
        self, charges: Sequence[tuple[str, ChargeRequest]]
    ) -> list[ChargeResult | ChargeRefusal]:
        """Charge (idempotency key, request) pairs in one transaction, one result per pair.

        Each result is what `charge_card` would have answered (or raised) had the pairs been
        sent one after another in this order. Keys and tokens are read in two queries and the
        new charges written in one statement; keys are handled in sorted order, so concurrent
        batches on PostgreSQL take their row locks in one order and cannot deadlock.
        """
        fingerprints = [
            request_fingerprint(r.token, r.amount, r.currency, r.reference) for _, r in charges
        ]
        results: list[ChargeResult | ChargeRefusal | None] = [None] * len(charges)
        new: dict[str, tuple[ChargeView, str, str]] = {}  # key -> (charge, fingerprint, token)
        used: dict[str, str] = {}  # token -> key of the new charge that used it
        with self._engine.begin() as connection:
            # Tokens first: on PostgreSQL that locks them, so a racing request with the same
            # key waits here and then finds the winner's charge among the stored keys.
            tokens = list({request.token for _, request in charges})
            vault = {
                row.token: _vault_entry(row)
                for row in connection.execute(self._select_tokens, {"tokens": tokens})
            }
            keys = list({key for key, _ in charges})
            stored = {row.idempotency_key: row for row in self._rows_by_key(connection, keys)}
            now = self._clock()
            for index in sorted(range(len(charges)), key=lambda i: charges[i][0]):
                key, request = charges[index]
                results[index] = self._batch_charge(
                    connection, key, fingerprints[index], request, stored, vault, new, used, now
                )
            lost = self._insert_new(connection, new)
            if used:
                connection.execute(
                    _MARK_USED,
                    [{"used_token": token, "used_key": key} for token, key in used.items()],
                )
            if lost:
                # Concurrent requests stored these keys first: answer as their replays.
                winners = {row.idempotency_key: row for row in self._rows_by_key(connection, lost)}
                for index, (key, _) in enumerate(charges):
                    if key in winners and isinstance(
                        results[index], ChargeResult | IdempotencyKeyReused
                    ):
                        results[index] = _replay(winners[key], key, fingerprints[index])
        for key, (charge, _, _) in new.items():
            if key not in lost:
                with order_context(key):
                    self._log_charge(key, charge)
        return [result for result in results if result is not None]

    def _batch_charge(
        self,
        connection: Connection,
        key: str,
        fingerprint: str,
        request: ChargeRequest,
        stored: dict[str, Row[Any]],
        vault: dict[str, VaultEntry],
        new: dict[str, tuple[ChargeView, str, str]],
        used: dict[str, str],
        now: datetime,
    ) -> ChargeResult | ChargeRefusal:
        if key in new:  # the same key earlier in this batch
            charge, earlier, _ = new[key]
            if earlier != fingerprint:
                return IdempotencyKeyReused(key)
            return ChargeResult(charge, replayed=True)
        if key in stored:
            return _replay(stored[key], key, fingerprint)
        entry = vault.get(request.token)
        if entry is None:
            return UnknownToken(request.token)
        binding = entry.binding
        if request.token in used:  # an earlier charge of this batch used it
            binding = replace(binding, used_by=used[request.token])
        refusal = binding_refusal(
            binding, key, request.reference, request.amount, request.currency, now
        )
        # A refused charge is stored like any decline (a retry replays it); it uses nothing.
        status, decline_code = DECLINED, refusal
        if refusal is None:
            behaviour = entry.behaviour
            if behaviour is CardBehaviour.PROCESSING_ERROR:
                attempt = int(connection.execute(self._count_attempt, {"key": key}).scalar_one())
                if fails_transiently(behaviour, attempt, self._transient_failures):
                    with order_context(key):
                        log.info("charge %r: transient failure on attempt %d", key, attempt)
                    return TransientProcessingError(key)
            outcome = outcome_for(behaviour)
            status, decline_code = outcome.status, outcome.decline_code
            used[request.token] = key
        charge = ChargeView(
            charge_id=f"ch_{secrets.token_hex(12)}",
            status=status,
            decline_code=decline_code,
            amount=request.amount,
            currency=request.currency,
            reference=request.reference,
            created_at=now,
        )
        new[key] = (charge, fingerprint, request.token)
        return ChargeResult(charge, replayed=False)

    def _insert_new(
        self, connection: Connection, new: dict[str, tuple[ChargeView, str, str]]
    ) -> list[str]:
        """Insert the batch's new charges in one statement; the keys someone else stored first."""
        if not new:
            return []
        rows = [
            {
                "charge_id": charge.charge_id,
                "idempotency_key": key,
                "request_fingerprint": fingerprint,
                "token": token,
                "amount": charge.amount,
                "currency": charge.currency,
                "reference": charge.reference,
                "status": charge.status,
                "decline_code": charge.decline_code,
                "created_at": charge.created_at,
            }
            for key, (charge, fingerprint, token) in new.items()
        ]
        inserted: set[str] = set(connection.execute(self._insert_charges, rows).scalars())
        return [key for key in new if key not in inserted]

    @staticmethod
    def _rows_by_key(connection: Connection, keys: list[str]) -> list[Row[Any]]:
        return list(connection.execute(_SELECT_BY_KEYS, {"keys": keys}))

    @staticmethod
    def _log_charge(key: str, charge: ChargeView) -> None:
        log.info(
            "charge %s for %r (reference %r): %s%s",
            charge.charge_id,
            key,
            charge.reference,
            charge.status,
            f" ({charge.decline_code})" if charge.decline_code else "",
        )

    def void_token(self, token: str, reference: str) -> TokenVoid:
        """Make the unused token of `reference` unusable; idempotent. On PostgreSQL the update
        locks the row, so a charge racing it either used the token first (USED) or waits and
        is then declined `token_used`."""
        with self._engine.begin() as connection:
            mine = and_(TOKENS.c.token == token, TOKENS.c.reference == reference)
            voided = connection.execute(
                update(TOKENS).where(mine, TOKENS.c.used_by.is_(None)).values(used_by=VOIDED_BY)
            )
            if voided.rowcount == 1:
                return TokenVoid.VOIDED
            used_by = connection.execute(select(TOKENS.c.used_by).where(mine)).first()
        if used_by is None:
            return TokenVoid.UNKNOWN
        return TokenVoid.VOIDED if used_by[0] == VOIDED_BY else TokenVoid.USED

    def list_charges(
        self, reference: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[ChargeView]:
        """Charges, newest first, optionally only those for one reference or with one status."""
        query = select(*_VIEW_COLUMNS).order_by(CHARGES.c.id.desc()).limit(limit)
        if reference is not None:
            query = query.where(CHARGES.c.reference == reference)
        if status is not None:
            query = query.where(CHARGES.c.status == status)
        with self._engine.connect() as connection:
            return [_view(row) for row in connection.execute(query)]

    def is_ready(self) -> bool:
        """True when the database answers."""
        with self._engine.connect() as connection:
            return connection.execute(text("SELECT 1")).scalar() == 1


def _vault_entry(row: Row[Any]) -> VaultEntry:
    binding = TokenBinding(
        reference=row.reference,
        max_amount=row.max_amount,
        currency=row.currency,
        expires_at=row.expires_at,
        used_by=row.used_by,
    )
    return VaultEntry(CardBehaviour(row.behaviour), binding)


def _replay(row: Row[Any], key: str, fingerprint: str) -> ChargeResult | IdempotencyKeyReused:
    """The stored charge `row` as the answer to a request with `fingerprint` under `key`."""
    if row.request_fingerprint != fingerprint:
        return IdempotencyKeyReused(key)
    return ChargeResult(_view(row), replayed=True)
