"""Background jobs. `gyeol worker` runs them in a loop; `gyeol worker --once` runs one pass (for tests).

A feature adds its job to JOBS; each job takes the services and returns a small summary.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from prometheus_client import start_http_server

from gyeol.core.reconcile import Reconciler
from gyeol.services import Services

log = structlog.get_logger(__name__)

Job = Callable[[Services], Awaitable[Any]]


async def _relay(svc: Services) -> Any:
    return await svc.relay.run_once()


async def _deliver_webhooks(svc: Services) -> Any:
    return await svc.dispatcher.run_once()


async def _reconcile(svc: Services) -> Any:
    return await Reconciler(svc.payments, svc.refunds, svc.db, svc.clock).run_once(due_only=True)


async def _expire_intents(svc: Services) -> Any:
    return {"expired": await svc.payments.expire_due()}


async def _expire_virtual_accounts(svc: Services) -> Any:
    return {"expired": await svc.payments.expire_virtual_accounts()}


async def _purge_idempotency(svc: Services) -> Any:
    return {"purged": await svc.idempotency.purge()}


async def _pay_out_settlements(svc: Services) -> Any:
    return {"paid": await svc.settlements.mark_paid()}


async def _reconcile_settlements(svc: Services) -> Any:
    return await svc.reconciliation.daily.run_once()


JOBS: dict[str, Job] = {
    "relay": _relay,
    "deliver_webhooks": _deliver_webhooks,
    "reconcile": _reconcile,
    "expire_intents": _expire_intents,
    "expire_virtual_accounts": _expire_virtual_accounts,
    "purge_idempotency": _purge_idempotency,
    "pay_out_settlements": _pay_out_settlements,
    "reconcile_settlements": _reconcile_settlements,
}


async def run_once(svc: Services, stop: asyncio.Event | None = None) -> dict[str, Any]:
    """Every job once; once `stop` is set, the job in flight finishes and the others wait for the next start."""
    results: dict[str, Any] = {}
    for name, job in JOBS.items():
        if stop is not None and stop.is_set():
            break
        try:
            results[name] = await job(svc)
        except Exception as exc:  # one failing job must not stop the others
            log.error("job_failed", job=name, error=type(exc).__name__)
            results[name] = {"error": type(exc).__name__}
    return results


async def run_forever(svc: Services, interval: float = 1.0, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    while not stop.is_set():
        await run_once(svc, stop)
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except TimeoutError:
            pass


async def run_until_signalled(svc: Services, interval: float, grace: float, *, metrics_host: str = "127.0.0.1",
                              metrics_port: int | None = None) -> None:
    """`gyeol worker`: on SIGTERM or SIGINT, start no new pass, let the one in flight finish (its deliveries
    recorded, its lease released) for up to `grace` seconds, then cut it off; its `finally`s still release.
    With `metrics_port`, this process's own counters are served there (prometheus_client's server, on a thread of
    its own); the database's gauges are the server's `/metrics`."""
    exporter = None
    if metrics_port is not None:
        exporter, _ = start_http_server(metrics_port, metrics_host, registry=svc.metrics.registry)
    try:
        await _until_signalled(svc, interval, grace)
    finally:
        if exporter is not None:
            exporter.shutdown()


async def _until_signalled(svc: Services, interval: float, grace: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    jobs = asyncio.create_task(run_forever(svc, interval, stop))
    signalled = asyncio.create_task(stop.wait())
    await asyncio.wait([jobs, signalled], return_when=asyncio.FIRST_COMPLETED)
    signalled.cancel()
    try:
        await asyncio.wait_for(jobs, grace)
    except TimeoutError:
        log.warning("worker_grace_ran_out", grace_seconds=grace)
