"""A test-only stop. With `GYEOL_TEST_KILL_AFTER_COMMIT=N` set, a server process kills itself (SIGKILL, as a
crash would) right after the N-th commit of a request that carries an Idempotency-Key: tests cut a payment or a
refund at each point and check that a retry of the key ends with one effect and the usual answer."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

KILL_AFTER = int(os.environ.get("GYEOL_TEST_KILL_AFTER_COMMIT") or 0)
_count: ContextVar[list[int] | None] = ContextVar("gyeol_request_commits", default=None)


@contextmanager
def counted() -> Iterator[None]:
    """Count the commits of the request served inside."""
    token = _count.set([0] if KILL_AFTER else None)
    try:
        yield
    finally:
        _count.reset(token)


def committed() -> None:
    count = _count.get()
    if count is not None:
        count[0] += 1
        if count[0] == KILL_AFTER:
            os.kill(os.getpid(), signal.SIGKILL)
