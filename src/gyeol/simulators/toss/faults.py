"""The Toss simulator's fault switches: what goes wrong between Toss and its caller, on purpose, so that a test can
make a connector's own call meet it (docs/toss.md lists them).

A switch is armed per secret key through `POST /admin/faults`, to strike the next `times` calls that match it, or is
set on one request with the header `Gyeol-Sim-Fault: <name>[; option=value ...]`. Toss's books stay true: a fault
that strikes after the work (the default) leaves the work done and its answer kept under the request's
Idempotency-Key, as Toss keeps it; only the answer on the wire is lost or garbled. With `before`, the request never
reached Toss: nothing is done and nothing is kept.

The simulator keeps a journal of its API answers per secret key (`GET /admin/journal`), and its payments are listed
by `GET /admin/payments`: a test checks Toss's side of the books with them.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from gyeol.simulators.toss.wire import TossError, body_of, error_response, json_response, owner_of

NAMES = ("timeout", "error", "slow", "reset", "malformed_json", "missing_field", "already_processed")
OPERATIONS = ("confirm", "cancel", "lookup")  # the calls a connector makes; the buyer's window has no faults
CAN_STRIKE_BEFORE = ("timeout", "error", "reset")
HOLD_AT_MOST = 600.0  # seconds a `timeout` holds a request whose caller never gives up
JOURNAL_SIZE = 10_000


class BadFault(ValueError):
    """An admin request or a Gyeol-Sim-Fault header that names no valid switch."""


@dataclass
class Fault:
    name: str
    times: int = 1
    before: bool = False
    seconds: float = 20.0  # slow: how long the answer takes
    leave_out: str = "status"  # missing_field: the field left out of the answer
    operation: str | None = None
    payment_key: str | None = None
    order_id: str | None = None
    id: str = field(default_factory=lambda: "flt_" + secrets.token_hex(6))
    hits: int = 0

    def matches(self, operation: str, payment_key: str | None, order_id: str | None) -> bool:
        return (self.times > self.hits and self.operation in (None, operation)
                and self.payment_key in (None, payment_key) and self.order_id in (None, order_id))

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "fault": self.name, "times": self.times, "hits": self.hits, "before": self.before,
                "seconds": self.seconds, "field": self.leave_out,
                "match": {"operation": self.operation, "paymentKey": self.payment_key, "orderId": self.order_id}}


def parse(spec: dict[str, Any]) -> Fault:
    """A fault from the admin endpoint's body: {fault, times?, before?, seconds?, field?, match?: {operation?,
    paymentKey?, orderId?}}."""
    name, match = spec.get("fault"), spec.get("match") or {}
    if name not in NAMES:
        raise BadFault(f"fault is one of {', '.join(NAMES)}")
    if not isinstance(match, dict) or not set(match) <= {"operation", "paymentKey", "orderId"}:
        raise BadFault("match has operation, paymentKey and orderId, each optional")
    if match.get("operation") not in (None, *OPERATIONS):
        raise BadFault(f"match.operation is one of {', '.join(OPERATIONS)}")
    if not all(v is None or isinstance(v, str) for v in match.values()):
        raise BadFault("match's values are strings")
    times, before, seconds, missing = (spec.get("times", 1), spec.get("before", False), spec.get("seconds", 20.0),
                                       spec.get("field", "status"))
    if type(times) is not int or not 1 <= times <= 1000:
        raise BadFault("times is a whole number from 1 to 1000")
    if not isinstance(before, bool) or (before and name not in CAN_STRIKE_BEFORE):
        raise BadFault(f"before is true or false, and true only for {', '.join(CAN_STRIKE_BEFORE)}")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 300:
        raise BadFault("seconds is a number from 0 to 300")
    if not isinstance(missing, str) or not missing:
        raise BadFault("field names a field of the answer")
    return Fault(name, times, before, float(seconds), missing, match.get("operation"), match.get("paymentKey"),
                 match.get("orderId"))


def from_header(value: str) -> Fault:
    """`Gyeol-Sim-Fault: slow; seconds=3` -> one request's fault."""
    name, *options = [part.strip() for part in value.split(";")]
    spec: dict[str, Any] = {"fault": name}
    for option in options:
        key, _, raw = option.partition("=")
        if key not in ("before", "seconds", "field"):
            raise BadFault("Gyeol-Sim-Fault options are before, seconds and field")
        try:
            spec[key] = orjson.loads(raw) if key != "field" else raw
        except orjson.JSONDecodeError:
            raise BadFault(f"{key} has no valid value") from None
    return parse(spec)


class Switchboard:
    """The armed faults and the journal, per secret key (in memory, like the rest of the simulator)."""

    def __init__(self) -> None:
        self.armed: dict[str, list[Fault]] = {}
        self.journals: dict[str, deque[dict[str, Any]]] = {}

    def arm(self, owner: str, fault: Fault) -> Fault:
        self.armed.setdefault(owner, []).append(fault)
        return fault

    def take(self, owner: str, operation: str, payment_key: str | None, order_id: str | None) -> Fault | None:
        """The first armed fault this call meets, used up by one hit; None when it meets none."""
        for fault in self.armed.get(owner, ()):
            if fault.matches(operation, payment_key, order_id):
                fault.hits += 1
                return fault
        return None

    def pick(self, owner: str, header: str | None, operation: str, payment_key: str | None,
             order_id: str | None) -> Fault | None:
        """The fault of one call: its Gyeol-Sim-Fault header's, else the first armed one it matches."""
        return from_header(header) if header is not None else self.take(owner, operation, payment_key, order_id)

    def record(self, owner: str, operation: str, payment_key: str | None, order_id: str | None,
               answer: Response | None, fault: Fault | None, at: str | None) -> None:
        """The journal: what Toss answered (before a fault garbled it; None: the call never reached Toss)."""
        said: dict[str, Any] = {}
        if answer is not None:
            with contextlib.suppress(orjson.JSONDecodeError):
                said = orjson.loads(answer.body)
        self.journals.setdefault(owner, deque(maxlen=JOURNAL_SIZE)).append({
            "operation": operation, "paymentKey": payment_key, "orderId": order_id,
            "httpStatus": answer.status_code if answer is not None else None, "code": said.get("code"),
            "status": said.get("status"), "fault": fault.name if fault else None,
            "before": bool(fault and fault.before), "at": at})


# --- what a fault puts on the wire instead of the answer -------------------------------------------------------

class _Held(Response):
    """No answer at all: the request is held until its caller gives up (its connection closes)."""

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD_AT_MOST):
                while (await receive())["type"] != "http.disconnect":
                    pass


class _Cut(Response):
    """The answer's head and half its body, then the connection closes (the server logs that the answer was not
    completed)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        await send({"type": "http.response.body", "body": self.body[: len(self.body) // 2], "more_body": True})


def _raw(status: int, body: bytes) -> Response:
    return Response(body, status_code=status, media_type="application/json")


INTERNAL = orjson.dumps({"code": "FAILED_INTERNAL_SYSTEM_PROCESSING", "message": "일시적인 오류가 발생했습니다."})


def instead(fault: Fault, answer: Response | None) -> Response:
    """What the caller gets instead of `answer` (None: the request never reached Toss)."""
    if fault.name in ("timeout", "already_processed"):
        return _Held()
    if fault.name == "error":
        return _raw(500, INTERNAL)
    if answer is None:  # reset before the work: nothing was answered yet
        return _Cut(INTERNAL, status_code=500, media_type="application/json")
    body = bytes(answer.body)
    if fault.name == "reset":
        return _Cut(body, status_code=answer.status_code, media_type="application/json")
    if fault.name == "malformed_json":
        return _raw(answer.status_code, body[: len(body) // 2])
    if fault.name == "missing_field":
        obj = orjson.loads(body)
        gone = fault.leave_out if fault.leave_out in obj else next((k for k in ("status", "code") if k in obj), None)
        obj.pop(gone, None)
        return _raw(answer.status_code, orjson.dumps(obj))
    return answer  # slow: late, but whole


# --- the admin endpoints ---------------------------------------------------------------------------------------

def admin_routes(board: Switchboard, payments_of: Callable[[str, str | None], list[dict[str, Any]]]) -> list[Route]:
    """`/admin/faults` (POST arms one, GET lists them, DELETE disarms them all), `/admin/payments?orderId=` and
    `/admin/journal`, each for the secret key of the request's Basic auth."""

    async def faults(request: Request) -> Response:
        try:
            owner = owner_of(request)
            if request.method == "POST":
                try:
                    fault = parse(await body_of(request))
                except BadFault as exc:
                    raise TossError("INVALID_REQUEST", text=str(exc)) from None
                return json_response(board.arm(owner, fault).to_json())
            if request.method == "DELETE":
                board.armed.pop(owner, None)
            return json_response({"faults": [f.to_json() for f in board.armed.get(owner, ())]})
        except TossError as err:
            return error_response(err)

    async def payments(request: Request) -> Response:
        try:
            return json_response({"payments": payments_of(owner_of(request), request.query_params.get("orderId"))})
        except TossError as err:
            return error_response(err)

    async def journal(request: Request) -> Response:
        try:
            return json_response({"entries": list(board.journals.get(owner_of(request), ()))})
        except TossError as err:
            return error_response(err)

    return [Route("/admin/faults", faults, methods=["GET", "POST", "DELETE"]),
            Route("/admin/payments", payments, methods=["GET"]),
            Route("/admin/journal", journal, methods=["GET"])]
