"""The buyer's pages' errors (checkout, receipts, the sandbox's 3-D Secure link): an HTML page, never JSON.

A buyer reads it in a browser: a Korean line, the English message under it, and the status and headers the error
carries (`Retry-After` on a 429). What the buyer sent is never repeated."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from gyeol.core.errors import DomainError
from gyeol.web import look
from gyeol.web.security import PAGE_HEADERS

PREFIXES = ("/checkout", "/receipts", "/sandbox/3ds")
KOREAN = {
    "rate_limit": ("요청이 너무 많습니다", "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요."),
    "not_found": ("찾을 수 없음", "찾을 수 없습니다."),
    "unavailable": ("잠시 후 다시 시도해 주세요", "일시적으로 처리할 수 없습니다. 잠시 후 다시 시도해 주세요."),
    "internal": ("오류", "서버 내부 오류가 발생했습니다."),
}
BAD_REQUEST = ("잘못된 요청", "잘못된 요청입니다.")


def render(err: DomainError, request_id: str) -> Response:
    title, line = KOREAN.get(err.kind, BAD_REQUEST)
    english = err.message if err.kind != "internal" else f"{err.message} (request {request_id})"
    body = f"<h1>{look.esc(title)}</h1>" + look.notice(line, f'<p lang="en">{look.esc(english)}</p>')
    return HTMLResponse(look.document("ko", title, body, script=False), status_code=err.status,
                        headers=PAGE_HEADERS)
