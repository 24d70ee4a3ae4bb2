"""The native error object: {"error": {type, code, message, details}}."""

from __future__ import annotations

from starlette.responses import Response

from gyeol.core.errors import STATUS_BY_KIND, DomainError
from gyeol.faces.http import ErrorFormat, FastJSON

FORMAT = ErrorFormat("Error", {
    "type": "object", "required": ["error"], "additionalProperties": False,
    "properties": {"error": {
        "type": "object", "required": ["type", "code", "message", "details"], "additionalProperties": False,
        "properties": {
            "type": {"type": "string", "enum": sorted(STATUS_BY_KIND)},
            "code": {"type": "string", "description": "What went wrong, for a program: e.g. NOT_FOUND."},
            "message": {"type": "string", "description": "What went wrong, for a person."},
            "details": {"type": "object", "description": "The fields at fault; `requestId` for an internal error."},
        }}},
})


def render(err: DomainError, request_id: str) -> Response:
    details = dict(err.details)
    if err.kind == "internal":
        details = {"requestId": request_id}
    body = {"error": {"type": err.kind, "code": err.code, "message": err.message, "details": details}}
    return FastJSON(body, status_code=err.status)
