"""the double-entry ledger: accounts and immutable transfers, guarded by the database, backfilled from what exists

Every money movement is now booked as transfers (core/ledger, docs/ledger.md) in the transaction of the state
change it books. The database refuses a transfer whose amount is not positive (CHECK), one between accounts of
different merchants, currencies or modes (composite foreign keys to the accounts), and any UPDATE or DELETE of a
transfer (a trigger). Settlements learn the payout that paid them.

The ledger is backfilled here from the payments, refunds and settlements there are, as the code books them today:
an authorization not captured is held, a void releases it, a capture posts it (a payment captured with its
authorization is posted in one step), each settlement's fee is a transfer, a refund is held and then posted or
voided, and the settlements paid together (one merchant, mode, currency and pass) are one payout. `gyeol ledger
verify` passes right after it.

Revision ID: 0014_ledger
Revises: 0013_payment_channel
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from alembic import op

import gyeol.db.types

revision = "0014_ledger"
down_revision = "0013_payment_channel"
branch_labels = None
depends_on = None

# As they are at this revision (core.money.EXPONENTS, core.ledger.accounts.KINDS).
CURRENCIES = ("CNY", "EUR", "GBP", "JPY", "KRW", "SGD", "USD")
KINDS = ("pg_balance", "sales", "refunds", "fees", "paid_out")
KST = timezone(timedelta(hours=9))
IMMUTABLE = "ledger transfers are immutable: book a reversing transfer"
SQLITE_GUARDS = [
    f"CREATE TRIGGER ledger_transfers_no_update BEFORE UPDATE ON ledger_transfers "
    f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END",
    f"CREATE TRIGGER ledger_transfers_no_delete BEFORE DELETE ON ledger_transfers "
    f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE}'); END",
]
PG_GUARDS = [
    f"CREATE FUNCTION ledger_transfers_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    f"RAISE EXCEPTION '{IMMUTABLE}' USING ERRCODE = 'restrict_violation'; END $$",
    "CREATE TRIGGER ledger_transfers_immutable BEFORE UPDATE OR DELETE ON ledger_transfers "
    "FOR EACH ROW EXECUTE FUNCTION ledger_transfers_immutable()",
]

_when = gyeol.db.types.UTCDateTime
payments = sa.table(
    "payments", *(sa.column(c) for c in ("id", "merchant_id", "livemode", "currency", "status", "capture_method",
                                         "method_type", "authorized_amount", "pg_transaction_id")),
    sa.column("authorized_at", _when()), sa.column("canceled_at", _when()), sa.column("created_at", _when()),
    sa.column("updated_at", _when()))
refunds = sa.table(
    "refunds", *(sa.column(c) for c in ("id", "merchant_id", "livemode", "currency", "payment_id", "amount",
                                        "status", "pg_transaction_id")),
    sa.column("created_at", _when()), sa.column("updated_at", _when()))
settlements = sa.table(
    "settlements", *(sa.column(c) for c in ("id", "merchant_id", "livemode", "payment_id", "source_id", "kind",
                                            "gross_amount", "fee_amount", "net_amount", "currency", "status",
                                            "payout_id")),
    sa.column("payout_date", sa.Date()), sa.column("paid_at", _when()), sa.column("created_at", _when()))


def upgrade() -> None:
    with op.batch_alter_table("settlements") as batch:
        batch.add_column(sa.Column("payout_id", sa.String(length=40), nullable=True))
    accounts = op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("created_at", gyeol.db.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["merchant_id"], ["merchants.id"], name=op.f("fk_ledger_accounts_merchant_id_merchants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_accounts")),
        sa.UniqueConstraint("merchant_id", "livemode", "currency", "kind",
                            name=op.f("uq_ledger_accounts_merchant_id_livemode_currency_kind")),
        sa.UniqueConstraint("id", "merchant_id", "currency", "livemode", name=op.f("uq_ledger_accounts_scope")),
    )
    scope = ["ledger_accounts.id", "ledger_accounts.merchant_id", "ledger_accounts.currency", "ledger_accounts.livemode"]
    transfers = op.create_table(
        "ledger_transfers",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("merchant_id", sa.String(length=40), nullable=False),
        sa.Column("livemode", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("debit_account_id", sa.String(length=80), nullable=False),
        sa.Column("credit_account_id", sa.String(length=80), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("phase", sa.String(length=8), nullable=False),
        sa.Column("held_id", sa.String(length=64), nullable=True),
        sa.Column("payment_id", sa.String(length=40), nullable=True),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("pg_transaction_id", sa.String(length=200), nullable=True),
        sa.Column("available_on", sa.Date(), nullable=True),
        sa.Column("created_at", gyeol.db.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_ledger_transfers_amount_positive")),
        sa.CheckConstraint("debit_account_id <> credit_account_id", name=op.f("ck_ledger_transfers_two_accounts")),
        sa.CheckConstraint("(phase IN ('posted', 'held') AND held_id IS NULL) OR "
                           "(phase IN ('post', 'void', 'expire') AND held_id IS NOT NULL)",
                           name=op.f("ck_ledger_transfers_phase")),
        sa.ForeignKeyConstraint(["debit_account_id", "merchant_id", "currency", "livemode"], scope,
                                name="fk_ledger_transfers_debit"),
        sa.ForeignKeyConstraint(["credit_account_id", "merchant_id", "currency", "livemode"], scope,
                                name="fk_ledger_transfers_credit"),
        sa.ForeignKeyConstraint(["held_id"], ["ledger_transfers.id"],
                                name=op.f("fk_ledger_transfers_held_id_ledger_transfers")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_transfers")),
        sa.UniqueConstraint("id", name=op.f("uq_ledger_transfers_id")),
    )
    op.create_index("ix_ledger_transfers_merchant", "ledger_transfers", ["merchant_id", "livemode", "seq"])
    for name, column in (("uq_ledger_transfers_held", "held_id"), ("ix_ledger_transfers_pg_tx", "pg_transaction_id")):
        present = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, "ledger_transfers", [column], unique=name.startswith("uq_"), sqlite_where=present,
                        postgresql_where=present)
    conn = op.get_bind()
    for ddl in PG_GUARDS if conn.dialect.name == "postgresql" else SQLITE_GUARDS:
        op.execute(ddl)
    _backfill(conn, accounts, transfers)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER ledger_transfers_immutable ON ledger_transfers")
        op.execute("DROP FUNCTION ledger_transfers_immutable()")
    else:
        op.execute("DROP TRIGGER ledger_transfers_no_update")
        op.execute("DROP TRIGGER ledger_transfers_no_delete")
    op.drop_table("ledger_transfers")
    op.drop_table("ledger_accounts")
    with op.batch_alter_table("settlements") as batch:
        batch.drop_column("payout_id")


# --- the backfill -----------------------------------------------------------------------------------------------
def _new_id(prefix: str) -> str:  # as gyeol.ids makes them
    return f"{prefix}_{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{os.urandom(6).hex()}"


def _account(merchant_id: str, livemode: bool, currency: str, kind: str) -> str:
    return f"{merchant_id}.{'live' if livemode else 'test'}.{currency}.{kind}"


def _transfer(of: Any, *, debit: str, credit: str, amount: int, code: str, phase: str, source_id: str,
              payment_id: str | None, at: datetime, pg_tx: str | None = None, available_on: Any = None) -> dict[str, Any]:
    live = bool(of.livemode)
    return {"id": f"{source_id}.{code}" if phase == "posted" else f"{source_id}.{code}.{phase}",
            "merchant_id": of.merchant_id, "livemode": live, "currency": of.currency,
            "debit_account_id": _account(of.merchant_id, live, of.currency, debit),
            "credit_account_id": _account(of.merchant_id, live, of.currency, credit), "amount": amount,
            "code": code, "phase": phase,
            "held_id": f"{source_id}.{code}.held" if phase in ("post", "void") else None,
            "payment_id": payment_id, "source_id": source_id, "pg_transaction_id": pg_tx,
            "available_on": available_on, "created_at": at}


def _backfill(conn: sa.Connection, accounts: sa.Table, transfers: sa.Table) -> None:
    now = datetime.now(UTC)
    merchant_ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM merchants"))]
    rows = [{"id": _account(m, live, c, k), "merchant_id": m, "livemode": live, "currency": c, "kind": k,
             "created_at": now} for m in merchant_ids for live in (False, True) for c in CURRENCIES for k in KINDS]
    _insert(conn, accounts, rows)

    # The settlements paid in one pass, for one merchant, mode and currency, were one payout.
    paid: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    by_source: dict[str, Any] = {}
    for s in conn.execute(sa.select(settlements)):
        by_source[s.source_id] = s
        if s.status == "paid":
            paid[(s.merchant_id, bool(s.livemode), s.currency, s.paid_at)].append(s)
    out = []
    for (_, _, _, paid_at), group in paid.items():
        payout_id = _new_id("po")
        conn.execute(sa.update(settlements).where(settlements.c.id.in_([s.id for s in group]))
                     .values(payout_id=payout_id))
        amount = sum(s.net_amount for s in group)
        if amount:
            debit, credit = ("paid_out", "pg_balance") if amount > 0 else ("pg_balance", "paid_out")
            out.append(_transfer(group[0], debit=debit, credit=credit, amount=abs(amount), code="payout",
                                 phase="posted", source_id=payout_id, payment_id=None, at=paid_at,
                                 available_on=paid_at.astimezone(KST).date()))

    for p in conn.execute(sa.select(payments).where(payments.c.authorized_amount > 0)):
        stl = by_source.get(p.id)
        held = p.capture_method == "manual" or p.status in ("authorized", "voided", "captured")
        code = "deposit" if p.method_type == "virtual_account" else "charge"
        common = {"source_id": p.id, "payment_id": p.id, "code": code, "debit": "pg_balance", "credit": "sales"}
        if held:
            out.append(_transfer(p, **common, amount=p.authorized_amount, phase="held",
                                 at=p.authorized_at or p.created_at, pg_tx=p.pg_transaction_id))
        if held and p.status == "voided":
            out.append(_transfer(p, **common, amount=p.authorized_amount, phase="void",
                                 at=p.canceled_at or p.updated_at))
        if stl is not None:
            out.append(_transfer(p, **common, amount=stl.gross_amount, phase="post" if held else "posted",
                                 at=stl.created_at, pg_tx=p.pg_transaction_id, available_on=stl.payout_date))
            if stl.fee_amount > 0:
                out.append(_transfer(p, debit="fees", credit="pg_balance", amount=stl.fee_amount, code="fee",
                                     phase="posted", source_id=p.id, payment_id=p.id, at=stl.created_at,
                                     pg_tx=p.pg_transaction_id, available_on=stl.payout_date))

    for r in conn.execute(sa.select(refunds)):
        common = {"source_id": r.id, "payment_id": r.payment_id, "code": "refund", "debit": "refunds",
                  "credit": "pg_balance", "amount": r.amount}
        out.append(_transfer(r, **common, phase="held", at=r.created_at))
        stl = by_source.get(r.id)
        if r.status == "failed":
            out.append(_transfer(r, **common, phase="void", at=r.updated_at))
        elif r.status == "succeeded" and stl is not None:
            out.append(_transfer(r, **common, phase="post", at=stl.created_at, pg_tx=r.pg_transaction_id,
                                 available_on=stl.payout_date))
            if stl.fee_amount < 0:
                out.append(_transfer(r, debit="pg_balance", credit="fees", amount=-stl.fee_amount,
                                     code="fee_refund", phase="posted", source_id=r.id, payment_id=r.payment_id,
                                     at=stl.created_at, pg_tx=r.pg_transaction_id, available_on=stl.payout_date))
    # Holds before what settles them: the foreign key of a post or a void names its hold.
    out.sort(key=lambda t: t["phase"] not in ("held", "posted"))
    _insert(conn, transfers, out)


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 1000):
        conn.execute(table.insert(), rows[start:start + 1000])
