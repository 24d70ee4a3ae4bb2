"""The Toss simulator's payment window, drawn with Gyeol's checkout look (gyeol.web: pure rendering, no
database), so a buyer sees one checkout whether Gyeol or "Toss" hosts it. The ids are those of docs/checkout.md."""

from __future__ import annotations

from starlette.responses import HTMLResponse, RedirectResponse, Response

from gyeol.core.money import format_amount
from gyeol.toss_v1 import message
from gyeol.web import look
from gyeol.web.security import PAGE_HEADERS, Csrf, page_headers
from gyeol.web.texts import TEXT
from gyeol.web.urls import with_query

# What the window tells failUrl, with Toss's codes.
FAIL_MESSAGES = {
    "PAY_PROCESS_CANCELED": "사용자에 의해 결제가 취소되었습니다.",
    "REJECT_CARD_COMPANY": "카드사에서 결제를 거절했습니다. 다른 카드로 다시 시도해 주세요.",
}


def fail_target(fail_url: str | None, order_id: str, code: str = "PAY_PROCESS_CANCELED") -> str | None:
    """failUrl with Toss's code, message and orderId."""
    if not fail_url:
        return None
    return with_query(fail_url, {"code": code, "message": FAIL_MESSAGES.get(code, message(code)),
                                 "orderId": order_id})


def success_target(success_url: str | None, payment_key: str, order_id: str, amount: int) -> str | None:
    """successUrl with what the merchant's confirm needs, as Toss's window sends it."""
    if not success_url:
        return None
    return with_query(success_url, {"paymentType": "NORMAL", "orderId": order_id, "paymentKey": payment_key,
                                    "amount": amount})


def page(base: str, key: str, order_name: str, amount: int, method: str, lang: str, *, csrf: str | None,
         nonce: tuple[str, bool] | None, success_url: str | None, fail_url: str | None, error: str | None = None,
         status: int = 200) -> Response:
    t = TEXT[lang]
    head = look.summary(lang, t["toss_title"], order_name, format_amount(amount, "KRW"))
    head += f'<p class="sandbox">{t["sandbox"]}</p>'
    message = t[error] if error else None
    if csrf is None:  # a refused post: say so, and offer the window again
        again = look.link_button("retry-link", f"{base}/checkout/{key}?lang={lang}", t["title"], "primary")
        body = head + look.error_box(message) + f'<div class="actions">{again}</div>'
    else:
        choice = "card" if method == "CARD" else "virtual_account"
        panel = look.card_fields(lang) if choice == "card" else f'<p class="hint">{t["toss_va_hint"]}</p>'
        cancel = look.link_button("cancel-button", fail_url, t["cancel"]) if fail_url else ""
        body = (head + look.error_box(message)
                + f'<form id="pay-form" method="post" action="{look.esc(base)}/checkout/{look.esc(key)}/approve" '
                  f'novalidate {look.validation_messages(lang)}>{look.hidden({"csrf": csrf, "lang": lang})}'
                  f'<fieldset class="methods"><legend>{t["method"]}</legend><div class="method">'
                  f'<input type="radio" id="method-{choice}" name="method" value="{choice}" checked>'
                  f'<label for="method-{choice}">{t[choice]}</label></div></fieldset>'
                  f'<fieldset class="panel" data-method="{choice}"><legend>{t[choice]}</legend>{panel}</fieldset>'
                  f'<div class="actions"><button id="pay-button" type="submit" class="button primary">'
                  f'{look.esc(t["pay"].format(amount=format_amount(amount, "KRW")))}</button>{cancel}</div></form>')
    response = HTMLResponse(look.document(lang, t["toss_title"], body, base=base), status_code=status,
                            headers=page_headers(success_url, fail_url))
    if nonce is not None and nonce[1]:
        Csrf.set_cookie(response, nonce[0], secure=base.startswith("https://"))
    return response


def done(base: str, lang: str, target: str | None) -> Response:
    """On to the merchant; a window opened without its addresses just says it is done."""
    if target:
        return RedirectResponse(target, status_code=303, headers=PAGE_HEADERS)
    body = look.notice(TEXT[lang]["paid"])
    return HTMLResponse(look.document(lang, TEXT[lang]["toss_title"], body, base=base), headers=PAGE_HEADERS)


def not_found(base: str, lang: str) -> Response:
    t = TEXT[lang]
    return HTMLResponse(look.document(lang, t["not_found_title"], look.notice(t["not_found"]), base=base),
                        status_code=404, headers=PAGE_HEADERS)
