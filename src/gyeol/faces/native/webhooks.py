"""Inbound PG webhooks (seed 000's /webhooks/payments): Standard Webhooks signatures, no session auth."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from standardwebhooks.webhooks import Webhook

from gyeol.core.errors import DomainError
from gyeol.faces.bodies import JSON_VALUE_REF
from gyeol.faces.http import JSONRoute, raises
from gyeol.faces.native.deps import Svc

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Sandbox PG webhooks (inbound)"])


def _header(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": True, "description": description, "schema": {"type": "string"}}


# The route reads its body itself, to check the signature over the bytes as sent: the document says what it takes.
SIGNED_EVENT = {
    "parameters": [_header("webhook-id", "The event's id: a redelivery carries the same one."),
                   _header("webhook-timestamp", "Seconds since the epoch, within 5 minutes of now."),
                   _header("webhook-signature", "v1,<base64 HMAC-SHA256> (Standard Webhooks).")],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["type", "data"],
        "properties": {"type": {"type": "string"}, "data": {"type": "object", "additionalProperties": JSON_VALUE_REF}},
        "additionalProperties": JSON_VALUE_REF}}}},
}


@router.post("/webhooks/payments", summary="Receive a signed event from the sandbox PG", openapi_extra=SIGNED_EVENT)
@raises("authentication")
async def receive(request: Request, svc: Svc) -> Any:
    body = await request.body()
    try:
        Webhook(svc.sandbox_webhook_secret).verify(body, dict(request.headers), json_parse=False)
    except Exception:  # every verification failure is the same answer: bad signature
        raise DomainError("authentication", "INVALID_SIGNATURE",
                          "The webhook signature is missing, wrong or outside the 5-minute tolerance.") from None
    try:
        event = orjson.loads(body)
        type_, data = event["type"], event["data"]
        if not isinstance(type_, str) or not isinstance(data, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise DomainError("validation", "INVALID_EVENT", "The event must be {type, data: {...}}.") from None
    fresh = await svc.payments.apply_pg_event("sandbox", request.headers["webhook-id"], type_, data)
    return {"received": True, "duplicate": not fresh}
