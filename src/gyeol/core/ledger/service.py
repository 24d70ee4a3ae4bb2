"""The ledger's reads: a merchant's balance and what changed it (the native API's `/balance`), `verify`, and the
transfers an export writes. Its writes are the money movements' own (`book`)."""

from __future__ import annotations

from datetime import datetime

from gyeol.core.clock import KST, Clock
from gyeol.core.context import Caller
from gyeol.core.errors import not_found
from gyeol.core.ledger import repository as repo
from gyeol.core.ledger import verify as verifying
from gyeol.core.ledger.records import Balance, BalanceTransaction, Transfer
from gyeol.db.engine import Database


class LedgerService:
    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    async def balance(self, caller: Caller) -> Balance:
        """What the PGs owe the caller's merchant in its mode, per currency: pending until each movement's payout
        date (KST), available from it until paid out."""
        today = self.clock.now().astimezone(KST).date()
        async with self.db.read() as conn:
            sums = await repo.balances(conn, caller)
        available: dict[str, int] = {}
        pending: dict[str, int] = {}
        for currency, day, amount in sums:
            available.setdefault(currency, 0)
            pending.setdefault(currency, 0)
            (available if day is not None and day <= today else pending)[currency] += amount
        return Balance(caller.livemode, available, pending)

    async def transactions(self, caller: Caller, *, limit: int, starting_after: str | None = None,
                           types: list[str] | None = None,
                           created: dict[str, datetime] | None = None) -> tuple[list[BalanceTransaction], bool]:
        """The movements of the caller's balance, newest first, after `starting_after` (a transaction's id); and
        whether there are more."""
        async with self.db.read() as conn:
            before = None
            if starting_after is not None:
                before = await repo.seq_of(conn, caller, starting_after)
                if before is None:
                    raise not_found("balanceTransaction", starting_after)
            legs = await repo.main_legs(conn, caller, limit=limit + 1, before_seq=before, types=types or [],
                                        created=created or {})
            fees = await repo.fees_of(conn, caller, [t.source_id for t, _ in legs[:limit]])
        items = []
        for t, amount in legs[:limit]:
            fee = fees.get(t.source_id, 0)
            items.append(BalanceTransaction(
                id=t.id, livemode=bool(t.livemode), type=t.code, amount=amount, fee=fee, net=amount - fee,
                currency=t.currency, source_id=t.source_id, payment_id=t.payment_id, available_on=t.available_on,
                created_at=t.created_at))
        return items, len(legs) > limit

    async def verify(self) -> verifying.Report:
        """`verify.verify` in one snapshot, so that a movement committed while it reads is in all of its reads or
        in none: SQLite's read transaction, or a read-only REPEATABLE READ transaction on PostgreSQL (where
        `db.read()` runs each statement on its own)."""
        if self.db.is_sqlite:
            async with self.db.read() as conn:
                return await verifying.verify(conn)
        async with self.db.tx() as conn:
            await repo.one_snapshot(conn)
            return await verifying.verify(conn)

    async def export(self, start: datetime | None, end: datetime | None
                     ) -> tuple[dict[str, tuple[str, bool, str, str]], list[Transfer]]:
        """Every account, and the transfers created in [start, end), in the order they were written."""
        async with self.db.read() as conn:
            return await repo.all_accounts(conn), await repo.all_transfers(conn, start, end)
