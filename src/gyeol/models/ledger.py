"""The double-entry ledger (core/ledger, docs/ledger.md): accounts per merchant, mode, currency and kind, and
immutable transfers between two of them.

The database keeps the ledger's rules itself (migration 0014): a transfer's amount is positive, its two accounts
differ and are both of its merchant, currency and mode (the composite foreign keys), and no transfer is ever
updated or deleted (a trigger on each database). A mistake is corrected by a reversing transfer.
"""

from __future__ import annotations

import sqlalchemy as sa

from gyeol.models.base import Money, created_at, metadata, partial_index

# Opened with the merchant, for every currency Gyeol takes and both modes (`core.ledger.accounts`), so that a
# money movement names its accounts by their ids and never reads or creates one. Balances are not kept here: they
# are the sums of the transfers (docs/decisions.md).
ledger_accounts = sa.Table(
    "ledger_accounts",
    metadata,
    sa.Column("id", sa.String(80), primary_key=True),
    sa.Column("merchant_id", sa.String(40), sa.ForeignKey("merchants.id"), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # core.ledger.accounts.KINDS
    created_at(),
    sa.UniqueConstraint("merchant_id", "livemode", "currency", "kind"),
    # What a transfer's foreign keys name: an account of the transfer's own merchant, currency and mode.
    sa.UniqueConstraint("id", "merchant_id", "currency", "livemode", name="uq_ledger_accounts_scope"),
)

# One debit account, one credit account, a positive amount. `phase`: posted (in one step), held (the first step of
# a two-phase transfer), or post / void / expire, which settles the held transfer `held_id` names (once: the
# unique index). Ids are made from the source and the movement (`core.ledger.book`), so a movement booked twice
# fails its transaction.
ledger_transfers = sa.Table(
    "ledger_transfers",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("merchant_id", sa.String(40), nullable=False),
    sa.Column("livemode", sa.Boolean, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("debit_account_id", sa.String(80), nullable=False),
    sa.Column("credit_account_id", sa.String(80), nullable=False),
    sa.Column("amount", Money, nullable=False),
    sa.Column("code", sa.String(20), nullable=False),  # core.ledger.book: charge, deposit, fee, refund, ...
    sa.Column("phase", sa.String(8), nullable=False),
    sa.Column("held_id", sa.String(64), sa.ForeignKey("ledger_transfers.id"), nullable=True),
    sa.Column("payment_id", sa.String(40), nullable=True),
    sa.Column("source_id", sa.String(40), nullable=False),  # the payment, refund or payout it books
    sa.Column("pg_transaction_id", sa.String(200), nullable=True),
    # The day (KST) the money reaches the merchant's available balance: the settlement's payout date.
    sa.Column("available_on", sa.Date, nullable=True),
    created_at(),
    sa.CheckConstraint("amount > 0", name="amount_positive"),
    sa.CheckConstraint("debit_account_id <> credit_account_id", name="two_accounts"),
    sa.CheckConstraint("(phase IN ('posted', 'held') AND held_id IS NULL) OR "
                       "(phase IN ('post', 'void', 'expire') AND held_id IS NOT NULL)", name="phase"),
    sa.ForeignKeyConstraint(["debit_account_id", "merchant_id", "currency", "livemode"],
                            ["ledger_accounts.id", "ledger_accounts.merchant_id", "ledger_accounts.currency",
                             "ledger_accounts.livemode"], name="fk_ledger_transfers_debit"),
    sa.ForeignKeyConstraint(["credit_account_id", "merchant_id", "currency", "livemode"],
                            ["ledger_accounts.id", "ledger_accounts.merchant_id", "ledger_accounts.currency",
                             "ledger_accounts.livemode"], name="fk_ledger_transfers_credit"),
    sa.Index("ix_ledger_transfers_merchant", "merchant_id", "livemode", "seq"),
)
partial_index(ledger_transfers, "uq_ledger_transfers_held", "held_id", unique=True)
# For reconciliation: the transfers of what a PG's report names.
partial_index(ledger_transfers, "ix_ledger_transfers_pg_tx", "pg_transaction_id")
