"""The hosted checkout's HTML, one function per state of the payment (see docs/checkout.md for the ids)."""

from __future__ import annotations

from urllib.parse import urlencode

from gyeol.core.clock import KST
from gyeol.core.money import format_amount
from gyeol.core.payments.checkout import CheckoutState
from gyeol.faces.pages.endings import cancel_url, success_url
from gyeol.web import look
from gyeol.web.texts import TEXT, bank_name


def page_url(state: CheckoutState, lang: str, suffix: str = "") -> str:
    query = urlencode({"token": state.payment.client_token, "lang": lang})
    return f"/checkout/{state.payment_id}{suffix}?{query}"


def _head(state: CheckoutState, lang: str, suffix: str = "") -> str:
    p = state.payment
    t = TEXT[lang]
    switch = look.lang_switch(lang, {x: page_url(state, x, suffix) for x in ("ko", "en")})
    sandbox = "" if p.livemode else f'<p class="sandbox">{t["sandbox"]}</p>'
    amount = format_amount(p.amount, p.currency)
    return switch + look.summary(lang, state.merchant_name, state.order_name, amount) + sandbox


def _hidden(state: CheckoutState, lang: str, csrf: str) -> str:
    return look.hidden({"token": state.payment.client_token, "csrf": csrf, "lang": lang})


def pay_form(state: CheckoutState, lang: str, csrf: str, *, error: str | None, chosen: str | None = None) -> str:
    t = TEXT[lang]
    p = state.payment
    if not state.methods:
        return _head(state, lang) + look.notice(t["no_methods"])
    chosen = chosen if chosen in state.methods else state.methods[0]
    radios = "".join(
        f'<div class="method"><input type="radio" id="method-{m}" name="method" value="{m}"'
        f'{" checked" if m == chosen else ""}><label for="method-{m}">{t[m]}</label></div>' for m in state.methods)
    panels = {
        "card": look.card_fields(lang),
        "transfer": look.bank_select(lang),
        "virtual_account": f'<p class="hint">{t["va_hint"]}</p>',
    }
    sections = "".join(
        f'<fieldset class="panel" id="panel-{m}" data-method="{m}"><legend>{t[m]}</legend>{panels[m]}</fieldset>'
        for m in state.methods)
    amount = format_amount(p.amount, p.currency)
    cancel = cancel_url(p)
    cancel_html = look.link_button("cancel-button", cancel, t["cancel"]) if cancel else ""
    form = (f'<form id="pay-form" method="post" action="/checkout/{look.esc(state.payment_id)}" novalidate '
            f'{look.validation_messages(lang)}>{_hidden(state, lang, csrf)}'
            f'<fieldset class="methods"><legend>{t["method"]}</legend>{radios}</fieldset>{sections}'
            f'<div class="actions"><button id="pay-button" type="submit" class="button primary">'
            f'{look.esc(t["pay"].format(amount=amount))}</button>{cancel_html}</div></form>')
    return _head(state, lang) + look.error_box(error) + form


def _links(state: CheckoutState, lang: str) -> str:
    t = TEXT[lang]
    links = []
    if state.payment.receipt_id:
        href = f"/receipts/{state.payment.receipt_id}?lang={lang}"
        links.append(look.link_button("receipt-link", href, t["receipt"]))
    back = success_url(state.payment)
    if back:
        links.append(look.link_button("return-link", back, t["back"], "primary"))
    return f'<div class="actions">{"".join(links)}</div>' if links else ""


def notice_page(state: CheckoutState, lang: str) -> str:
    """Expired, closed, in progress or already paid: a plain message, never a form."""
    key = {"paid": "paid", "authenticated": "authenticated", "expired": "expired",
           "closed": "closed"}.get(state.stage, "processing")
    extra = _links(state, lang) if state.stage in ("paid", "authenticated") else ""
    return _head(state, lang) + look.notice(TEXT[lang][key], extra)


def virtual_account(state: CheckoutState, lang: str) -> str:
    t = TEXT[lang]
    p = state.payment
    va = state.account
    due = va.due_at if va else None
    due_text = due.astimezone(KST).strftime("%Y-%m-%d %H:%M KST") if due else "-"
    number = str(va.account_number or "") if va else ""
    rows = [
        ("va_bank", f'<span id="va-bank">{look.esc(bank_name(va.bank_code if va else "", lang))}</span>'),
        ("va_account", f'<span id="va-account" class="mono">{look.esc(number)}</span> '
                       f'<button type="button" id="va-copy" class="button small" data-copy-target="va-account" '
                       f'hidden>{t["va_copy"]}</button>'),
        ("va_amount", f'<span id="va-amount">{look.esc(format_amount(p.amount, p.currency))}</span>'),
        ("va_due", f'<span id="va-due">{look.esc(due_text)}</span>'),
        ("va_holder", f'<span id="va-holder">{look.esc((va.holder_name if va else None) or "")}</span>'),
    ]
    dl = "".join(f"<dt>{t[k]}</dt><dd>{v}</dd>" for k, v in rows)
    return (_head(state, lang) + f'<section class="va" aria-labelledby="va-title" {look.validation_messages(lang)}'
            f' id="va-section"><h2 id="va-title">{t["va_title"]}</h2><dl>{dl}</dl>'
            f'<p class="hint">{t["va_note"]}</p><p id="va-copy-msg" class="msg" aria-live="polite"></p></section>'
            + _links(state, lang))


def challenge(state: CheckoutState, lang: str, csrf: str) -> str:
    t = TEXT[lang]
    form = (f'<form id="challenge-form" method="post" action="/checkout/{look.esc(state.payment_id)}/3ds">'
            f'{_hidden(state, lang, csrf)}<div class="actions">'
            f'<button id="approve-3ds" type="submit" name="result" value="approve" class="button primary">'
            f'{t["approve"]}</button>'
            f'<button id="fail-3ds" type="submit" name="result" value="fail" class="button secondary">{t["fail"]}'
            f"</button></div></form>")
    body = (f'<section class="challenge" aria-labelledby="challenge-title"><h2 id="challenge-title">'
            f'{t["3ds_title"]}</h2><p>{t["3ds_text"]}</p>{form}</section>')
    return _head(state, lang, "/3ds") + body
