"""Settlements on the native API: a page, one row, or a CSV for the merchant's books."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi import APIRouter, Query
from starlette.responses import Response

from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Paging, Svc
from gyeol.faces.native.schemas import IsoDate
from gyeol.faces.native.views import page_view, settlement_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1", tags=["Settlements"])
CSV_FIELDS = ["settlementId", "kind", "orderId", "paymentId", "method", "grossAmount", "feeAmount", "netAmount",
              "currency", "status", "payoutDate", "createdAt"]


class CsvResponse(Response):
    media_type = "text/csv"



StatusQ = Query(default=None, pattern="^(scheduled|paid)$")


@router.get("/settlements", summary="List settlements")
async def list_settlements(svc: Svc, caller: MerchantCaller, paging: Paging,
                           start: IsoDate | None = Query(default=None, alias="from"),
                           end: IsoDate | None = Query(default=None, alias="to"),
                           status: str | None = StatusQ) -> Any:
    return page_view(await svc.settlements.list_page(caller, paging.page, paging.size, start, end, status),
                     settlement_view)


@router.get("/settlements.csv", summary="Download settlements as CSV", response_class=CsvResponse)
async def settlements_csv(svc: Svc, caller: MerchantCaller,
                          start: IsoDate | None = Query(default=None, alias="from"),
                          end: IsoDate | None = Query(default=None, alias="to"),
                          status: str | None = StatusQ) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for s in await svc.settlements.all(caller, start, end, status):
        writer.writerow(settlement_view(s))
    body = out.getvalue()
    return CsvResponse(body, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="settlements.csv"'})


@router.get("/settlements/{settlement_id}", summary="Get a settlement")
async def get_settlement(settlement_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return settlement_view(await svc.settlements.get(caller, settlement_id))
