"""The buyer's pages' one look: the document shell, the order summary, the card fields and the notices.

Shared by Gyeol's hosted checkout and the Toss simulator's payment window, so it imports nothing that touches a
database. Every value that reaches HTML goes through `esc`. The element ids are a contract with the browser tests
(docs/checkout.md); keep them.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from gyeol.web.texts import BANKS, TEXT


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def document(lang: str, title: str, body: str, *, base: str = "", script: bool = True) -> str:
    js = f'<script src="{esc(base)}/assets/checkout.js" defer></script>' if script else ""
    return (f'<!doctype html><html lang="{esc(lang)}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><link rel="stylesheet" href="{esc(base)}/assets/checkout.css">{js}</head>'
            f'<body><main class="sheet" id="main">{body}</main></body></html>')


def summary(lang: str, merchant: str, order_name: str, amount: str) -> str:
    t = TEXT[lang]
    return (f'<header class="summary"><p class="merchant"><span class="label">{t["merchant"]}</span> '
            f'<span id="merchant-name">{esc(merchant)}</span></p>'
            f'<h1 id="order-name">{esc(order_name)}</h1>'
            f'<p class="amount"><span class="label">{t["amount"]}</span> <strong id="amount">{esc(amount)}</strong>'
            f"</p></header>")


def hidden(fields: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">' for k, v in fields.items())


def error_box(message: str | None) -> str:
    """The page's one error slot: always present (scripts write to it too), announced when filled."""
    cls = "error" if message else "error empty"
    return f'<div id="error" role="alert" class="{cls}" tabindex="-1">{esc(message or "")}</div>'


def notice(message: str, extra: str = "") -> str:
    return f'<p id="notice" class="notice" role="status">{esc(message)}</p>{extra}'


def link_button(id_: str, href: str, label: str, cls: str = "secondary") -> str:
    return f'<a id="{esc(id_)}" class="button {cls}" href="{esc(href)}">{esc(label)}</a>'


def card_fields(lang: str) -> str:
    """Card number, expiry and CVC: labelled, with hints and a message slot each; never pre-filled."""
    t = TEXT[lang]

    def field(id_: str, name: str, label: str, hint: str, attrs: str) -> str:
        return (f'<div class="field"><label for="{id_}">{label}</label>'
                f'<input id="{id_}" name="{name}" {attrs} aria-describedby="{id_}-hint {id_}-msg">'
                f'<p class="hint" id="{id_}-hint">{hint}</p><p class="msg" id="{id_}-msg" aria-live="polite"></p>'
                f"</div>")

    return (field("card-number", "cardNumber", t["card_number"], t["card_number_hint"],
                  'type="text" inputmode="numeric" autocomplete="cc-number" maxlength="23" spellcheck="false"')
            + '<div class="row">'
            + field("card-expiry", "expiry", t["expiry"], t["expiry_hint"],
                    'type="text" inputmode="numeric" autocomplete="cc-exp" maxlength="7" placeholder="MM/YY"')
            + field("card-cvc", "cvc", t["cvc"], t["cvc_hint"],
                    'type="password" inputmode="numeric" autocomplete="cc-csc" maxlength="4"')
            + "</div>")


def bank_select(lang: str, codes: Iterable[str] = ("004", "088", "020", "081", "011", "090", "092")) -> str:
    t = TEXT[lang]
    options = "".join(f'<option value="{c}">{esc(BANKS[c][lang])}</option>' for c in codes)
    return (f'<div class="field"><label for="transfer-bank">{t["bank"]}</label>'
            f'<select id="transfer-bank" name="bankCode"><option value="">{t["choose_bank"]}</option>{options}'
            f'</select><p class="hint">{t["transfer_hint"]}</p></div>')


def validation_messages(lang: str) -> str:
    """The scripts' messages, as data attributes of the form: one source for both languages."""
    t = TEXT[lang]
    keys = ("invalid_number", "luhn_warning", "invalid_expiry", "past_expiry", "invalid_cvc", "bank_required",
            "va_copied")
    return " ".join(f'data-msg-{k.replace("_", "-")}="{esc(t[k])}"' for k in keys)


def lang_switch(lang: str, href_for: dict[str, str]) -> str:
    other = "en" if lang == "ko" else "ko"
    return (f'<p class="lang"><a href="{esc(href_for[other])}" hreflang="{other}" lang="{other}">'
            f'{TEXT[lang]["switch_lang"]}</a></p>')
