"""The settlements page: the balance (available and pending per currency, from the ledger), the settlements list
(filters, keyset pages newest first) and the payouts, each with the settlements it paid."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core.dashboard.settlements import STATUSES, SettlementFilter
from gyeol.faces.dashboard import web

router = APIRouter(tags=["dashboard"], include_in_schema=False)
FILTER_FIELDS = ("from", "to", "status", "payout")
ID = re.compile(r"[A-Za-z0-9_.]{1,64}")  # a payout's or a balance transaction's id; anything else is no filter


def _filter(request: Request) -> tuple[SettlementFilter, dict[str, str]]:
    q = request.query_params
    given = {k: q.get(k, "")[:200] for k in FILTER_FIELDS}
    payout = given["payout"] if ID.fullmatch(given["payout"]) else None
    f = SettlementFilter(day_from=web.day(given["from"]), day_to=web.day(given["to"]),
                         status=given["status"] if given["status"] in STATUSES else None, payout_id=payout)
    return f, {k: v for k, v in given.items() if v}


@router.get("/dashboard/settlements")
async def settlements_page(request: Request) -> Response:
    s = await web.signed_in(request)
    svc = web.services(request)
    f, given = _filter(request)
    cursor = request.query_params.get("after", "")[:200] or None
    payouts_after = request.query_params.get("payouts_after", "")[:64]
    balance = await svc.ledger.balance(s.caller)
    found, next_cursor = await svc.dashboard.settlements.page(s.caller, f, cursor)
    payouts, next_payouts = await svc.dashboard.settlements.payouts(
        s.caller, payouts_after if ID.fullmatch(payouts_after) else None)
    currencies = sorted(set(balance.available) | set(balance.pending))
    return web.render(
        request, "settlements.html", session=s, balance=balance, currencies=currencies, settlements=found,
        payouts=payouts, given=given, statuses=STATUSES,
        next_url=web.with_query("/dashboard/settlements", **given, after=next_cursor) if next_cursor else None,
        first_url=web.with_query("/dashboard/settlements", **given) if cursor else None,
        older_payouts_url=web.with_query("/dashboard/settlements", payouts_after=next_payouts)
        if next_payouts else None)
