"""The printable receipt page: GET /receipts/{receiptId}. The random receipt id is the only key to it."""

from __future__ import annotations

from datetime import datetime
from html import escape

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, Response

from gyeol.auth.ratelimit import address_of
from gyeol.core.clock import KST
from gyeol.core.money import format_amount
from gyeol.core.payments.records import Receipt
from gyeol.faces.kiosk.views import METHOD, kiosk_status
from gyeol.services import Services
from gyeol.web.security import PAGE_HEADERS
from gyeol.web.texts import bank_name, lang_of

router = APIRouter(tags=["pages"], include_in_schema=False)

TEXT = {
    "ko": {"title": "영수증", "merchant": "가맹점", "order": "주문", "amount": "결제 금액", "method": "결제 수단",
           "approved": "승인 일시", "status": "상태", "cancels": "취소 내역", "balance": "잔액",
           "missing": "영수증을 찾을 수 없습니다.", "print": "인쇄하려면 브라우저의 인쇄 기능을 사용하세요.",
           "CARD": "카드", "TRANSFER": "계좌이체", "VIRTUAL_ACCOUNT": "가상계좌",
           "APPROVED": "승인", "CANCELED": "취소", "PARTIAL_CANCELED": "부분 취소", "INITIATED": "결제 대기",
           "IN_PROGRESS": "처리 중", "AUTHORIZED": "승인(매입 전)", "ABORTED": "실패",
           "WAITING_FOR_DEPOSIT": "입금 대기", "deposited": "입금 일시"},
    "en": {"title": "Receipt", "merchant": "Merchant", "order": "Order", "amount": "Amount", "method": "Method",
           "approved": "Approved at", "status": "Status", "cancels": "Cancellations", "balance": "Balance",
           "missing": "No such receipt.", "print": "Use your browser's print command to print it.",
           "CARD": "Card", "TRANSFER": "Bank transfer", "VIRTUAL_ACCOUNT": "Virtual account",
           "APPROVED": "Approved", "CANCELED": "Canceled", "PARTIAL_CANCELED": "Partly canceled",
           "INITIATED": "Awaiting payment", "IN_PROGRESS": "In progress", "AUTHORIZED": "Authorized",
           "ABORTED": "Failed", "WAITING_FOR_DEPOSIT": "Awaiting deposit", "deposited": "Deposited at"},
}

def _page(lang: str, title: str, body: str, status: int = 200) -> Response:
    html = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(title)}</title><link rel="stylesheet" href="/assets/receipt.css"></head>'
            f"<body><main>{body}</main></body></html>")
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


@router.get("/receipts/{receipt_id}")
async def receipt(receipt_id: str, request: Request, lang: str = Query(default="ko")) -> Response:
    svc: Services = request.app.state.services
    svc.public_limiter.check(address_of(request.scope))
    lang = lang_of(lang)
    t = TEXT[lang]
    found = await svc.payments.receipt(receipt_id)
    if found is None:
        return _page(lang, t["title"], f"<h1>{t['title']}</h1><p>{t['missing']}</p>", status=404)
    return _page(lang, t["title"], _body(found, t, lang))


def _when(value: datetime | None) -> str:
    return value.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S KST") if value else "-"


def _body(r: Receipt, t: dict[str, str], lang: str) -> str:
    p = r.payment
    cur = p.currency
    status = kiosk_status(p)
    if p.method_type == "virtual_account" and p.status == "pending":
        status = "WAITING_FOR_DEPOSIT"  # an issued account: the deposit is what is awaited
    method = METHOD.get(p.method_type or "card", "CARD")
    detail = f" ({p.card_brand} ****{p.card_last4})" if p.card_last4 else \
        f" ({bank_name(r.account_bank, lang)})" if r.account_bank else ""
    rows = [(t["merchant"], r.merchant_name), (t["order"], r.order_name or p.order_id),
            (t["method"], t.get(method, method) + detail),
            (t["approved"], _when(p.captured_at or p.authorized_at)), (t["status"], t.get(status, status)),
            (t["balance"], format_amount(p.captured_amount - p.refunded_amount, cur))]
    if r.deposited_at:
        rows.insert(4, (t["deposited"], _when(r.deposited_at)))
    status_id = ' id="receipt-status"'
    dl = "".join(f"<dt>{escape(k)}</dt><dd{status_id if k == t['status'] else ''}>{escape(str(v))}</dd>"
                 for k, v in rows)
    cancel_rows = "".join(
        f"<tr><td>{escape(_when(c.updated_at))}</td><td>{escape(c.reason or '')}</td>"
        f"<td class=\"num\">-{escape(format_amount(c.amount, cur))}</td></tr>" for c in r.cancels)
    cancel_html = (f"<h2>{t['cancels']}</h2><table>{cancel_rows}</table>") if r.cancels else ""
    return (f"<h1>{t['title']}</h1><p class=\"total\" aria-label=\"{t['amount']}\">"
            f"{escape(format_amount(p.amount, cur))}</p><dl>{dl}</dl>{cancel_html}"
            f"<p class=\"note\">{t['print']}</p>")
