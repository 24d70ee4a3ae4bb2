"""The dashboard's plumbing: its templates (Jinja2, autoescaped), the signed-in staff member of a request, its
language, its CSRF check, and the page headers (nothing framed, nothing inline, nothing from another host)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

import jinja2
from fastapi import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gyeol.core.clock import KST
from gyeol.core.errors import DomainError
from gyeol.core.money import exponent, format_amount
from gyeol.core.staff.audit import AuditNote
from gyeol.core.staff.records import Actor, Session
from gyeol.faces.dashboard.texts import LANGS, TEXT, lang_of
from gyeol.services import Services
from gyeol.web.cardform import read_form
from gyeol.web.security import PAGE_HEADERS

ROOT = "/dashboard"
SESSION_COOKIE = "gyeol_session"
LANG_COOKIE = "gyeol_dash_lang"

_env = jinja2.Environment(loader=jinja2.PackageLoader("gyeol.faces.dashboard", "templates"),
                          autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True,
                          lstrip_blocks=True)


def when(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(KST).strftime("%Y-%m-%d %H:%M:%S")


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


_env.filters.update(money=format_amount, when=when, percent=percent)


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def lang(request: Request) -> str:
    return lang_of(request.query_params.get("lang") or request.cookies.get(LANG_COOKIE))


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or services(request).settings.base_url().startswith("https://")


def address(request: Request) -> str | None:
    client = request.scope.get("client")
    return str(client[0])[:64] if client else None


def render(request: Request, template: str, *, session: Session | None = None, status: int = 200,
           **context: Any) -> Response:
    """A page of the dashboard, in the request's language; `?lang=` is remembered for the pages after."""
    chosen = lang(request)
    t = TEXT[chosen]
    context.setdefault("notice", None)
    context.setdefault("problem", None)
    body = _env.get_template(template).render(
        t=t, lang=chosen, other_lang="en" if chosen == "ko" else "ko", session=session, path=request.url.path,
        query=str(request.url.query), **context)
    response = HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, chosen, httponly=True, samesite="lax", secure=secure(request), path=ROOT)
    return response


def plain(template: str, **context: Any) -> str:
    """A template rendered without a request (the face's error pages)."""
    return _env.get_template(template).render(**context)


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def with_query(path: str, **params: Any) -> str:
    kept = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


@dataclass(frozen=True, slots=True)
class Staffed:
    """A request of a signed-in staff member: the session, and the form it posted (CSRF checked)."""

    session: Session
    form: dict[str, str]

    @property
    def actor(self) -> Actor:
        return Actor.of(self.session)

    def note(self, action: str, target: str | None = None, **details: Any) -> AuditNote:
        """The audit entry of the change this post asks for, which the core writes with the change."""
        return AuditNote(self.actor, action, target, {k: v for k, v in details.items() if v is not None})


async def signed_in(request: Request) -> Session:
    """The request's session; no session is a redirect to the sign-in page (the face's error renderer)."""
    found = await services(request).signin.session(request.cookies.get(SESSION_COOKIE))
    if found is None or not found.signed_in:
        raise DomainError("authentication", "SIGN_IN", "Sign in first.")
    # The audit log says where a change came from, not where the session began.
    return replace(found, address=address(request))


async def posted(request: Request, *, change: bool = True) -> Staffed:
    """A form post of a signed-in staff member: its CSRF token checked; `change`: a viewer is refused."""
    s = await signed_in(request)
    form = await read_form(request)
    if not hmac.compare_digest(form.get("csrf", "").encode(), s.csrf_token.encode()):
        raise DomainError("permission", "CSRF", "The form has expired or did not come from this dashboard.")
    if change and not s.staff.can_change:
        raise DomainError("permission", "VIEWER", "A viewer cannot make changes.")
    return Staffed(s, form)


def owner_only(s: Session) -> None:
    if s.staff.role != "owner":
        raise DomainError("permission", "OWNER_ONLY", "Only an owner may do this.")


def minor_units(text: str | None, currency: str) -> int | None:
    """An amount typed in the currency's major units (39000, 12.34) as minor units; None when empty. Raises a
    validation error for anything else."""
    if text is None or not text.strip():
        return None
    try:
        value = Decimal(text.strip().replace(",", "")).scaleb(exponent(currency))
    except InvalidOperation:
        raise DomainError("validation", "INVALID_AMOUNT", "Not an amount.") from None
    if value != value.to_integral_value() or value < 0 or value > 2**53:
        raise DomainError("validation", "INVALID_AMOUNT", "Not an amount.")
    return int(value)


def day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DomainError("validation", "INVALID_DATE", "A date is YYYY-MM-DD.") from None
