"""Gyeol's hosted checkout: GET /checkout/{paymentId}?token=<clientToken>, its form posts, and the sandbox's
3-D Secure challenge. Plain forms and 303 redirects, so it works without JavaScript; checkout.js adds validation
as the buyer types. Card data lives only in the POST being handled: it is tokenized at the PG and dropped, and
no response, log line or error ever repeats it."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gyeol.auth.ratelimit import address_of
from gyeol.core.errors import DomainError
from gyeol.core.payments.checkout import CheckoutService, CheckoutState
from gyeol.faces.pages import checkout_views as views
from gyeol.faces.pages.endings import success_url
from gyeol.services import Services
from gyeol.web import look
from gyeol.web.cardform import read_card, read_form
from gyeol.web.security import PAGE_HEADERS, Csrf, page_headers
from gyeol.web.texts import BANKS, TEXT, decline_text, lang_of

router = APIRouter(tags=["pages"], include_in_schema=False)


LANG_COOKIE = "gyeol_lang"


def _lang(request: Request, given: str | None) -> str:
    """The buyer's language: the address's, else the one this browser last saw the checkout in. A merchant that
    sends the buyer back to `checkout.url` (a decline at its confirm) does not know it."""
    return lang_of(given or request.cookies.get(LANG_COOKIE))


def _services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def _limited(request: Request) -> Services:
    """The services, for a post that pays: rate-limited per client address (it needs no key)."""
    svc = _services(request)
    svc.public_limiter.check(address_of(request.scope))
    return svc


def _csrf(svc: Services) -> Csrf:
    return Csrf(svc.page_secret)


def _purpose(state: CheckoutState) -> str:
    return f"checkout:{state.payment_id}:{state.payment.client_token}"


def _html(svc: Services, state: CheckoutState | None, lang: str, title: str, body: str, *,
          status: int = 200, nonce: tuple[str, bool] | None = None) -> Response:
    headers = PAGE_HEADERS if state is None else page_headers(
        state.payment.return_url, state.payment.cancel_url)
    response = HTMLResponse(look.document(lang, title, body), status_code=status, headers=headers)
    secure = svc.settings.base_url().startswith("https://")
    if nonce is not None and nonce[1]:
        Csrf.set_cookie(response, nonce[0], secure=secure)
    response.set_cookie(LANG_COOKIE, lang, httponly=True, samesite="lax", secure=secure, path="/checkout")
    return response


async def _open(svc: Services, payment_id: str, token: str) -> CheckoutState | None:
    """The payment of a checkout address, or None for a wrong token or an unknown payment alike."""
    if not token or len(token) > 120:
        return None
    try:
        return await svc.checkout.open(payment_id, token)
    except DomainError:
        return None


def _see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def _not_found(svc: Services, lang: str) -> Response:
    t = TEXT[lang]
    return _html(svc, None, lang, t["not_found_title"], look.notice(t["not_found"]), status=404)


def render(svc: Services, request: Request, state: CheckoutState, lang: str, *, error: str | None = None,
           chosen: str | None = None, status: int = 200) -> Response:
    """The page for the payment's state: the form (with the last decline, if any), the virtual account, or a
    plain notice."""
    t = TEXT[lang]
    if state.stage == "pay":
        nonce = Csrf.nonce(request)
        csrf = _csrf(svc).token(_purpose(state), nonce[0])
        if error is None and state.failure is not None:
            error = decline_text(state.failure[0], lang)
        body = views.pay_form(state, lang, csrf, error=error, chosen=chosen)
        return _html(svc, state, lang, t["title"], body, status=status, nonce=nonce)
    if state.stage == "challenge":
        return _see_other(views.page_url(state, lang, "/3ds"))
    if state.stage == "deposit":
        return _html(svc, state, lang, t["va_title"], views.virtual_account(state, lang), status=status)
    return _html(svc, state, lang, t["title"], views.notice_page(state, lang), status=status)


@router.get("/checkout/{payment_id}")
async def checkout_page(payment_id: str, request: Request, token: str = Query(default=""),
                        lang: str | None = Query(default=None)) -> Response:
    svc, lang = _services(request), _lang(request, lang)
    state = await _open(svc, payment_id, token)
    if state is None:
        return _not_found(svc, lang)
    return render(svc, request, state, lang)


@router.post("/checkout/{payment_id}")
async def pay(payment_id: str, request: Request) -> Response:
    svc, form = _limited(request), await read_form(request)
    lang = lang_of(form.get("lang"))
    checkout: CheckoutService = svc.checkout
    state = await _open(svc, payment_id, form.get("token", ""))
    if state is None:
        return _not_found(svc, lang)
    method = form.get("method", "")
    if not _csrf(svc).valid(request, _purpose(state), form.get("csrf")):
        return render(svc, request, state, lang, error=TEXT[lang]["csrf"], chosen=method, status=403)
    if state.stage != "pay":
        return _see_other(views.page_url(state, lang))
    card, problem = None, None
    if method == "card":
        card, problem = read_card(form)
    elif method == "transfer":
        problem = None if form.get("bankCode", "") in BANKS else "bank_required"
    elif method != "virtual_account":
        problem = "method_required"
    if problem is not None:
        return render(svc, request, state, lang, error=TEXT[lang][problem], chosen=method, status=400)
    state, err = await checkout.pay(payment_id, state.payment.client_token, method, card=card,
                                    bank_code=form.get("bankCode"))
    return _after(svc, request, state, err, lang, method)


@router.get("/checkout/{payment_id}/3ds")
async def challenge_page(payment_id: str, request: Request, token: str = Query(default=""),
                         lang: str | None = Query(default=None)) -> Response:
    svc, lang = _services(request), _lang(request, lang)
    state = await _open(svc, payment_id, token)
    if state is None:
        return _not_found(svc, lang)
    if state.stage != "challenge":
        return _see_other(views.page_url(state, lang))
    nonce = Csrf.nonce(request)
    csrf = _csrf(svc).token(_purpose(state), nonce[0])
    return _html(svc, state, lang, TEXT[lang]["3ds_title"], views.challenge(state, lang, csrf),
                 nonce=nonce)


@router.get("/sandbox/3ds/{payment_id}")
async def sandbox_challenge(payment_id: str, request: Request, lang: str | None = Query(default=None)) -> Response:
    """Where the sandbox sends a buyer whose payment an API caller confirmed with a 3-D Secure card."""
    svc, lang = _services(request), _lang(request, lang)
    token = await svc.checkout.challenge_token(payment_id)
    state = await _open(svc, payment_id, token) if token else None
    if state is None or not await svc.sandbox.challenge_waiting(state.payment.merchant_id, payment_id):
        return _not_found(svc, lang)
    return _see_other(views.page_url(state, lang, "/3ds"))


@router.post("/checkout/{payment_id}/3ds")
async def answer_challenge(payment_id: str, request: Request) -> Response:
    svc, form = _limited(request), await read_form(request)
    lang = lang_of(form.get("lang"))
    state = await _open(svc, payment_id, form.get("token", ""))
    if state is None:
        return _not_found(svc, lang)
    result = form.get("result")
    if not _csrf(svc).valid(request, _purpose(state), form.get("csrf")) or result not in ("approve", "fail"):
        t = TEXT[lang]
        body = look.error_box(t["csrf"]) + look.link_button("retry-link", views.page_url(state, lang, "/3ds"),
                                                             t["3ds_title"])
        return _html(svc, state, lang, t["3ds_title"], body, status=403)
    if state.stage == "challenge":  # the sandbox's issuer settles its waiting charge; Gyeol then asks the PG
        await svc.sandbox.complete_challenge(state.payment.merchant_id, payment_id, result == "approve")
    state = await svc.checkout.after_challenge(payment_id, state.payment.client_token)
    return _after(svc, request, state, None, lang, "card")


def _after(svc: Services, request: Request, state: CheckoutState, err: DomainError | None, lang: str,
           method: str) -> Response:
    """Where a form post ends: the merchant on success, the challenge, or this page again (a decline, a
    virtual account, a notice)."""
    if state.stage in ("paid", "authenticated"):  # authenticated: the merchant's confirm charges, as at Toss
        target = success_url(state.payment)
        if target:
            return _see_other(target)
    if state.stage == "challenge":
        return _see_other(views.page_url(state, lang, "/3ds"))
    if err is not None and state.stage == "pay":
        key = "pg_timeout" if err.kind == "gateway" else "not_payable" if err.kind == "conflict" else "generic"
        return render(svc, request, state, lang, error=TEXT[lang][key], chosen=method, status=err.status)
    return _see_other(views.page_url(state, lang))
