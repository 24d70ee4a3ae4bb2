"""Reading the buyer's form posts: a small urlencoded body, and the server's own check of a card.

Shared by Gyeol's checkout and the Toss simulator's window. The card is checked as checkout.js checks it while
the buyer types (length, expiry, CVC), except that a failed Luhn check is no error here at all: the sandbox
approves well-formed numbers that fail it. Nothing read here is ever logged or echoed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs

from starlette.requests import Request

from gyeol.connectors.base import CardData

MAX_FORM_BYTES = 8 * 1024


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form, small and flat; anything else reads as empty (and so fails the CSRF check)."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    declared = request.headers.get("content-length", "0")
    if ctype != "application/x-www-form-urlencoded" or not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
        return {}
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    try:
        parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        return {}
    fields = {k: v[0] for k, v in parsed.items()}
    if any("\x00" in k or "\x00" in v for k, v in fields.items()):  # no field takes one, and no database stores it
        return {}
    return fields


def read_card(form: dict[str, str], now: datetime | None = None) -> tuple[CardData | None, str | None]:
    """The card of a form (cardNumber, expiry MM/YY, cvc), or the key of the text that says what is wrong."""
    number = "".join(ch for ch in form.get("cardNumber", "") if ch not in " -")
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return None, "invalid_number"
    expiry = form.get("expiry", "").replace(" ", "")
    month_text, slash, year_text = expiry.partition("/")
    if not slash:  # MMYY or MMYYYY, typed without the slash
        month_text, year_text = expiry[:2], expiry[2:]
    if not (month_text.isdigit() and year_text.isdigit() and len(year_text) in (2, 4)
            and 1 <= int(month_text) <= 12):
        return None, "invalid_expiry"
    year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    now = now or datetime.now(UTC)
    if (year, int(month_text)) < (now.year, now.month):
        return None, "past_expiry"
    cvc = form.get("cvc", "")
    if not cvc.isdigit() or not 3 <= len(cvc) <= 4:
        return None, "invalid_cvc"
    return CardData(number, int(month_text), year, cvc), None
