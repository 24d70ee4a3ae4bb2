"""The merchant's balance on the native API, in the shape of Stripe's: what the PGs owe it, and what changed it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Query

from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Svc
from gyeol.faces.native.views import balance_transaction_view, balance_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Balance"])
TYPES = "^(charge|deposit|refund|payout)$"


def _utc(when: datetime | None) -> datetime | None:
    """An instant; one given without an offset is read as UTC."""
    if when is None:
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when


@router.get("/balance", summary="The balance: available and pending, per currency")
async def get_balance(svc: Svc, caller: MerchantCaller) -> Any:
    return balance_view(await svc.ledger.balance(caller))


@router.get("/balance/transactions", summary="What changed the balance, newest first")
async def list_balance_transactions(
        svc: Svc, caller: MerchantCaller, limit: int = Query(default=20, ge=1, le=100),
        starting_after: str | None = Query(default=None, alias="startingAfter", max_length=64),
        type: str | None = Query(default=None, pattern=TYPES),
        created_gt: datetime | None = Query(default=None, alias="created[gt]"),
        created_gte: datetime | None = Query(default=None, alias="created[gte]"),
        created_lt: datetime | None = Query(default=None, alias="created[lt]"),
        created_lte: datetime | None = Query(default=None, alias="created[lte]")) -> Any:
    created = {op: _utc(when) for op, when in (("gt", created_gt), ("gte", created_gte), ("lt", created_lt),
                                               ("lte", created_lte)) if when is not None}
    items, more = await svc.ledger.transactions(caller, limit=limit, starting_after=starting_after,
                                                types=[type] if type else None,
                                                created={k: v for k, v in created.items() if v is not None})
    return {"items": [balance_transaction_view(t) for t in items], "hasMore": more}
