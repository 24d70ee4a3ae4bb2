"""The records the payment core creates: one factory for a payment, one for an attempt.

Every payment, whether a merchant created it (`create_intent`) or a PG approved it before Gyeol saw it (the shop's
webhook), starts from `new_payment`; every try at a PG, an authorization or a follow-up, from `new_attempt`. A
column added to either table is then added here once (and to `records.py`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from gyeol.core.payments.records import Attempt, Channel, Payment
from gyeol.ids import new_id


def new_payment(*, merchant_id: str, livemode: bool, channel: Channel, order_id: str, amount: int, currency: str,
                expires_at: datetime, now: datetime, **given: Any) -> Payment:
    """A `created` payment, not yet inserted, with its client token; `given` sets any other column."""
    payment_id = new_id("pay")
    row: dict[str, Any] = {
        "id": payment_id, "merchant_id": merchant_id, "order_pk": "", "order_id": order_id,
        "livemode": livemode, "channel": channel, "status": "created", "amount": amount, "currency": currency,
        "capture_method": "automatic", "authorized_amount": 0, "captured_amount": 0, "refunded_amount": 0,
        "refunding_amount": 0, "open_attempt_id": None, "description": None, "customer_id": None,
        "user_id": None, "payment_key": None, "payment_number": None, "method_type": None,
        "payment_method_id": None, "card_brand": None, "card_last4": None, "connector": None,
        "pg_transaction_id": None, "failure_reason": None, "failure_message": None, "next_action_url": None,
        # The token starts with the payment's id: `repository.get_by_client_token` reads it by primary key.
        "client_token": f"{payment_id}_secret_{secrets.token_urlsafe(18)}", "return_url": None,
        "cancel_url": None, "metadata": {}, "expires_at": expires_at, "authorized_at": None, "captured_at": None,
        "canceled_at": None, "receipt_id": None, "created_at": now, "updated_at": now,
    }
    unknown = given.keys() - row.keys()
    assert not unknown, f"not payment columns: {sorted(unknown)}"
    row.update(given)
    return Payment(**row)


def new_attempt(p: Payment, kind: str, now: datetime, *, amount: int, connector: str, method_type: str | None,
                pg_token: str | None = None, pg_transaction_id: str | None = None, status: str = "started") -> Attempt:
    """A `started` attempt at payment `p`'s PG, not yet inserted: `kind` is authorize, capture or void. Its id is
    the PG's idempotency key, so a resend of the same attempt is never a second charge. An `authenticated` one is
    sent only when the merchant confirms (`authenticated.py`)."""
    return Attempt(
        id=new_id("att"), payment_id=p.id, merchant_id=p.merchant_id, livemode=p.livemode, kind=kind, status=status,
        amount=amount, connector=connector, method_type=method_type, pg_token=pg_token,
        pg_transaction_id=pg_transaction_id, error_code=None, error_message=None, next_check_at=None, checks=0,
        created_at=now, updated_at=now,
    )
