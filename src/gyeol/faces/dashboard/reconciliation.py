"""The reconciliation pages: the runs, a run's rows by state, the open exceptions; starting a run for a range of
days and resolving an exception with a note, by an owner or admin, through the same core service as the API."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from gyeol.core.errors import DomainError
from gyeol.core.reconciliation.records import EXCEPTIONS, EXPECTED, STATES
from gyeol.faces.dashboard import web
from gyeol.faces.dashboard.texts import TEXT

router = APIRouter(tags=["dashboard"], include_in_schema=False)
RUNS_PAGE = 20
ITEMS_PAGE = 50
ID = re.compile(r"[A-Za-z0-9_]{1,64}")
PG = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
CODE = re.compile(r"[A-Z_]{1,48}")  # a domain error's code, carried back to the page after a refused post
SOURCES = ("api", "import")
NOTE_MAX = 1000


def _page(request: Request, name: str) -> int:
    text = request.query_params.get(name, "1")
    return int(text) if text.isdigit() and 0 < int(text) <= 100_000 else 1


def _notices(request: Request) -> tuple[str | None, str | None]:
    """The notice and the problem a post sent the page back with."""
    t = TEXT[web.lang(request)]
    code = request.query_params.get("problem", "")
    return (t["done"] if request.query_params.get("done") else None,
            f"{t['error']} ({code})" if CODE.fullmatch(code) else None)


async def _overview(request: Request, status: int = 200, **extra: object) -> Response:
    s = await web.signed_in(request)
    svc = web.services(request).reconciliation
    page, xpage = _page(request, "page"), _page(request, "xpage")
    runs = await svc.list_runs(s.caller, page, RUNS_PAGE)
    exceptions = await svc.items(s.caller, xpage, ITEMS_PAGE, status="open")
    notice, problem = _notices(request)
    context: dict[str, object] = {"notice": notice, "problem": problem, "form": {}, "failed_run": None, **extra}
    return web.render(
        request, "reconciliation.html", session=s, status=status, runs=runs, exceptions=exceptions, states=STATES,
        back="", older_runs_url=web.with_query("/dashboard/reconciliation", page=page + 1, xpage=xpage)
        if page * RUNS_PAGE < runs.total else None,
        older_exceptions_url=web.with_query("/dashboard/reconciliation", page=page, xpage=xpage + 1)
        if xpage * ITEMS_PAGE < exceptions.total else None, **context)


@router.get("/dashboard/reconciliation")
async def overview(request: Request) -> Response:
    return await _overview(request)


@router.post("/dashboard/reconciliation/runs")
async def start_run(request: Request) -> Response:
    """A run of a range of sale days, through the reconciliation service the API's runs go through."""
    posted = await web.posted(request)
    svc, form = web.services(request), posted.form
    pg, source = form.get("pg", "").strip(), form.get("source", "")
    given = {k: form.get(k, "")[:40] for k in ("from", "to", "pg", "source")}
    try:
        start, end = web.day(form.get("from")), web.day(form.get("to"))
        if start is None or end is None:
            raise DomainError("validation", "INVALID_RANGE", "A run needs its first and last day.")
        if pg and not PG.fullmatch(pg):
            raise DomainError("validation", "INVALID_PG", "pg is 1 to 40 of a-z, 0-9, '_' and '-'.")
        run = await svc.reconciliation.run(posted.session.caller, start, end, pg=pg or None,
                                           source=source if source in SOURCES else None,
                                           audit=posted.note("reconciliation.run", **given))
    except DomainError as err:
        if err.kind == "permission":
            raise
        t = TEXT[web.lang(request)]
        run_id = (err.details or {}).get("runId")
        return await _overview(request, status=err.status, form=given, failed_run=run_id,
                               problem=f"{t['error']} ({err.message})")
    return web.see_other(f"/dashboard/reconciliation/runs/{run.id}?done=1")


@router.get("/dashboard/reconciliation/runs/{run_id}")
async def run_detail(run_id: str, request: Request) -> Response:
    s = await web.signed_in(request)
    svc = web.services(request).reconciliation
    run = await svc.get_run(s.caller, run_id[:64])
    state = request.query_params.get("state", "")
    state = state if state in EXCEPTIONS or state == EXPECTED else ""
    page = _page(request, "page")
    # Every exception of the run, open or resolved, unless one state is asked for (`expected` included).
    rows = await svc.items(s.caller, page, ITEMS_PAGE, run_id=run.id, state=state or None, status=None)
    here = f"/dashboard/reconciliation/runs/{run.id}"
    notice, problem = _notices(request)
    return web.render(
        request, "reconciliation_run.html", session=s, run=run, rows=rows, state=state, states=STATES,
        exceptions=EXCEPTIONS, expected=EXPECTED, here=here, back=run.id,
        older_url=web.with_query(here, state=state, page=page + 1) if page * ITEMS_PAGE < rows.total else None,
        notice=notice, problem=problem)


@router.post("/dashboard/reconciliation/exceptions/{item_id}/resolve")
async def resolve(item_id: str, request: Request) -> Response:
    """Close an exception with a note: who (the staff member), when and why, kept by the core and audited."""
    posted = await web.posted(request)
    svc, form = web.services(request), posted.form
    back = form.get("back", "")
    page = f"/dashboard/reconciliation/runs/{back}" if ID.fullmatch(back) else "/dashboard/reconciliation"
    note = form.get("note", "").strip()
    if not note or len(note) > NOTE_MAX:
        return web.see_other(web.with_query(page, problem="NOTE_REQUIRED"))
    try:
        await svc.reconciliation.resolve(posted.session.caller, item_id[:64], note,
                                          resolved_by=posted.session.staff.email,
                                          audit=posted.note("reconciliation.exception_resolved", note=note))
    except DomainError as err:
        if err.kind in ("not_found", "permission"):
            raise
        return web.see_other(web.with_query(page, problem=err.code))
    return web.see_other(web.with_query(page, done=1))
