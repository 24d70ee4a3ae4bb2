"""What every call to the Toss simulator shares on the wire: Basic auth by a test secret key, a JSON object body,
and errors as Toss answers them ({code, message} with the code's HTTP status)."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gyeol.toss_v1 import ERROR_STATUS, message


class TossError(Exception):
    def __init__(self, code: str, status: int | None = None, text: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.status = status or ERROR_STATUS.get(code, 400)
        self.text = text or message(code)


def owner_of(request: Request) -> str:
    """The secret key of the request's Basic auth: whose payments (and faults) the call is about."""
    header = request.headers.get("authorization", "")
    if not header.startswith("Basic "):
        raise TossError("UNAUTHORIZED_KEY")
    try:
        decoded = base64.b64decode(header[6:], validate=True).decode()
    except ValueError:
        raise TossError("UNAUTHORIZED_KEY") from None
    if ":" not in decoded:
        raise TossError("INCORRECT_BASIC_AUTH_FORMAT")
    key = decoded.split(":", 1)[0]
    if not key.startswith("test_sk_") or len(key) < 9:
        raise TossError("UNAUTHORIZED_KEY")
    return key


async def body_of(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body() or b"{}")
    except orjson.JSONDecodeError:
        raise TossError("INVALID_REQUEST") from None
    if not isinstance(body, dict):
        raise TossError("INVALID_REQUEST")
    return body


def json_response(obj: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=status, media_type="application/json")


def error_response(err: TossError) -> Response:
    return json_response({"code": err.code, "message": err.text}, err.status)
