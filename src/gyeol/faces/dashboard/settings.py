"""Settings (the merchant's name and fee terms, its Toss keys written and never shown again but for their last 4
characters, its users' JWT settings, its staff) and the audit log of every change staff made."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.auth.users import JwtConfig
from gyeol.core.errors import DomainError
from gyeol.core.merchants import pg_accounts
from gyeol.core.settlements.service import DEFAULT_FEES
from gyeol.core.staff.audit import AuditFilter, AuditNote
from gyeol.core.staff.records import ROLES
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.payments import CODE
from gyeol.faces.dashboard.texts import TEXT

router = APIRouter(tags=["dashboard"], include_in_schema=False)


@router.get("/dashboard/settings")
async def settings_page(request: Request) -> Response:
    s = await web.signed_in(request)
    svc, t, code = web.services(request), TEXT[web.lang(request)], request.query_params.get("problem", "")
    merchant = await svc.merchants.get(s.staff.merchant_id)
    stored: dict[str, Any] = merchant.get("settings") or {}
    toss = pg_accounts.secret_key(stored, "toss", svc.cipher)
    jwt = JwtConfig.from_stored(stored["jwt"], svc.cipher) if stored.get("jwt") else JwtConfig()
    fees = {m: (stored.get("fees") or {}).get(m) or {"bps": bps, "fixed": fixed}
            for m, (bps, fixed) in DEFAULT_FEES.items()}
    staff = await svc.staff.all(s.staff.merchant_id)
    return web.render(request, "settings.html", session=s, merchant=merchant, fees=fees,
                      toss_last4=toss[-4:] if toss else None, jwt=jwt, staff=staff, roles=ROLES,
                      notice=t["done"] if request.query_params.get("done") else None,
                      problem=f"{t['error']} ({code})" if CODE.fullmatch(code) else None)


def _int(text: str | None) -> int:
    if not text or not text.strip().isdigit() or len(text.strip()) > 9:
        raise DomainError("validation", "INVALID_NUMBER", "A whole number, 0 or more.")
    return int(text)


@router.post("/dashboard/settings/{part}")
async def change(part: str, request: Request) -> Response:
    posted = await web.posted(request)
    svc, form, mid = web.services(request), posted.form, posted.session.staff.merchant_id
    note = posted.note(f"settings.{part}", mid)
    try:
        if part == "name":
            await svc.merchants.rename(mid, form.get("name", ""), note=note)
        elif part == "fees":
            table = {m: {"bps": _int(form.get(f"{m}_bps")), "fixed": _int(form.get(f"{m}_fixed"))}
                     for m in DEFAULT_FEES}
            await svc.merchants.update_settings(mid, {"fees": table}, note=replace(note, details={"fees": table}))
        elif part == "toss":
            key = form.get("secret_key", "").strip()
            if not key.startswith(("test_sk_", "live_sk_")) or len(key) > 200:
                raise DomainError("validation", "INVALID_KEY", "A Toss secret key starts with test_sk_ or live_sk_.")
            await svc.merchants.set_pg_secret(mid, "toss", key, svc.cipher,
                                              note=replace(note, details={"last4": key[-4:]}))  # never the key
        elif part == "jwt":
            await _jwt(request, mid, form, note)
        else:
            raise DomainError("not_found", "NOT_FOUND", "No such setting.")
    except DomainError as err:
        if err.kind == "not_found":
            raise
        return web.see_other(f"/dashboard/settings?problem={err.code}")
    return web.see_other("/dashboard/settings?done=1")


async def _jwt(request: Request, merchant_id: str, form: dict[str, str], note: AuditNote) -> None:
    """The users' token settings; a secret left empty keeps the one stored."""
    svc = web.services(request)
    stored = (await svc.merchants.get(merchant_id)).get("settings") or {}
    old = JwtConfig.from_stored(stored["jwt"], svc.cipher) if stored.get("jwt") else JwtConfig()
    jwks = form.get("jwks_url", "").strip() or None
    if jwks and not jwks.startswith(("https://", "http://")):
        raise DomainError("validation", "INVALID_URL", "The JWKS URL is an http(s) address.")
    config = JwtConfig(hs256_secret=form.get("hs256_secret") or old.hs256_secret, public_key=old.public_key,
                       jwks_url=jwks, issuer=form.get("issuer", "").strip() or None,
                       audience=form.get("audience", "").strip() or None,
                       mode="live" if form.get("live") == "1" else "test")
    details = {"jwksUrl": jwks, "issuer": config.issuer, "audience": config.audience, "mode": config.mode,
               "hs256": "changed" if form.get("hs256_secret") else None}
    await svc.merchants.update_settings(merchant_id, {"jwt": config.stored(svc.cipher)},
                                        note=replace(note, details={k: v for k, v in details.items() if v}))


@router.post("/dashboard/staff")
async def add_staff(request: Request) -> Response:
    posted = await web.posted(request)
    web.owner_only(posted.session)
    form = posted.form
    try:
        await web.services(request).staff.create(posted.session.staff.merchant_id, form.get("email", ""),
                                                 form.get("role", ""), form.get("password", ""), actor=posted.actor)
    except DomainError as err:
        return web.see_other(f"/dashboard/settings?problem={err.code}")
    return web.see_other("/dashboard/settings?done=1")


@router.post("/dashboard/staff/{staff_id}/disable")
async def disable_staff(staff_id: str, request: Request) -> Response:
    posted = await web.posted(request)
    web.owner_only(posted.session)
    svc = web.services(request)
    member = await svc.staff.get(staff_id[:64])
    if member.merchant_id != posted.session.staff.merchant_id:
        raise DomainError("not_found", "NOT_FOUND", "No such staff.")
    await svc.staff.disable(member.email, actor=posted.actor)
    return web.see_other("/dashboard/settings?done=1")


@router.get("/dashboard/audit")
async def audit(request: Request) -> Response:
    s = await web.signed_in(request)
    q = request.query_params
    before = q.get("before", "")
    f = AuditFilter(action=q.get("action", "")[:48] or None, staff_email=q.get("email", "")[:254] or None,
                    before=int(before) if before.isdigit() and len(before) < 19 else None)
    entries, older = await web.services(request).audit.page(s.staff.merchant_id, f)
    given = {"action": f.action or "", "email": f.staff_email or ""}
    return web.render(request, "audit.html", session=s, entries=entries, given=given,
                      older_url=web.with_query("/dashboard/audit", **given, before=older) if older else None)
