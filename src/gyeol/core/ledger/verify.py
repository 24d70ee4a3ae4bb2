"""`gyeol ledger verify`: the ledger recomputed from its transfers and compared with the tables it books.

Every account's posted and held balance is summed from the transfers and compared with what the payments,
refunds and settlements say it must be; every payment's captured, refunded and refunding amounts, every refund's
state, every settlement's gross and fee and every payout's amount are found again in the transfers. Each
difference is a line; none means every money-moving state change has its transfers, and only them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gyeol.core.ledger import repository as repo
from gyeol.core.ledger.accounts import FEES, PAID_OUT, PG_BALANCE, REFUNDS, SALES
from gyeol.core.ledger.book import CHARGE, DEPOSIT, FEE_CODES, PAYOUT, POSTED, REFUND
from gyeol.core.ledger.records import Transfer
from gyeol.db.engine import Conn
from gyeol.models import payments, refunds, settlements

Scope = tuple[str, bool, str]  # merchant, livemode, currency


@dataclass(frozen=True, slots=True)
class Report:
    transfers: int
    accounts: int
    payments: int
    differences: list[str]


async def verify(conn: Conn) -> Report:
    """Read everything in one snapshot (the caller's `db.read()` on SQLite) and compare."""
    accounts = await repo.all_accounts(conn)
    transfers = await repo.all_transfers(conn)
    pays = await repo.table(conn, payments, "id", "merchant_id", "livemode", "currency", "status",
                            "authorized_amount", "captured_amount", "refunded_amount", "refunding_amount")
    refs = await repo.table(conn, refunds, "id", "payment_id", "amount", "status")
    stls = await repo.table(conn, settlements, "id", "merchant_id", "livemode", "currency", "source_id", "kind",
                            "gross_amount", "fee_amount", "net_amount", "status", "payout_date", "payout_id")
    found = Ledger(accounts, transfers)
    diffs = [*found.structure(), *found.balances(pays, stls), *found.payments(pays), *found.refunds(refs),
             *found.settlements(stls), *found.payouts(stls)]
    return Report(len(transfers), len(accounts), len(pays), diffs)


def _scope(row: Any) -> Scope:
    return row.merchant_id, bool(row.livemode), row.currency


class Ledger:
    """The transfers, indexed for the comparisons."""

    def __init__(self, accounts: dict[str, tuple[str, bool, str, str]], transfers: list[Transfer]) -> None:
        self.accounts = accounts
        self.transfers = transfers
        self.by_id = {t.id: t for t in transfers}
        self.settling = {t.held_id: t for t in transfers if t.held_id is not None}
        self.main: dict[str, Transfer] = {}  # a source's posted charge, deposit or refund
        self.fee: dict[str, Transfer] = {}  # a source's fee, or the part of it returned
        for t in transfers:
            if t.phase in POSTED and t.code in (CHARGE, DEPOSIT, REFUND):
                self.main[t.source_id] = t
            elif t.code in FEE_CODES:
                self.fee[t.source_id] = t

    def open_holds(self) -> Iterable[Transfer]:
        return (t for t in self.transfers if t.phase == "held" and t.id not in self.settling)

    def structure(self) -> Iterable[str]:
        """Each transfer between two accounts of its scope; each post, void or expiry of a hold of its own."""
        for t in self.transfers:
            for side, account in (("debit", t.debit_account_id), ("credit", t.credit_account_id)):
                if self.accounts.get(account, (None,) * 3)[:3] != (t.merchant_id, bool(t.livemode), t.currency):
                    yield f"transfer {t.id}: its {side} account {account} is not of its merchant, mode and currency"
            if t.held_id is None:
                continue
            h = self.by_id.get(t.held_id)
            if h is None or h.phase != "held" or (h.debit_account_id, h.credit_account_id, h.code, h.source_id) != (
                    t.debit_account_id, t.credit_account_id, t.code, t.source_id):
                yield f"transfer {t.id}: {t.phase}s {t.held_id}, which is not a hold of the same accounts and source"
            elif t.amount > h.amount or (t.phase != "post" and t.amount != h.amount):
                yield f"transfer {t.id}: {t.phase}s {t.amount} of a hold of {h.amount}"

    def balances(self, pays: list[Any], stls: list[Any]) -> Iterable[str]:
        """Every account's posted and held balance (debits less credits), from the transfers and from the
        tables."""
        got: dict[tuple[str, str], int] = defaultdict(int)
        for t in self.transfers:
            state = "posted" if t.phase in POSTED else "held" if t.phase == "held" else None
            if state == "held" and t.id in self.settling:
                state = None
            if state is not None:
                got[(t.debit_account_id, state)] += t.amount
                got[(t.credit_account_id, state)] -= t.amount
        want: dict[tuple[Scope, str, str], int] = defaultdict(int)
        for s in stls:
            scope = _scope(s)
            want[(scope, SALES if s.kind == "payment" else REFUNDS, "posted")] -= s.gross_amount
            want[(scope, FEES, "posted")] += s.fee_amount
            want[(scope, PG_BALANCE, "posted")] += s.net_amount
            if s.status == "paid":
                want[(scope, PG_BALANCE, "posted")] -= s.net_amount
                want[(scope, PAID_OUT, "posted")] += s.net_amount
        for p in pays:
            held = p.authorized_amount if p.status == "authorized" else 0
            want[(_scope(p), PG_BALANCE, "held")] += held - p.refunding_amount
            want[(_scope(p), SALES, "held")] -= held
            want[(_scope(p), REFUNDS, "held")] += p.refunding_amount
        for account_id, (merchant_id, livemode, currency, kind) in self.accounts.items():
            for state in ("posted", "held"):
                ledger = got.get((account_id, state), 0)
                expected = want.get(((merchant_id, livemode, currency), kind, state), 0)
                if ledger != expected:
                    yield (f"account {account_id}: {state} balance {ledger} in the ledger, {expected} from the "
                           f"{'settlements' if state == 'posted' else 'payments'}")

    def payments(self, pays: list[Any]) -> Iterable[str]:
        """Each payment's captured, refunded and refunding amounts and its authorization's hold."""
        amounts: dict[tuple[str, str], int] = defaultdict(int)
        for t in self.transfers:
            if t.payment_id is None:
                continue
            if t.phase in POSTED and t.code in (CHARGE, DEPOSIT):
                amounts[(t.payment_id, "captured")] += t.amount
            elif t.phase in POSTED and t.code == REFUND:
                amounts[(t.payment_id, "refunded")] += t.amount
        for t in self.open_holds():
            amounts[(t.payment_id or "", "refunding" if t.code == REFUND else "held")] += t.amount
        for p in pays:
            held = p.authorized_amount if p.status == "authorized" else 0
            for what, expected in (("captured", p.captured_amount), ("refunded", p.refunded_amount),
                                   ("refunding", p.refunding_amount), ("held", held)):
                ledger = amounts.get((p.id, what), 0)
                if ledger != expected:
                    yield f"payment {p.id} ({p.status}): {what} {expected} in payments, {ledger} in the ledger"
            if p.status == "voided":
                void = self.settling.get(f"{p.id}.{CHARGE}.held")
                if void is None or void.phase != "void":
                    yield f"payment {p.id} (voided): its authorization's hold is not voided in the ledger"

    def refunds(self, refs: list[Any]) -> Iterable[str]:
        """Each refund held while pending, posted when it succeeded, voided when it failed, for its amount."""
        phases = {"pending": None, "succeeded": "post", "failed": "void"}
        for r in refs:
            hold = self.by_id.get(f"{r.id}.{REFUND}.held")
            settled = self.settling.get(hold.id) if hold is not None else None
            if hold is None or hold.amount != r.amount:
                yield f"refund {r.id} ({r.status}): no hold of {r.amount} in the ledger"
            elif (settled.phase if settled is not None else None) != phases.get(r.status):
                state = {"post": "posted", "void": "voided", "expire": "expired"}[settled.phase] if settled else "open"
                yield f"refund {r.id} ({r.status}): its hold is {state} in the ledger"
            elif settled is not None and settled.phase == "post" and settled.amount != r.amount:
                yield f"refund {r.id}: {r.amount} in refunds, {settled.amount} posted in the ledger"

    def settlements(self, stls: list[Any]) -> Iterable[str]:
        """Each settlement's gross, fee and payout date in its source's transfers; no transfer of a source
        without one."""
        sources = set()
        for s in stls:
            sources.add(s.source_id)
            main, fee = self.main.get(s.source_id), self.fee.get(s.source_id)
            if main is None or main.amount != abs(s.gross_amount) or main.available_on != s.payout_date:
                yield (f"settlement {s.id}: gross {s.gross_amount} on {s.payout_date}, in the ledger "
                       f"{(main.amount, str(main.available_on)) if main else 'nothing'}")
            if (fee.amount if fee is not None else 0) != abs(s.fee_amount):
                yield f"settlement {s.id}: fee {s.fee_amount}, in the ledger {fee.amount if fee else 0}"
        for t in (*self.main.values(), *self.fee.values()):
            if t.source_id not in sources:
                yield f"transfer {t.id}: {t.code} {t.amount} of {t.source_id}, which has no settlement"

    def payouts(self, stls: list[Any]) -> Iterable[str]:
        """Each payout's transfer: the net of the settlements it paid."""
        nets: dict[str, int] = defaultdict(int)
        for s in stls:
            if s.status == "paid":
                nets[s.payout_id or f"(none: settlement {s.id})"] += s.net_amount
        booked = {t.source_id: t for t in self.transfers if t.code == PAYOUT}
        for payout_id in nets.keys() | booked.keys():
            t = booked.get(payout_id)
            ledger = 0 if t is None else t.amount if self.accounts.get(t.debit_account_id, "")[3:] == (
                PAID_OUT,) else -t.amount
            if ledger != nets.get(payout_id, 0):
                yield f"payout {payout_id}: {nets.get(payout_id, 0)} in settlements, {ledger} in the ledger"
