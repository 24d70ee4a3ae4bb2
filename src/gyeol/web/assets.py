"""The pages' static files (CSS, JS), shipped in the package and served by Gyeol itself: nothing third-party."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from starlette.responses import Response

MEDIA_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}
ASSETS = ("checkout.css", "checkout.js", "receipt.css", "dashboard.css")


@cache
def asset(name: str) -> bytes:
    """One of the known static files; anything else is not served (no path is ever built from a request)."""
    if name not in ASSETS:
        raise KeyError(name)
    return files("gyeol.web").joinpath("static", name).read_bytes()


def asset_response(name: str) -> Response:
    try:
        body = asset(name)
    except KeyError:
        return Response(status_code=404)
    media = MEDIA_TYPES[name[name.rindex("."):]]
    return Response(body, media_type=media, headers={"Cache-Control": "public, max-age=3600",
                                                     "X-Content-Type-Options": "nosniff"})
