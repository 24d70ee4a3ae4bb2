"""The request guard, in front of every route: the request's target, its body's size, the time it takes to arrive
and its JSON, and idempotency keys on the API faces.

Every body is read here, whole and within its limits, before any route parses it, so a limit holds for every face
and page alike. On the API faces the guard holds the routes' responses back until the key's record is settled: a
request whose key another one holds changes nothing (its service's claim finds the key taken and its transaction
is rolled back) and gets that request's response instead, or resumes its work when that request is gone.
Refusals are rendered in the format of the face that owns the path.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gyeol.core import idempotency
from gyeol.core.availability import unavailable
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.idempotency import Claim, IdempotencyStore, Kept, Request, RequestKey
from gyeol.faces.bodies import check_json, check_target, header
from gyeol.faces.http import FaceErrors

CallerResolver = Callable[[Scope], Awaitable[Caller | None]]
API_PREFIXES = ("/api/", "/v1/")
BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# Responses that describe the request, not its outcome, are not kept (Stripe does the same).
NOT_STORED = {401, 429}


class _Replay:
    """The body, read already, handed to the route once; after it, what the client sends (its disconnect)."""

    def __init__(self, body: bytes, receive: Receive) -> None:
        self.body: bytes | None = body
        self.receive = receive

    async def __call__(self) -> Message:
        if self.body is None:
            return await self.receive()
        body, self.body = self.body, None
        return {"type": "http.request", "body": body, "more_body": False}


class _Response:
    """A route's response, held back."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.status = 500
        self.headers = {"content-type": "application/json"}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    async def capture(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            for k, v in message.get("headers", []):
                if k == b"content-type":
                    self.headers["content-type"] = v.decode()
        self.messages.append(message)


def _kept(scope: Scope, response: _Response) -> Kept | None:
    """What of a route's response its key keeps for replays: not a 5xx (a retry runs again), nor a response that
    describes the request rather than its outcome, nor one the route asked not to keep."""
    if response.status in NOT_STORED or response.status >= 500 or scope.get("state", {}).get("no_idempotency_store"):
        return None
    return Kept(response.status, response.body, response.headers)


class ApiGuardMiddleware:
    def __init__(self, app: ASGIApp, *, faces: FaceErrors, store: IdempotencyStore, resolve_caller: CallerResolver,
                 max_body: int, body_timeout: float) -> None:
        self.app = app
        self.faces = faces
        self.store = store
        self.resolve_caller = resolve_caller
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["method"] in BODY_METHODS and scope["path"].startswith(API_PREFIXES)
        try:
            check_target(scope)
            body = await self._read_body(scope, receive)
            key = None
            if api:
                check_json(scope, body)
                key = header(scope, b"idempotency-key")
                if key is not None:
                    self._check_key(key)
        except DomainError as err:
            await self._refuse(scope, receive, send, err)
            return

        if key is None or scope["method"] != "POST":
            await self.app(scope, _Replay(body, receive), send)
            return
        try:
            # The caller's key is looked up in the database (once in a while: it is cached).
            caller = await self.resolve_caller(scope)
            if caller is not None:
                await self._idempotent(scope, receive, send, caller, key, body)
        except Exception as exc:
            # The caller or the key's own record could not be read or kept: nothing was answered yet, and a retry
            # of the key resumes whatever the route committed.
            down = unavailable(exc)
            if down is None:
                raise
            await self._refuse(scope, receive, send, down)
            return
        if caller is None:  # the route answers 401
            await self.app(scope, _Replay(body, receive), send)

    async def _idempotent(self, scope: Scope, receive: Receive, send: Send, caller: Caller, key: str,
                          body: bytes) -> None:
        path = scope["path"]
        digest = hashlib.sha256(scope["method"].encode() + b"\n" + path.encode() + b"\n" + body).hexdigest()
        held = RequestKey(Request(caller.merchant_id, caller.scope, key, scope["method"], path, digest), self.store)
        # The route's service claims the key in its first transaction (core.idempotency.claim).
        outcome = await idempotency.serve(held, lambda: self._run(scope, body, receive),
                                          lambda response: _kept(scope, response))
        if isinstance(outcome, Claim):
            await self._answer(scope, receive, send, outcome)
            return
        for message in outcome.messages:
            await send(message)

    async def _run(self, scope: Scope, body: bytes, receive: Receive) -> _Response:
        """Run the route, holding its response back until the key's record says it may go."""
        response = _Response()
        await self.app(scope, _Replay(body, receive), response.capture)
        return response

    async def _answer(self, scope: Scope, receive: Receive, send: Send, claim: Claim) -> None:
        """Answer from a key another request holds (`idempotency.ANSWERED`)."""
        if claim.kind == "replay":
            headers = [(b"content-type", (claim.headers or {}).get("content-type", "application/json").encode()),
                       (b"idempotent-replayed", b"true")]
            await send({"type": "http.response.start", "status": claim.status or 200, "headers": headers})
            await send({"type": "http.response.body", "body": claim.body or b""})
        elif claim.kind == "mismatch":
            await self._refuse(scope, receive, send, DomainError(
                "idempotency", "IDEMPOTENCY_KEY_REUSED",
                "This Idempotency-Key was used with a different request.", status=422))
        else:
            await self._refuse(scope, receive, send, DomainError(
                "idempotency", "IDEMPOTENCY_REQUEST_IN_PROGRESS",
                "A request with this Idempotency-Key is still in progress; retry later.", status=409))

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.body_timeout):  # a slow client holds a connection, not the server
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        break
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        raise self._too_large()
                    chunks.append(chunk)
                    if not message.get("more_body"):
                        break
        except TimeoutError:
            raise DomainError("validation", "REQUEST_TIMEOUT",
                              f"The body did not arrive within {self.body_timeout:g} seconds.", status=408,
                              headers={"Connection": "close"}) from None
        return b"".join(chunks)

    def _too_large(self) -> DomainError:
        return DomainError("validation", "BODY_TOO_LARGE", f"The body exceeds {self.max_body} bytes.", status=413,
                           headers={"Connection": "close"})

    @staticmethod
    def _check_key(key: str) -> None:
        if not key or len(key) > 255 or not (key.isascii() and key.isprintable()):  # 0x20-0x7E, in C
            raise DomainError("validation", "INVALID_IDEMPOTENCY_KEY",
                              "Idempotency-Key must be 1-255 printable ASCII characters.")

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, err: DomainError) -> None:
        request_id = scope.get("state", {}).get("request_id", "")
        response = self.faces.render(scope["path"], err, request_id)
        await response(scope, receive, send)
