"""Toss-style errors for the kiosk face: {"code", "message"}, with seed 001's codes and statuses."""

from __future__ import annotations

from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.faces.http import ErrorFormat, FastJSON
from gyeol.toss_v1 import ERROR_STATUS

FORMAT = ErrorFormat("TossError", {
    "type": "object", "required": ["code", "message"], "additionalProperties": False,
    "properties": {"code": {"type": "string", "description": "Toss's error code, e.g. NOT_FOUND_PAYMENT."},
                   "message": {"type": "string"}},
})

# Core codes that keep their name on this face, with the status seed 001 gives them.
KEPT = {"AMOUNT_MISMATCH": 409, "ALREADY_CANCELED": 422, "NOT_APPROVED": 422, "PARTIAL_MISMATCH": 409,
        "ORDER_ALREADY_PAID": 409, "IDEMPOTENCY_KEY_REUSED": 422, "IDEMPOTENCY_REQUEST_IN_PROGRESS": 409,
        "PAYMENT_IN_PROGRESS": 409, "RATE_LIMITED": 429, "NOT_FOUND_PAYMENT_SESSION": 404}
BY_KIND = {"authentication": ("UNAUTHORIZED_KEY", 401), "validation": ("INVALID_REQUEST", 400),
           "not_found": ("NOT_FOUND", 404), "processing": ("REJECT_CARD_PAYMENT", 403),
           "gateway": ("PG_UNAVAILABLE", 502), "internal": ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500)}


def render(err: DomainError, request_id: str) -> Response:
    if err.kind == "processing" and err.code in ERROR_STATUS:  # a Toss rejection keeps Toss's code and status
        code, status = err.code, ERROR_STATUS[err.code]
    elif err.code in KEPT:
        code, status = err.code, KEPT[err.code]
    elif err.kind in BY_KIND:
        code, status = BY_KIND[err.kind]
        if err.status in (405, 408, 413, 415):
            status = err.status
    else:
        code, status = err.code, err.status
    message = err.message if err.kind != "internal" else f"{err.message} (request {request_id})"
    return FastJSON({"code": code, "message": message}, status_code=status)
