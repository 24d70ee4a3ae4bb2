"""Webhook endpoints (create, edit, disable, rotate the secret), their delivery log with each request and response,
and resending one delivery or all failed ones: through the core's webhook service, as the API does."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.texts import TEXT

router = APIRouter(tags=["dashboard"], include_in_schema=False)


def _events(text: str) -> list[str]:
    return [e.strip() for e in text.replace("\n", ",").split(",") if e.strip()][:50]


def _problem(request: Request, err: DomainError) -> str:
    return f"{TEXT[web.lang(request)]['error']} ({err.message})"


@router.get("/dashboard/webhooks")
async def endpoints(request: Request) -> Response:
    s = await web.signed_in(request)
    page = await web.services(request).webhooks.list_page(s.caller, 1, 100)
    return web.render(request, "webhooks.html", session=s, endpoints=page.items, secret=None, created=None)


@router.post("/dashboard/webhooks")
async def create(request: Request) -> Response:
    posted = await web.posted(request)
    svc, form = web.services(request), posted.form
    try:
        made = await svc.webhooks.create(posted.session.caller, form.get("url", "")[:2000],
                                         _events(form.get("events", "*")), form.get("description", "")[:500] or None,
                                         note=posted.note("webhook.created"))
    except DomainError as err:
        page = await svc.webhooks.list_page(posted.session.caller, 1, 100)
        return web.render(request, "webhooks.html", session=posted.session, endpoints=page.items, secret=None,
                          created=None, problem=_problem(request, err), status=err.status)
    page = await svc.webhooks.list_page(posted.session.caller, 1, 100)
    return web.render(request, "webhooks.html", session=posted.session, endpoints=page.items, secret=made.secret,
                      created=made.endpoint)


@router.get("/dashboard/webhooks/{endpoint_id}")
async def endpoint(endpoint_id: str, request: Request) -> Response:
    s = await web.signed_in(request)
    svc, t = web.services(request), TEXT[web.lang(request)]
    e = await svc.webhooks.get(s.caller, endpoint_id[:64])
    deliveries = await svc.webhooks.deliveries(s.caller, e.id, 1, 100)
    notice = t["done"] if request.query_params.get("done") else None
    return web.render(request, "webhook.html", session=s, e=e, deliveries=deliveries.items, secret=None,
                      notice=notice)


@router.post("/dashboard/webhooks/{endpoint_id}")
async def edit(endpoint_id: str, request: Request) -> Response:
    """Change the address, events or description; `enabled` turns the endpoint on or off."""
    posted = await web.posted(request)
    svc, form, caller = web.services(request), posted.form, posted.session.caller
    enabled = {"1": True, "0": False}.get(form.get("enabled", ""))
    events = _events(form["events"]) if "events" in form else None
    description = form.get("description", "")[:500] if "description" in form else None
    action = "webhook.updated" if enabled is None else "webhook.enabled" if enabled else "webhook.disabled"
    try:
        e = await svc.webhooks.update(caller, endpoint_id[:64], url=form.get("url", "")[:2000] or None,
                                      events=events, enabled=enabled, description=description,
                                      note=posted.note(action))
    except DomainError as err:
        if err.kind == "not_found":
            raise
        e = await svc.webhooks.get(caller, endpoint_id[:64])
        deliveries = await svc.webhooks.deliveries(caller, e.id, 1, 100)
        return web.render(request, "webhook.html", session=posted.session, e=e, deliveries=deliveries.items,
                          secret=None, problem=_problem(request, err), status=err.status)
    return web.see_other(f"/dashboard/webhooks/{e.id}?done=1")


@router.post("/dashboard/webhooks/{endpoint_id}/rotate")
async def rotate(endpoint_id: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc = web.services(request)
    made = await svc.webhooks.rotate_secret(posted.session.caller, endpoint_id[:64],
                                            note=posted.note("webhook.secret_rotated"))
    deliveries = await svc.webhooks.deliveries(posted.session.caller, made.endpoint.id, 1, 100)
    return web.render(request, "webhook.html", session=posted.session, e=made.endpoint,
                      deliveries=deliveries.items, secret=made.secret)


@router.post("/dashboard/webhooks/{endpoint_id}/resend-failed")
async def resend_failed(endpoint_id: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc = web.services(request)
    await svc.webhooks.redeliver_given_up(posted.session.caller, endpoint_id[:64],
                                          note=posted.note("webhook.resent_failed"))
    return web.see_other(f"/dashboard/webhooks/{endpoint_id[:64]}?done=1")


@router.get("/dashboard/webhooks/{endpoint_id}/deliveries/{delivery_id}")
async def delivery(endpoint_id: str, delivery_id: str, request: Request) -> Response:
    s = await web.signed_in(request)
    d, event = await web.services(request).dashboard.delivery(s.caller, endpoint_id[:64], delivery_id[:64])
    body = orjson.dumps(event.payload, option=orjson.OPT_INDENT_2).decode()
    return web.render(request, "delivery.html", session=s, d=d, body=body, notice=None)


@router.post("/dashboard/webhooks/{endpoint_id}/deliveries/{delivery_id}/resend")
async def resend(endpoint_id: str, delivery_id: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc, caller = web.services(request), posted.session.caller
    d, _ = await svc.dashboard.delivery(caller, endpoint_id[:64], delivery_id[:64])
    await svc.webhooks.redeliver(caller, d.event_id, d.endpoint_id, note=posted.note("webhook.resent", d.id))
    return web.see_other(f"/dashboard/webhooks/{d.endpoint_id}?done=1")
