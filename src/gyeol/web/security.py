"""Headers every page Gyeol serves carries (nothing third-party, nothing cached, nothing framed), and the CSRF
tokens of its forms.

CSRF is a double submit bound to what the form acts on: the browser holds a random nonce in an HttpOnly,
SameSite=Lax cookie, and each form carries HMAC(secret, purpose | nonce), where the purpose names the payment and
its client token. A cross-site page can neither read the cookie nor compute the HMAC, and a token minted for one
payment's form is worthless for another's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action 'self'{targets}; "
       "base-uri 'none'; frame-ancestors 'none'")

PAGE_HEADERS = {
    "Content-Security-Policy": CSP.format(targets=""),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")


def origin(url: str | None) -> str | None:
    """scheme://host[:port] of an http(s) URL, or None: the only part of a merchant's URL a policy may name."""
    if not url:
        return None
    try:
        parts = urlsplit(url)
        value = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    except ValueError:
        return None
    return value if parts.scheme in ("http", "https") and _ORIGIN.match(value) else None


def page_headers(*redirect_targets: str | None) -> dict[str, str]:
    """PAGE_HEADERS, with the merchant origins a form on the page may end at: browsers hold a form's redirect to
    `form-action` too, so the return address of a payment must be named there."""
    origins = sorted({o for o in map(origin, redirect_targets) if o})
    targets = "".join(f" {o}" for o in origins)
    return {**PAGE_HEADERS, "Content-Security-Policy": CSP.format(targets=targets)}

CSRF_COOKIE = "gyeol_csrf"
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class Csrf:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    @staticmethod
    def nonce(request: Request) -> tuple[str, bool]:
        """The browser's nonce, and whether it is new (then the response must set the cookie)."""
        value = request.cookies.get(CSRF_COOKIE, "")
        if _NONCE.match(value):
            return value, False
        return secrets.token_urlsafe(32), True

    def token(self, purpose: str, nonce: str) -> str:
        return hmac.new(self.secret, f"{purpose}|{nonce}".encode(), hashlib.sha256).hexdigest()

    def valid(self, request: Request, purpose: str, given: str | None) -> bool:
        nonce = request.cookies.get(CSRF_COOKIE, "")
        if not given or not _NONCE.match(nonce):
            return False
        return hmac.compare_digest(self.token(purpose, nonce).encode(), given.encode())

    @staticmethod
    def set_cookie(response: Response, nonce: str, *, secure: bool, path: str = "/") -> None:
        response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=secure, path=path)
