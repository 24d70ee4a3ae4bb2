"""The dashboard's errors: HTML, never JSON. No session is a redirect to the sign-in page; anything else is a page
with the status (403 for a viewer's change or a stale form, 404 for what is not the merchant's), in Korean with the
English under it, as the buyer's pages do."""

from __future__ import annotations

from starlette.responses import HTMLResponse, Response

from gyeol.core.errors import DomainError
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.texts import TEXT

PREFIX = "/dashboard"
KIND_TEXT = {"permission": "forbidden", "not_found": "not_found"}


def render(err: DomainError, request_id: str) -> Response:
    if err.kind == "authentication":
        return web.see_other("/dashboard/login")
    key = KIND_TEXT.get(err.kind, "error")
    english = err.message if err.kind != "internal" else f"{err.message} (request {request_id})"
    body = web.plain("error.html", ko=TEXT["ko"], en=TEXT["en"], key=key, english=english, status=err.status)
    return HTMLResponse(body, status_code=err.status, headers=web.PAGE_HEADERS)
