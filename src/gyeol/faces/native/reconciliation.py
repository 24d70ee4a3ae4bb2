"""Reconciliation on the native API (the merchant's key): runs over a range of sale days, the exceptions they
found and their resolutions, and PG reports imported from CSV (docs/ledger.md, Reconciliation)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BeforeValidator, Field, StrictStr

from gyeol.core.reconciliation.records import STATES
from gyeol.faces.http import JSONRoute
from gyeol.faces.native.deps import MerchantCaller, Paging, Sensitive, Svc
from gyeol.faces.native.schemas import Strict
from gyeol.faces.native.views import imported_view, item_view, page_view, run_view

router = APIRouter(route_class=JSONRoute, prefix="/api/v1/reconciliation", tags=["Reconciliation"])
PG = r"^[a-z0-9][a-z0-9_-]{0,39}$"
ITEM_STATES = "^(" + "|".join(s for s in STATES if s != "matched") + ")$"


def _day(value: object) -> date:
    if not isinstance(value, str) or len(value) != 10:
        raise ValueError("must be a date, YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date, YYYY-MM-DD") from None


Day = Annotated[date, BeforeValidator(_day)]


class RunIn(Strict):
    """A range of sale days (Korean days, both inclusive), the PG, and where its report comes from."""

    start: Day = Field(alias="from")
    end: Day = Field(alias="to")
    pg: StrictStr | None = Field(default=None, pattern=PG)
    source: Literal["api", "import"] | None = None


class ResolveIn(Strict):
    note: StrictStr = Field(min_length=1, max_length=1000)
    resolved_by: StrictStr | None = Field(default=None, alias="resolvedBy", min_length=1, max_length=200)


class ImportIn(Strict):
    """A PG's settlement report: the CSV file's text (its columns in docs/ledger.md)."""

    pg: StrictStr = Field(pattern=PG)
    csv: StrictStr = Field(min_length=1)


@router.post("/runs", summary="Reconcile a range of days against a PG's report")
async def start_run(body: RunIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    return run_view(await svc.reconciliation.run(caller, body.start, body.end, pg=body.pg, source=body.source))


@router.get("/runs", summary="List reconciliation runs")
async def list_runs(svc: Svc, caller: MerchantCaller, paging: Paging,
                    pg: str | None = Query(default=None, pattern=PG),
                    status: str | None = Query(default=None, pattern="^(completed|failed)$")) -> Any:
    return page_view(await svc.reconciliation.list_runs(caller, paging.page, paging.size, pg=pg, status=status),
                     run_view)


@router.get("/runs/{run_id}", summary="Get a reconciliation run")
async def get_run(run_id: str, svc: Svc, caller: MerchantCaller) -> Any:
    return run_view(await svc.reconciliation.get_run(caller, run_id))


@router.get("/exceptions", summary="List exceptions (open ones by default), or the rows of one state")
async def list_exceptions(svc: Svc, caller: MerchantCaller, paging: Paging,
                          run_id: str | None = Query(default=None, alias="runId", max_length=40),
                          state: str | None = Query(default=None, pattern=ITEM_STATES),
                          status: str = Query(default="open", pattern="^(open|resolved|all)$")) -> Any:
    page = await svc.reconciliation.items(caller, paging.page, paging.size, run_id=run_id, state=state,
                                          status=None if status == "all" else status)
    return page_view(page, item_view)


@router.post("/exceptions/{exception_id}/resolve", summary="Resolve an exception with a note")
async def resolve(exception_id: str, body: ResolveIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    return item_view(await svc.reconciliation.resolve(caller, exception_id, body.note, body.resolved_by))


@router.post("/imports", summary="Import a PG's settlement report from CSV")
async def import_report(body: ImportIn, svc: Svc, caller: MerchantCaller, _: Sensitive) -> Any:
    return imported_view(await svc.reconciliation.import_report(caller, body.pg, body.csv))

