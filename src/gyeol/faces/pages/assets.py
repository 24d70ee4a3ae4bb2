"""Gyeol's routes to the pages' static files (`gyeol.web.assets`) and its empty favicon."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from gyeol.web.assets import asset_response

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/assets/{name}")
async def static_file(name: str) -> Response:
    return asset_response(name)


@router.get("/favicon.ico")
async def favicon() -> Response:
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})
