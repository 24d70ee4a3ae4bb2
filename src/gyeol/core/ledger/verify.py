"""`gyeol ledger verify`: the ledger recomputed from its transfers and compared with the tables it books.

Every account's posted and held balance is summed from the transfers and compared with what the settlements
(posted) and the payments (held) say it must be; every payment's captured, refunded and refunding amounts and its
authorization's hold, every refund's state, every settlement's gross, fee and payout date and every payout's
amount are found again in the transfers; every post, void or expiry settles a hold of its own. Each difference is
a line; none means every money-moving state change has its transfers, and only them. The database does the sums
and the joins (`audit`), so the time grows with the rows it scans, not with Python's work per row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from gyeol.core.ledger import audit
from gyeol.core.ledger.accounts import FEES, PAID_OUT, PG_BALANCE, REFUNDS, SALES
from gyeol.db.engine import Conn

Scope = tuple[str, bool, str]  # merchant, livemode, currency


@dataclass(frozen=True, slots=True)
class Report:
    transfers: int
    accounts: int
    payments: int
    differences: list[str]


async def verify(conn: Conn) -> Report:
    """Compare, in the caller's snapshot (`LedgerService.verify`)."""
    transfers, accounts, payments = await audit.counts(conn)
    diffs = [f"transfer {r[0]}: an account of another merchant, currency or mode" for r in await audit.misplaced(conn)]
    diffs += [f"transfer {r.id}: {r.phase} of {r.amount} settles {r.held_id}, which is not a hold of {r.amount} or "
              f"more of the same accounts, code and source (held: {r.held})" for r in await audit.bad_settlings(conn)]
    diffs += await _balances(conn)
    diffs += await _payments(conn)
    diffs += await _refunds(conn)
    diffs += await _settlements(conn)
    diffs += await _payouts(conn)
    return Report(transfers, accounts, payments, diffs)


async def _balances(conn: Conn) -> list[str]:
    got = await audit.account_sums(conn)
    want: dict[tuple[Scope, str, str], int] = defaultdict(int)
    for merchant_id, livemode, currency, kind, status, gross, fee, net in await audit.settlement_sums(conn):
        scope = (merchant_id, bool(livemode), currency)
        want[(scope, SALES if kind == "payment" else REFUNDS, "posted")] -= int(gross)
        want[(scope, FEES, "posted")] += int(fee)
        want[(scope, PG_BALANCE, "posted")] += 0 if status == "paid" else int(net)
        want[(scope, PAID_OUT, "posted")] += int(net) if status == "paid" else 0
    for merchant_id, livemode, currency, held, refunding in await audit.payment_sums(conn):
        scope = (merchant_id, bool(livemode), currency)
        want[(scope, PG_BALANCE, "held")] += int(held) - int(refunding)
        want[(scope, SALES, "held")] -= int(held)
        want[(scope, REFUNDS, "held")] += int(refunding)
    diffs = []
    known = set()
    for account_id, merchant_id, livemode, currency, kind in await audit.all_accounts(conn):
        known.add(account_id)
        for state in ("posted", "held"):
            ledger = got.get((account_id, state), 0)
            expected = want.get(((merchant_id, bool(livemode), currency), kind, state), 0)
            if ledger != expected:
                diffs.append(f"account {account_id}: {state} balance {ledger} in the ledger, {expected} from the "
                             f"{'settlements' if state == 'posted' else 'payments'}")
    diffs += [f"account {a}: in transfers, not among the accounts" for a, _ in got if a not in known]
    return diffs


async def _payments(conn: Conn) -> list[str]:
    diffs = []
    for row in await audit.payment_mismatches(conn):
        if row[0] == "orphan":
            diffs.append(f"payment {row[1]}: has transfers, and no row in payments")
            continue
        pid, status, *amounts = row
        for what, expected, ledger in zip(("captured", "refunded", "refunding", "held"), amounts[:4], amounts[4:],
                                          strict=True):
            if int(expected) != int(ledger):
                diffs.append(f"payment {pid} ({status}): {what} {expected} in payments, {ledger} in the ledger")
        if status == "voided" and all(int(a) == int(b) for a, b in zip(amounts[:4], amounts[4:], strict=True)):
            diffs.append(f"payment {pid} (voided): its authorization's hold is not voided in the ledger")
    return diffs


async def _refunds(conn: Conn) -> list[str]:
    """Each refund held while pending, posted when it succeeded, voided when it failed, for its amount."""
    phases = {"pending": None, "succeeded": "post", "failed": "void"}
    diffs = []
    for r in await audit.refund_states(conn):
        if r.held is None or int(r.held) != int(r.amount):
            diffs.append(f"refund {r.id} ({r.status}): no hold of {r.amount} in the ledger")
        elif r.settled != phases.get(r.status):
            state = {"post": "posted", "void": "voided", "expire": "expired"}.get(r.settled or "", "open")
            diffs.append(f"refund {r.id} ({r.status}): its hold is {state} in the ledger")
        elif r.settled == "post" and int(r.settled_amount) != int(r.amount):
            diffs.append(f"refund {r.id}: {r.amount} in refunds, {r.settled_amount} posted in the ledger")
    return diffs


async def _settlements(conn: Conn) -> list[str]:
    diffs = []
    for row in await audit.settlement_mismatches(conn):
        if row[0] == "unbooked":
            diffs.append(f"source {row[1]}: has transfers, and no settlement")
            continue
        sid, gross, fee, payout_date, ledger_gross, ledger_day, ledger_fee = row
        diffs.append(f"settlement {sid}: gross {gross}, fee {fee}, payout {payout_date}; in the ledger gross "
                     f"{ledger_gross}, fee {ledger_fee}, available on {ledger_day}")
    return diffs


async def _payouts(conn: Conn) -> list[str]:
    """Each payout's transfer: the net of the settlements it paid."""
    nets, booked = await audit.payout_sums(conn)
    want = {(payout_id or f"(none: settlement {first})"): int(net) for payout_id, net, first in nets}
    got = {source_id: int(amount) if kind == PAID_OUT else -int(amount) for source_id, amount, kind in booked}
    return [f"payout {p}: {want.get(p, 0)} in settlements, {got.get(p, 0)} in the ledger"
            for p in sorted(want.keys() | got.keys()) if want.get(p, 0) != got.get(p, 0)]
