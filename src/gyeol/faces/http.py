"""HTTP plumbing shared by every face: the JSON response class and the per-face error registry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import orjson
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from gyeol.core.errors import DomainError


class FastJSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class JSONRoute(APIRoute):
    """A route whose endpoint returns plain JSON data (dicts of str, int, None...), written straight with orjson.

    FastAPI would first pass the data through `jsonable_encoder`, which walks it all again in Python; the data is
    JSON already."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        status = kwargs.get("status_code") or 200

        @functools.wraps(endpoint)
        async def direct(*args: Any, **kw: Any) -> Any:
            result = await endpoint(*args, **kw)
            return result if isinstance(result, Response) else FastJSON(result, status_code=status)

        super().__init__(path, direct, **kwargs)


ErrorRenderer = Callable[[DomainError, str], Response]


class FaceErrors:
    """Which face owns a path, and so in which format its errors are written."""

    def __init__(self, default: ErrorRenderer) -> None:
        self.default = default
        self._faces: list[tuple[str, ErrorRenderer]] = []

    def register(self, prefix: str, renderer: ErrorRenderer) -> None:
        self._faces.append((prefix, renderer))
        self._faces.sort(key=lambda f: len(f[0]), reverse=True)

    def renderer(self, path: str) -> ErrorRenderer:
        for prefix, renderer in self._faces:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return renderer
        return self.default

    def render(self, path: str, err: DomainError, request_id: str) -> Response:
        response = self.renderer(path)(err, request_id)
        for k, v in err.headers.items():
            response.headers[k] = v
        return response
