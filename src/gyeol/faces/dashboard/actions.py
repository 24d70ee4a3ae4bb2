"""A payment's actions: capture, cancel, and full or partial refund. Each is asked for on the detail page, confirmed
on a page of its own, and then done through the same core services as the API, under an idempotency key minted
with the confirmation and served as the API guard serves a keyed request (`idempotency.serve`): a double click
sends the key twice, and the second request is answered from the first."""

from __future__ import annotations

import hashlib
import secrets

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core import idempotency
from gyeol.core.errors import DomainError
from gyeol.core.idempotency import Claim, Kept, RequestKey
from gyeol.core.idempotency import Request as KeyedRequest
from gyeol.core.money import format_amount
from gyeol.core.refunds.service import RefundCommand
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.texts import TEXT

router = APIRouter(tags=["dashboard"], include_in_schema=False)
ACTIONS = ("capture", "cancel", "refund")


def _detail(payment_id: str, **query: str) -> str:
    return web.with_query(f"/dashboard/payments/{payment_id}", **query)


@router.post("/dashboard/payments/{payment_id}/{action}/confirm")
async def confirm_page(payment_id: str, action: str, request: Request) -> Response:
    """The confirmation of an action, with the key its final post will carry."""
    posted = await web.posted(request)
    if action not in ACTIONS:
        raise DomainError("not_found", "NOT_FOUND", "No such action.")
    story = await web.services(request).dashboard.stories.story(posted.session.caller, payment_id)
    p, t = story.payment, TEXT[web.lang(request)]
    amount = None
    if action == "refund":
        try:
            amount = web.minor_units(posted.form.get("amount"), p.currency)
        except DomainError:
            return web.see_other(_detail(p.id, problem="INVALID_AMOUNT"))
        if amount is None or amount <= 0:
            amount = story.refundable
    text = t[f"confirm_{action}"].format(amount=format_amount(amount or 0, p.currency))
    return web.render(request, "confirm.html", session=posted.session, p=p, action=action, text=text,
                      amount=amount, reason=posted.form.get("reason", "")[:200], key=secrets.token_urlsafe(24))


@router.post("/dashboard/payments/{payment_id}/{action}")
async def act(payment_id: str, action: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc, s, form = web.services(request), posted.session, posted.form
    if action not in ACTIONS or len(payment_id) > 64:
        raise DomainError("not_found", "NOT_FOUND", "No such action.")
    key, reason = form.get("key", "")[:100], form.get("reason", "")[:200] or None
    amount_text = form.get("amount", "")[:30]
    if not key:
        return web.see_other(_detail(payment_id, problem="MISSING_KEY"))
    digest = hashlib.sha256(f"{action}|{amount_text}|{reason}".encode()).hexdigest()
    path = f"/dashboard/payments/{payment_id}/{action}"
    held = RequestKey(KeyedRequest(s.staff.merchant_id, s.caller.scope, key, "POST", path, digest), svc.idempotency)
    caller, note = s.caller, posted.note(f"payment.{action}", payment_id, reason=reason)

    async def work() -> str:
        # The core records the staff member's note with the change, in its transaction.
        if action == "capture":
            charge = await svc.payments.capture(caller, payment_id, None, note=note)
            return charge.payment.status
        if action == "cancel":
            charge = await svc.payments.cancel(caller, payment_id, reason, note=note)
            return charge.payment.status
        amount = int(amount_text) if amount_text.isdigit() else None
        refund = await svc.refunds.refund(caller, RefundCommand(payment_id, amount, reason), note=note)
        return f"{refund.id}:{refund.status}"

    try:
        outcome = await idempotency.serve(held, work, lambda done: Kept(200, done.encode(), {}))
    except DomainError as err:
        if err.kind == "not_found":
            raise
        return web.see_other(_detail(payment_id, problem=err.code))
    if isinstance(outcome, Claim) and outcome.kind == "in_progress":
        return web.see_other(_detail(payment_id, busy="1"))
    if isinstance(outcome, Claim) and outcome.kind == "mismatch":
        return web.see_other(_detail(payment_id, problem="IDEMPOTENCY_KEY_REUSED"))
    return web.see_other(_detail(payment_id, done=action))  # done now, or by the first post of the key
