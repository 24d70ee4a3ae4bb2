"""The API request guard: body size, content type, and idempotency keys, for every face.

It sits in front of the routes so that a replayed response never runs a handler again, and it
renders its refusals in the format of the face that owns the path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.idempotency import IdempotencyStore
from gyeol.faces.http import FaceErrors

CallerResolver = Callable[[Scope], Awaitable[Caller | None]]
API_PREFIXES = ("/api/", "/v1/")
# Responses that describe the request, not its outcome, are not kept (Stripe does the same).
NOT_STORED = {401, 429}


def _header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


class ApiGuardMiddleware:
    def __init__(self, app: ASGIApp, *, faces: FaceErrors, store: IdempotencyStore, resolve_caller: CallerResolver,
                 max_body: int) -> None:
        self.app = app
        self.faces = faces
        self.store = store
        self.resolve_caller = resolve_caller
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH", "DELETE") \
                or not scope["path"].startswith(API_PREFIXES):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read_body(scope, receive)
            self._check_content_type(scope, body)
            key = _header(scope, b"idempotency-key")
            if key is not None:
                self._check_key(key)
        except DomainError as err:
            await self._refuse(scope, receive, send, err)
            return

        async def replay_receive() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        if key is None or scope["method"] != "POST":
            await self.app(scope, replay_receive, send)
            return
        caller = await self.resolve_caller(scope)
        if caller is None:  # the route answers 401
            await self.app(scope, replay_receive, send)
            return
        await self._idempotent(scope, replay_receive, send, caller, key, body)

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send, caller: Caller, key: str,
                          body: bytes) -> None:
        path = scope["path"]
        digest = hashlib.sha256(scope["method"].encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()
        claim = await self.store.claim(caller.merchant_id, caller.scope, key, scope["method"], path, digest)
        if claim.kind == "replay":
            headers = [(b"content-type", (claim.headers or {}).get("content-type", "application/json").encode()),
                       (b"idempotent-replayed", b"true")]
            await send({"type": "http.response.start", "status": claim.status or 200, "headers": headers})
            await send({"type": "http.response.body", "body": claim.body or b""})
            return
        if claim.kind == "mismatch":
            await self._refuse(scope, receive, send, DomainError(
                "idempotency", "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.", status=422))
            return
        if claim.kind == "in_progress":
            await self._refuse(scope, receive, send, DomainError(
                "idempotency", "IDEMPOTENCY_REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still in progress; retry later.", status=409))
            return
        state = scope.setdefault("state", {})
        state["idempotency_resumed"] = claim.kind == "resumed"
        captured: dict[str, object] = {"status": 500, "body": [], "ctype": "application/json"}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                for k, v in message.get("headers", []):
                    if k == b"content-type":
                        captured["ctype"] = v.decode()
            elif message["type"] == "http.response.body":
                chunks = captured["body"]
                assert isinstance(chunks, list)
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await self.store.release(caller.merchant_id, caller.scope, key)
            raise
        status = captured["status"]
        assert isinstance(status, int)
        if status in NOT_STORED or status >= 500 or state.get("no_idempotency_store"):
            await self.store.release(caller.merchant_id, caller.scope, key)
        else:
            chunks = captured["body"]
            assert isinstance(chunks, list)
            await self.store.complete(caller.merchant_id, caller.scope, key, status, b"".join(chunks),
                                      {"content-type": str(captured["ctype"])})

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise DomainError("validation", "BODY_TOO_LARGE", f"The body exceeds {self.max_body} bytes.",
                              status=413)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise DomainError("validation", "BODY_TOO_LARGE", f"The body exceeds {self.max_body} bytes.",
                                  status=413)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)

    @staticmethod
    def _check_content_type(scope: Scope, body: bytes) -> None:
        if not body.strip():
            return
        ctype = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise DomainError("validation", "UNSUPPORTED_MEDIA_TYPE",
                              "Send the body as JSON with 'Content-Type: application/json'.", status=415)

    @staticmethod
    def _check_key(key: str) -> None:
        if not key or len(key) > 255 or not all(0x20 <= ord(c) <= 0x7E for c in key):
            raise DomainError("validation", "INVALID_IDEMPOTENCY_KEY",
                              "Idempotency-Key must be 1-255 printable ASCII characters.")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: DomainError) -> None:
        request_id = scope.get("state", {}).get("request_id", "")
        response = self.faces.render(scope["path"], err, request_id)
        await response(scope, receive, send)
