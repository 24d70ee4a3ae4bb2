"""The native error object: {"error": {type, code, message, details}}."""

from __future__ import annotations

from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.faces.http import FastJSON


def render(err: DomainError, request_id: str) -> Response:
    details = dict(err.details)
    if err.kind == "internal":
        details = {"requestId": request_id}
    body = {"error": {"type": err.kind, "code": err.code, "message": err.message, "details": details}}
    return FastJSON(body, status_code=err.status)
