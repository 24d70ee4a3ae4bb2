"""A merchant's webhook receiver on a real port: records what arrives, answers as the test scripts it."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    fail_rate: float = 0.0
    answer: Callable[[Received], int] | None = None  # overrides fail_rate when set
    seed: int = 7
    delay: float = 0.0  # seconds each answer takes
    calls: list[Received] = field(default_factory=list)
    _server: Any = None
    _task: Any = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def ok_ids(self) -> set[str]:
        return {c.headers["webhook-id"] for c in self.calls if 200 <= c.status < 300}

    async def _hook(self, request: Request) -> Response:
        got = Received({k.lower(): v for k, v in request.headers.items()}, await request.body(), 200)
        if self.answer is not None:
            got.status = self.answer(got)
        elif self._rng.random() < self.fail_rate:
            got.status = 500
        await asyncio.sleep(self.delay)
        self.calls.append(got)
        if got.status in (301, 302, 307):
            return Response(status_code=got.status, headers={"location": "http://127.0.0.1:1/elsewhere"})
        return JSONResponse({"ok": got.status < 300}, status_code=got.status)

    async def __aenter__(self) -> Receiver:
        self._rng = random.Random(self.seed)  # noqa: S311
        app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False,
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:  # noqa: ASYNC110 - uvicorn offers no event for this
            await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self._server.should_exit = True
        await self._task
