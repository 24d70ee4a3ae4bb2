"""Settlements on the native API: a page, one row, or a CSV for the merchant's books."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Paging, Svc

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["settlements"])
StatusQ = Query(default=None, pattern="^(scheduled|paid)$")


@router.get("/settlements")
async def list_settlements(svc: Svc, caller: MerchantCaller, paging: Paging,
                           start: date | None = Query(default=None, alias="from"),
                           end: date | None = Query(default=None, alias="to"),
                           status: str | None = StatusQ) -> Any:
    return await svc.settlements.list_page(caller, paging.page, paging.size, start, end, status)


@router.get("/settlements.csv")
async def settlements_csv(svc: Svc, caller: MerchantCaller,
                          start: date | None = Query(default=None, alias="from"),
                          end: date | None = Query(default=None, alias="to"),
                          status: str | None = StatusQ) -> Response:
    body = await svc.settlements.csv(caller, start, end, status)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="settlements.csv"'})


@router.get("/settlements/{settlement_id}")
async def get_settlement(settlement_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return await svc.settlements.get(caller, settlement_id)
