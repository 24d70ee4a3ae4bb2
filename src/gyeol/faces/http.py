"""HTTP plumbing shared by every face: the JSON response class and the per-face error registry."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response

from gyeol.core.errors import DomainError, Kind

F = TypeVar("F", bound=Callable[..., Any])
# What a route's endpoint or dependency raises beyond what every route can (faces.contract documents it).
RAISES: dict[Callable[..., Any], frozenset[Kind]] = {}


def raises(*kinds: Kind) -> Callable[[F], F]:
    """Marks an endpoint or a dependency with the kinds of DomainError it raises, for the OpenAPI document."""

    def mark(fn: F) -> F:
        RAISES[fn] = frozenset(kinds)
        return fn

    return mark


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


@dataclass(frozen=True)
class ErrorFormat:
    """A face's error body as the OpenAPI document names it: a component's name and its JSON Schema."""

    name: str
    schema: dict[str, Any]


class FaceErrors:
    """Which face owns a path, and so in which format its errors are written (and documented)."""

    def __init__(self, default: ErrorRenderer, default_format: ErrorFormat | None = None) -> None:
        self.default = default
        self.default_format = default_format
        self._faces: list[tuple[str, ErrorRenderer, ErrorFormat | None]] = []

    def register(self, prefix: str, renderer: ErrorRenderer, error_format: ErrorFormat | None = None) -> None:
        self._faces.append((prefix, renderer, error_format))
        self._faces.sort(key=lambda f: len(f[0]), reverse=True)

    def _face(self, path: str) -> tuple[ErrorRenderer, ErrorFormat | None]:
        for prefix, renderer, error_format in self._faces:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return renderer, error_format
        return self.default, self.default_format

    def renderer(self, path: str) -> ErrorRenderer:
        return self._face(path)[0]

    def error_format(self, path: str) -> ErrorFormat | None:
        return self._face(path)[1]

    def render(self, path: str, err: DomainError, request_id: str) -> Response:
        response = self.renderer(path)(err, request_id)
        for k, v in err.headers.items():
            response.headers[k] = v
        return response
