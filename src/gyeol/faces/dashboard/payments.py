"""The home page, the payments list with its CSV export, and a payment's detail."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from gyeol.core.clock import iso
from gyeol.core.dashboard.payments import APIS, METHODS, STATUSES, PaymentFilter, api_of
from gyeol.core.dashboard.totals import per_currency
from gyeol.core.errors import DomainError
from gyeol.core.money import format_amount
from gyeol.core.payments.records import Payment
from gyeol.faces.dashboard import charts, web
from gyeol.faces.dashboard.texts import TEXT
from gyeol.web.security import PAGE_HEADERS

router = APIRouter(tags=["dashboard"], include_in_schema=False)
CODE = re.compile(r"[A-Z_]{1,48}")  # a domain error's code, carried back to the detail page after a refused action
FILTER_FIELDS = ("from", "to", "status", "method", "api", "min", "max", "q")
CSV_COLUMNS = ("paymentId", "createdAt", "status", "amount", "currency", "capturedAmount", "refundedAmount",
               "method", "api", "orderId", "paymentKey", "paymentNumber", "customerId", "cardBrand", "cardLast4")


@router.get("/dashboard")
async def home(request: Request) -> Response:
    s = await web.signed_in(request)
    totals = await web.services(request).dashboard.totals.totals(s.caller)
    t = TEXT[web.lang(request)]
    volumes = per_currency(totals.days)
    volume_charts = [(cur, charts.volume_bars(totals.days, cur, t["volume"])) for cur in sorted(volumes)]
    outcomes = charts.outcome_bars(totals.days, {k: t[k] for k in ("succeeded", "failed", "other")})
    return web.render(request, "home.html", session=s, totals=totals, volume_charts=volume_charts,
                      outcomes=outcomes, width=charts.WIDTH, height=charts.HEIGHT, colors=charts.COLORS)


def _filter(request: Request) -> tuple[PaymentFilter, dict[str, str]]:
    """The list's filter from the address, and the values as typed (to fill the form and the links again).
    Amounts are typed in the won (or the currency's major unit); a value that is not one is a 400."""
    q = request.query_params
    given = {k: q.get(k, "")[:200] for k in FILTER_FIELDS}
    status, method, api = given["status"], given["method"], given["api"]
    f = PaymentFilter(
        day_from=web.day(given["from"]), day_to=web.day(given["to"]),
        status=status if status in STATUSES else None, method=method if method in METHODS else None,
        api=api if api in APIS else None, amount_min=web.minor_units(given["min"], "KRW"),
        amount_max=web.minor_units(given["max"], "KRW"), search=given["q"].strip() or None)
    return f, {k: v for k, v in given.items() if v}


@router.get("/dashboard/payments")
async def payments_list(request: Request) -> Response:
    s = await web.signed_in(request)
    f, given = _filter(request)
    cursor = request.query_params.get("after", "")[:200] or None
    found, next_cursor = await web.services(request).dashboard.search.page(s.caller, f, cursor)
    return web.render(request, "payments.html", session=s, payments=found, given=given, statuses=STATUSES,
                      methods=METHODS, apis=tuple(APIS), api_of=api_of,
                      next_url=web.with_query("/dashboard/payments", **given, after=next_cursor)
                      if next_cursor else None,
                      first_url=web.with_query("/dashboard/payments", **given) if cursor else None,
                      export_url=web.with_query("/dashboard/payments.csv", **given))


def _csv_row(p: Payment) -> list[str]:
    return [p.id, iso(p.created_at) or "", p.status, str(p.amount), p.currency, str(p.captured_amount),
            str(p.refunded_amount), p.method_type or "", api_of(p), p.order_id, p.payment_key or "",
            p.payment_number or "", p.customer_id or "", p.card_brand or "", p.card_last4 or ""]


@router.get("/dashboard/payments.csv")
async def payments_csv(request: Request) -> Response:
    """Exactly the filtered list, every page of it, streamed: amounts in minor units, times in UTC."""
    s = await web.signed_in(request)
    f, _ = _filter(request)
    batches = web.services(request).dashboard.search.batches(s.caller, f)

    async def lines() -> AsyncIterator[str]:
        buf = io.StringIO()
        out = csv.writer(buf)
        out.writerow(CSV_COLUMNS)
        async for batch in batches:
            for p in batch:
                out.writerow(_csv_row(p))
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
        yield buf.getvalue()

    mode = "live" if s.livemode else "test"
    headers = {**PAGE_HEADERS, "Content-Disposition": f'attachment; filename="payments-{mode}.csv"'}
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/dashboard/payments/{payment_id}")
async def payment_detail(payment_id: str, request: Request) -> Response:
    s = await web.signed_in(request)
    if len(payment_id) > 64:
        raise DomainError("not_found", "NOT_FOUND", "No such payment.")
    story = await web.services(request).dashboard.stories.story(s.caller, payment_id)
    t = TEXT[web.lang(request)]
    notice = t["done"] if request.query_params.get("done") else \
        t["in_progress"] if request.query_params.get("busy") else None
    code = request.query_params.get("problem", "")
    problem = f"{t['error']} ({code})" if CODE.fullmatch(code) else None
    return web.render(request, "payment.html", session=s, story=story, p=story.payment, api=api_of(story.payment),
                      notice=notice, problem=problem, refundable=format_amount(story.refundable,
                                                                               story.payment.currency))
