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
from fastapi_offline import FastAPIOffline
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gyeol.config import Settings
from gyeol.core import processes, recovery
from gyeol.core.availability import unavailable
from gyeol.core.errors import DomainError
from gyeol.core.staff.service import DEV_OWNER
from gyeol.faces.dashboard import actions as dashboard_actions
from gyeol.faces.dashboard import auth as dashboard_auth
from gyeol.faces.dashboard import developers as dashboard_developers
from gyeol.faces.dashboard import errors as dashboard_errors
from gyeol.faces.dashboard import payments as dashboard_payments
from gyeol.faces.dashboard import settings as dashboard_settings
from gyeol.faces.dashboard import webhooks as dashboard_webhooks
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
from gyeol.faces.native import reconciliation as native_reconciliation
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
from gyeol.metrics import Metrics
from gyeol.observability import RequestContextMiddleware
from gyeol.secrets_store import var_secret
from gyeol.services import Services, build_services
from gyeol.simulators.toss.simulator import TossSimulator
from gyeol.worker import run_forever

log = structlog.get_logger(__name__)


def create_app(settings: Settings, services: Services | None = None, *, bootstrap: bool = False) -> FastAPI:
    svc = services or build_services(settings)
    metrics = svc.metrics

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if bootstrap:
            default, generated = await svc.merchants.ensure_default(settings.test_secret_key)
            if generated:
                print(f"Created the default merchant. Its test secret key (shown once): {generated}", flush=True)
            if settings.toss_secret_key:
                await set_toss_key(svc, default["id"], settings.toss_secret_key)
            if settings.env == "development":  # `gyeol serve` printed its password (./var keeps it)
                await svc.staff.ensure_owner(default["id"], DEV_OWNER, var_secret(
                    settings.var_dir, "dashboard_owner_password", make="password"))
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

    # /docs is Swagger UI from the files fastapi-offline ships, its validator badge off: the page asks no other host.
    # ReDoc is not served (its side menu loads a logo from Redocly's CDN); /redoc leads to /docs.
    app = FastAPIOffline(title="Gyeol", version="0.1.0", default_response_class=FastJSON, lifespan=lifespan,
                         description="A self-hostable payment server. Amounts are integers in minor units.",
                         favicon_url="/favicon.ico", redoc_url=None, swagger_ui_parameters={"validatorUrl": None})
    app.state.services = svc
    app.state.settings = settings
    faces = FaceErrors(native_errors.render)
    faces.register("/api/v1", native_errors.render)
    faces.register("/v1", kiosk_errors.render)
    faces.register("/api/payments", shop_errors.renderer(development=settings.env == "development"))
    faces.register("/api/shopping", shopping_errors.renderer(svc.clock))
    for prefix in page_errors.PREFIXES:
        faces.register(prefix, page_errors.render)
    faces.register(dashboard_errors.PREFIX, dashboard_errors.render)
    app.state.faces = faces

    _add_routes(app, native_payments, native_orders, native_refunds, native_customers, native_sandbox,
                native_webhooks, native_settlements, native_reconciliation, native_balance, native_events,
                kiosk_routes, page_assets, checkout_pages, receipt_pages, shop_routes, shopping_routes,
                dashboard_auth, dashboard_payments, dashboard_actions, dashboard_webhooks, dashboard_developers,
                dashboard_settings)

    if simulator is not None:
        app.state.toss_simulator = simulator
        app.mount("/sandbox/toss", simulator)
    _install_error_handlers(app, faces)
    _install_ops_routes(app, svc, metrics)

    app.add_middleware(ApiGuardMiddleware, faces=faces, store=svc.idempotency, resolve_caller=svc.resolve_caller,
                       max_body=settings.max_body_bytes, body_timeout=settings.body_timeout_seconds)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    if settings.proxies():  # outermost: every part of Gyeol sees the client's address, not the proxy's
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.proxies())
    return app


def _add_routes(app: FastAPI, *modules: Any) -> None:
    """Each face's routes, straight into the app's own list (their routers carry their full prefixes). FastAPI's
    `include_router` would wrap each router in a branch that every request walks, matching and restoring scope
    keys router by router."""
    for module in modules:
        app.router.routes.extend(module.router.routes)


async def set_toss_key(svc: Services, merchant_id: str, secret_key: str) -> None:
    """Store a merchant's Toss secret key, encrypted; paymentKey flows then go to Toss."""
    await svc.merchants.set_pg_secret(merchant_id, "toss", secret_key, svc.cipher)


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
        log.warning("database_unavailable", code=err.code, error=type(exc).__name__, path=request.url.path)
        return faces.render(request.url.path, err, _request_id(request))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        # Also what a middleware raised, outside the routes' handlers: the database may be what failed there too.
        if unavailable(exc) is not None:
            return await database_error(request, exc)
        log.error("unhandled_error", error=type(exc).__name__, path=request.url.path)
        err = DomainError("internal", "INTERNAL", "Something went wrong on our side. Quote the request id.")
        return faces.render(request.url.path, err, _request_id(request))


def _install_ops_routes(app: FastAPI, svc: Services, metrics: Metrics) -> None:
    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> Response:
        return RedirectResponse("/docs", status_code=307)

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
        await metrics.database.read(svc.db, svc.clock.now())
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


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
