"""Developers: the merchant's API keys (a new key's secret is shown once; keys can be revoked) and the way to the
API reference (/docs, /redoc, served from files shipped with Gyeol)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.core.staff.records import Session
from gyeol.faces.dashboard import web

router = APIRouter(tags=["dashboard"], include_in_schema=False)


async def _page(request: Request, session: Session, *, secret: str | None = None, problem: str | None = None,
                status: int = 200) -> Response:
    keys = await web.services(request).merchants.list_keys(session.staff.merchant_id)
    keys.sort(key=lambda k: k["createdAt"] or "", reverse=True)
    return web.render(request, "developers.html", session=session, keys=keys, secret=secret, problem=problem,
                      status=status)


@router.get("/dashboard/developers")
async def developers(request: Request) -> Response:
    return await _page(request, await web.signed_in(request))


@router.post("/dashboard/developers/keys")
async def create_key(request: Request) -> Response:
    posted = await web.posted(request)
    mode = "live" if posted.form.get("mode") == "live" else "test"
    if mode == "live":
        web.owner_only(posted.session)
    svc = web.services(request)
    _, secret = await svc.merchants.create_key(posted.session.staff.merchant_id, mode,
                                               note=posted.note("key.created"))
    return await _page(request, posted.session, secret=secret, status=201)


@router.post("/dashboard/developers/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc = web.services(request)
    try:
        await svc.merchants.revoke_key(key_id[:64], posted.session.staff.merchant_id,
                                       note=posted.note("key.revoked"))
    except DomainError as err:
        if err.kind == "not_found":
            raise
        return await _page(request, posted.session, problem=err.message, status=err.status)
    svc.keys.forget()
    return web.see_other("/dashboard/developers")
