"""Seed 004's error body: {"error": <message>, "details"?: <code or PG message>}; details only in development."""

from __future__ import annotations

from collections.abc import Callable

from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.faces.http import ErrorFormat, FastJSON
from gyeol.toss_v1 import ERROR_STATUS

FORMAT = ErrorFormat("ShopError", {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {"type": "string", "description": "What went wrong, for a person."},
                   "details": {"type": "string", "description": "The error's code (development only)."}},
})
STATUS = {"ORDER_NOT_FOUND": 404, "AMOUNT_MISMATCH": 400}
# A PG's rejection keeps the PG's status (Toss answers a card rejection with 403).
BY_KIND = {"validation": 400, "authentication": 401, "not_found": 404, "processing": 403, "gateway": 502,
           "unavailable": 503, "internal": 500}


def renderer(development: bool) -> Callable[[DomainError, str], Response]:
    def render(err: DomainError, request_id: str) -> Response:
        pg_status = ERROR_STATUS.get(err.code) if err.kind == "processing" else None
        own = err.status if err.status in (405, 408, 409, 413, 415, 422, 429) else None
        status = pg_status or STATUS.get(err.code) or own or BY_KIND.get(err.kind, err.status)
        body: dict[str, str] = {"error": err.message if err.kind != "internal" else "Internal server error."}
        if development:
            body["details"] = err.code if err.kind != "internal" else f"request {request_id}"
        return FastJSON(body, status_code=status)

    return render
