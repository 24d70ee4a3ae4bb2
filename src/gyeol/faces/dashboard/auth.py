"""Signing in and out, the second factor, the test/live switch, and a staff member's own two-factor settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.texts import TEXT
from gyeol.web.cardform import read_form
from gyeol.web.security import Csrf

router = APIRouter(tags=["dashboard"], include_in_schema=False)
LOGIN_PURPOSE = "dashboard:login"


def _csrf(request: Request) -> Csrf:
    return Csrf(web.services(request).page_secret)


def _login_page(request: Request, *, problem: str | None = None, notice: str | None = None, email: str = "",
                status: int = 200) -> Response:
    nonce = Csrf.nonce(request)
    response = web.render(request, "login.html", csrf=_csrf(request).token(LOGIN_PURPOSE, nonce[0]), email=email,
                          problem=problem, notice=notice, status=status)
    if nonce[1]:
        Csrf.set_cookie(response, nonce[0], secure=web.secure(request), path=web.ROOT)
    return response


def _signed_in_at(request: Request, token: str, target: str) -> Response:
    response = web.see_other(target)
    response.set_cookie(web.SESSION_COOKIE, token, httponly=True, samesite="lax", secure=web.secure(request),
                        path=web.ROOT)
    return response


@router.get("/dashboard/login")
async def login_page(request: Request) -> Response:
    t = TEXT[web.lang(request)]
    return _login_page(request, notice=t["signed_out"] if request.query_params.get("out") else None)


@router.post("/dashboard/login")
async def login(request: Request) -> Response:
    form, t = await read_form(request), TEXT[web.lang(request)]
    email = form.get("email", "")[:254]
    if not _csrf(request).valid(request, LOGIN_PURPOSE, form.get("csrf")):
        return _login_page(request, problem=t["csrf"], email=email, status=403)
    attempt = await web.services(request).signin.password(email, form.get("password", ""), web.address(request),
                                                           request.cookies.get(web.SESSION_COOKIE))
    if attempt.outcome == "locked":
        return _login_page(request, problem=t["signin_locked"], email=email, status=429)
    if attempt.outcome == "refused" or attempt.token is None:
        return _login_page(request, problem=t["signin_refused"], email=email, status=401)
    target = "/dashboard" if attempt.outcome == "signed_in" else "/dashboard/login/code"
    return _signed_in_at(request, attempt.token, target)


async def _halfway(request: Request) -> tuple[str, str]:
    token = request.cookies.get(web.SESSION_COOKIE, "")
    s = await web.services(request).signin.session(token)
    if s is None or s.stage != "second_factor":
        raise DomainError("authentication", "SIGN_IN", "Sign in first.")
    return token, s.csrf_token


@router.get("/dashboard/login/code")
async def code_page(request: Request) -> Response:
    _, csrf = await _halfway(request)
    return web.render(request, "second_factor.html", csrf=csrf, problem=None)


@router.post("/dashboard/login/code")
async def code(request: Request) -> Response:
    token, csrf = await _halfway(request)
    form, t = await read_form(request), TEXT[web.lang(request)]
    if form.get("csrf") != csrf:
        return web.render(request, "second_factor.html", csrf=csrf, problem=t["csrf"], status=403)
    attempt = await web.services(request).signin.second_factor(token, form.get("code", "")[:40],
                                                                web.address(request))
    if attempt.outcome == "locked":
        return _login_page(request, problem=t["signin_locked"], status=429)
    if attempt.token is None:
        return web.render(request, "second_factor.html", csrf=csrf, problem=t["code_refused"], status=401)
    return _signed_in_at(request, attempt.token, "/dashboard")


@router.post("/dashboard/logout")
async def logout(request: Request) -> Response:
    posted = await web.posted(request, change=False)
    await web.services(request).signin.end(posted.session)
    response = web.see_other("/dashboard/login?out=1")
    response.delete_cookie(web.SESSION_COOKIE, path=web.ROOT, httponly=True, samesite="lax",
                           secure=web.secure(request))
    return response


@router.post("/dashboard/mode")
async def switch_mode(request: Request) -> Response:
    posted = await web.posted(request, change=False)
    await web.services(request).signin.switch_mode(posted.session, posted.form.get("live") == "1")
    return web.see_other("/dashboard")


@router.get("/dashboard/account")
async def account(request: Request) -> Response:
    s = await web.signed_in(request)
    return web.render(request, "account.html", session=s, secret=None, uri=None, codes=None, problem=None)


@router.post("/dashboard/account/totp")
async def totp_begin(request: Request) -> Response:
    posted = await web.posted(request, change=False)
    secret, uri = await web.services(request).staff.totp_begin(posted.session.staff.id)
    return web.render(request, "account.html", session=posted.session, secret=secret, uri=uri, codes=None,
                      problem=None)


@router.post("/dashboard/account/totp/enable")
async def totp_enable(request: Request) -> Response:
    posted = await web.posted(request, change=False)
    svc = web.services(request)
    try:
        codes = await svc.staff.totp_enable(posted.session.staff.id, posted.form.get("code", "")[:12], posted.actor)
    except DomainError:
        s = await svc.signin.session(request.cookies.get(web.SESSION_COOKIE))
        return web.render(request, "account.html", session=s or posted.session, secret=None, uri=None, codes=None,
                          problem=TEXT[web.lang(request)]["code_refused"], status=400)
    s = await svc.signin.session(request.cookies.get(web.SESSION_COOKIE))
    return web.render(request, "account.html", session=s or posted.session, secret=None, uri=None, codes=codes,
                      problem=None)


@router.post("/dashboard/account/totp/disable")
async def totp_disable(request: Request) -> Response:
    posted = await web.posted(request, change=False)
    await web.services(request).staff.totp_disable(posted.session.staff.id, posted.actor)
    return web.see_other("/dashboard/account")
