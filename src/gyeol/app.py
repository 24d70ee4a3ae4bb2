"""create_app(settings): builds the ASGI app and mounts every face over the one core."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gyeol.config import Settings
from gyeol.core import processes, recovery
from gyeol.core.availability import unavailable
from gyeol.core.errors import DomainError
from gyeol.core.merchants import pg_accounts
from gyeol.faces.guard import ApiGuardMiddleware
from gyeol.faces.http import FaceErrors, FastJSON
from gyeol.faces.kiosk import errors as kiosk_errors
from gyeol.faces.kiosk import routes as kiosk_routes
from gyeol.faces.native import balance as native_balance
from gyeol.faces.native import customers as native_customers
from gyeol.faces.native import errors as native_errors
from gyeol.faces.native import events as native_events
from gyeol.faces.native import orders as native_orders
from gyeol.faces.native import payments as native_payments
from gyeol.faces.native import refunds as native_refunds
from gyeol.faces.native import sandbox as native_sandbox
from gyeol.faces.native import settlements as native_settlements
from gyeol.faces.native import webhooks as native_webhooks
from gyeol.faces.pages import assets as page_assets
from gyeol.faces.pages import checkout as checkout_pages
from gyeol.faces.pages import errors as page_errors
from gyeol.faces.pages import receipts as receipt_pages
from gyeol.faces.shop import errors as shop_errors
from gyeol.faces.shop import routes as shop_routes
from gyeol.faces.shopping import errors as shopping_errors
from gyeol.faces.shopping import routes as shopping_routes
from gyeol.models import payments
from gyeol.observability import Metrics, RequestContextMiddleware
from gyeol.services import Services, build_services
from gyeol.simulators.toss.simulator import TossSimulator
from gyeol.worker import run_forever

log = structlog.get_logger(__name__)


def create_app(settings: Settings, services: Services | None = None, *, bootstrap: bool = False) -> FastAPI:
    svc = services or build_services(settings)
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if bootstrap:
            default, generated = await svc.merchants.ensure_default(settings.test_secret_key)
            if generated:
                print(f"Created the default merchant. Its test secret key (shown once): {generated}", flush=True)
            if settings.toss_secret_key:
                await set_toss_key(svc, default["id"], settings.toss_secret_key)
        stop, jobs = asyncio.Event(), None
        beats = asyncio.create_task(processes.heartbeat(
            svc.db, svc.clock, stop, lambda: recovery.carry_on_orphans(svc.idempotency, svc.payments, svc.refunds)))
        if bootstrap and settings.worker == "embedded":
            # The single-machine mode: this process also runs the background jobs (relay, webhooks, reconciler,
            # expiries). Leases and SKIP LOCKED make that safe with any number of processes.
            jobs = asyncio.create_task(run_forever(svc, settings.worker_interval, stop))
        yield
        stop.set()
        await beats
        if jobs is not None:
            try:  # the pass in flight finishes, or is cut off (its `finally`s still release its lease)
                await asyncio.wait_for(jobs, settings.shutdown_grace_seconds)
            except TimeoutError:
                log.warning("worker_grace_ran_out", grace_seconds=settings.shutdown_grace_seconds)
        if simulator is not None:
            await simulator.aclose()
        if services is None:
            await svc.close()

    simulator = None
    if settings.toss_sim:
        simulator = TossSimulator(
            webhook_url=settings.toss_sim_webhook_url or settings.base_url() + "/api/payments/callback",
            retry_unit_seconds=settings.toss_sim_retry_unit_seconds, public_url=settings.base_url() + "/sandbox/toss")

    app = FastAPI(title="Gyeol", version="0.1.0", default_response_class=FastJSON, lifespan=lifespan,
                  description="A self-hostable payment server. Amounts are integers in minor units.")
    app.state.services = svc
    app.state.settings = settings
    faces = FaceErrors(native_errors.render)
    faces.register("/api/v1", native_errors.render)
    faces.register("/v1", kiosk_errors.render)
    faces.register("/api/payments", shop_errors.renderer(development=settings.env == "development"))
    faces.register("/api/shopping", shopping_errors.renderer(svc.clock))
    for prefix in page_errors.PREFIXES:
        faces.register(prefix, page_errors.render)
    app.state.faces = faces

    _add_routes(app, native_payments, native_orders, native_refunds, native_customers, native_sandbox,
                native_webhooks, native_settlements, native_balance, native_events, kiosk_routes, page_assets,
                checkout_pages, receipt_pages, shop_routes, shopping_routes)

    if simulator is not None:
        app.state.toss_simulator = simulator
        app.mount("/sandbox/toss", simulator)
    _install_error_handlers(app, faces)
    _install_ops_routes(app, svc, metrics)

    app.add_middleware(ApiGuardMiddleware, faces=faces, store=svc.idempotency, resolve_caller=svc.resolve_caller,
                       max_body=settings.max_body_bytes, body_timeout=settings.body_timeout_seconds)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    return app


def _add_routes(app: FastAPI, *modules: Any) -> None:
    """Each face's routes, straight into the app's own list (their routers carry their full prefixes). FastAPI's
    `include_router` would wrap each router in a branch that every request walks, matching and restoring scope
    keys router by router."""
    for module in modules:
        app.router.routes.extend(module.router.routes)


async def set_toss_key(svc: Services, merchant_id: str, secret_key: str) -> None:
    """Store a merchant's Toss secret key, encrypted; paymentKey flows then go to Toss."""
    settings = (await svc.merchants.get(merchant_id)).get("settings") or {}
    if pg_accounts.secret_key(settings, "toss", svc.cipher) != secret_key:
        pg = pg_accounts.with_secret_key(settings, "toss", secret_key, svc.cipher)
        await svc.merchants.update_settings(merchant_id, {"pg": pg})


def _request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def _install_error_handlers(app: FastAPI, faces: FaceErrors) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, err: DomainError) -> Response:
        return faces.render(request.url.path, err, _request_id(request))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        request.state.no_idempotency_store = True
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            err = DomainError("validation", "INVALID_JSON", "The body is not valid JSON.")
        else:
            # Never echo the input: it may hold a card number.
            fields = [{"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg")}
                      for e in errors]
            summary = "; ".join(f"{f['field'] or 'body'}: {f['message']}" for f in fields[:5])
            err = DomainError("validation", "INVALID_REQUEST", f"Invalid request: {summary}",
                              details={"errors": fields})
        return faces.render(request.url.path, err, _request_id(request))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        kind: Any = {404: "not_found", 405: "validation"}.get(exc.status_code, "validation")
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}.get(exc.status_code, "BAD_REQUEST")
        err = DomainError(kind, code, str(exc.detail), status=exc.status_code)
        return faces.render(request.url.path, err, _request_id(request))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeout)
    async def database_error(request: Request, exc: Exception) -> Response:
        err = unavailable(exc)
        if err is None:
            return await internal_error(request, exc)
        log.warning("database_unavailable", error=type(exc).__name__, path=request.url.path)
        return faces.render(request.url.path, err, _request_id(request))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.error("unhandled_error", error=type(exc).__name__, path=request.url.path)
        err = DomainError("internal", "INTERNAL", "Something went wrong on our side. Quote the request id.")
        return faces.render(request.url.path, err, _request_id(request))


def _install_ops_routes(app: FastAPI, svc: Services, metrics: Metrics) -> None:
    @app.get("/healthz", tags=["Operations"], summary="Liveness")
    async def healthz() -> Any:
        return {"status": "ok"}

    @app.get("/readyz", tags=["Operations"], summary="Readiness (the database answers)")
    async def readyz() -> Any:
        # Twice: a connection the database dropped while idle fails once and takes the other idle ones with it;
        # what is asked is whether the database answers now, on a fresh connection.
        for _ in range(2):
            try:
                async with svc.db.read() as conn:
                    await conn.execute(sa.text("SELECT 1"))
                return {"status": "ok", "database": "ok"}
            except Exception:
                pass
        return FastJSON({"status": "unavailable", "database": "unreachable"}, status_code=503)

    @app.get("/metrics", tags=["Operations"], summary="Prometheus metrics")
    async def prometheus_metrics() -> Response:
        async with svc.db.read() as conn:
            rows = (await conn.execute(sa.select(payments.c.status, sa.func.count()).group_by(payments.c.status))).all()
        metrics.payments.clear()
        for status, count in rows:
            metrics.payments.labels(status).set(count)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def factory() -> FastAPI:
    """Entry point for `uvicorn --factory` worker processes: settings are read here, once."""
    from gyeol.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = create_app(settings, bootstrap=True)
    # What exists now (modules, the app, its routes and schemas: ~150k objects) lives as long as the process.
    # Frozen out of the collector's sight, a full collection walks only what came after (~5k objects, not ~150k):
    # a pause of a few milliseconds instead of ~60 ms on the benchmark machine, which every request in flight
    # would wait out.
    gc.collect()
    gc.freeze()
    return app
