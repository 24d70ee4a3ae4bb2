"""The `gyeol` command line: serve, migrate, merchants, keys, reconcile."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import orjson

from gyeol.config import Settings

T = TypeVar("T")


def _settings() -> Settings:
    return Settings()


def _run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(services)` with a fresh container and close it after."""
    from gyeol.services import build_services

    async def main() -> T:
        svc = build_services(_settings())
        try:
            return await fn(svc)
        finally:
            await svc.close()

    return asyncio.run(main())


def _print(obj: Any) -> None:
    click.echo(orjson.dumps(obj, option=orjson.OPT_INDENT_2, default=str).decode())


@click.group(help="Gyeol (결): a self-hostable payment server. Configuration is read from GYEOL_* variables.")
def main() -> None:
    pass


@main.command(help="Serve the API (migrates first unless GYEOL_AUTO_MIGRATE=false).")
@click.option("--host", default=None, help="Bind address (default GYEOL_HOST, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default GYEOL_PORT, 9090).")
@click.option("--workers", type=int, default=None, help="Worker processes (default GYEOL_WORKERS, 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    import os

    import uvicorn

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    workers = workers or settings.workers
    # Worker processes read their settings from the environment: pass the CLI's choices along.
    os.environ["GYEOL_HOST"], os.environ["GYEOL_PORT"] = host, str(port)
    if settings.auto_migrate:
        from gyeol.db.migrate import upgrade

        upgrade(settings.database_url)
    base = settings.public_url or f"http://{host}:{port}"
    click.echo(f"Gyeol on {base}  (API docs: {base}/docs)")
    if settings.test_secret_key:
        click.echo(f"Test secret key: {settings.test_secret_key}")
    uvicorn.run("gyeol.app:factory", factory=True, host=host, port=port, workers=workers, loop="auto",
                http="auto", log_level="warning", access_log=False)


@main.command(help="Apply the database migrations.")
def migrate() -> None:
    from gyeol.db.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url)
    click.echo("migrated")


@main.command(help="Resolve PG attempts whose outcome is unknown by looking them up at the PG.")
@click.option("--older-than", type=float, default=0.0, help="Only attempts at least this many seconds old.")
def reconcile(older_than: float) -> None:
    from gyeol.core.reconcile import Reconciler

    result = _run(lambda svc: Reconciler(svc.payments, svc.refunds, svc.db, svc.clock).run_once(older_than))
    _print(result)


@main.command(help="Run the background jobs (reconcile, expiries, purges) until stopped.")
@click.option("--once", is_flag=True, help="Run one pass of every job and exit.")
@click.option("--interval", type=float, default=1.0, help="Seconds between passes.")
def worker(once: bool, interval: float) -> None:
    from gyeol import worker as jobs

    if once:
        _print(_run(jobs.run_once))
    else:
        _run(lambda svc: jobs.run_forever(svc, interval))


@main.group(help="Merchants: create, list.")
def merchants() -> None:
    pass


@merchants.command("create", help="Create a merchant and print its first test secret key (shown once).")
@click.option("--name", required=True)
def merchants_create(name: str) -> None:
    from gyeol.core.errors import DomainError

    try:
        merchant, key = _run(lambda svc: svc.merchants.create(name))
    except DomainError as err:
        raise click.ClickException(err.message) from None
    _print({"merchantId": merchant["id"], "name": merchant["name"], "testSecretKey": key})


@merchants.command("list", help="List merchants.")
def merchants_list() -> None:
    rows = _run(lambda svc: svc.merchants.list())
    _print([{"merchantId": r["id"], "name": r["name"]} for r in rows])


@main.group(help="Secret keys: list, create, revoke.")
def keys() -> None:
    pass


@keys.command("list", help="List keys (prefixes only; a secret key is never shown again).")
@click.option("--merchant", default=None, help="Merchant name or id.")
def keys_list(merchant: str | None) -> None:
    async def go(svc: Any) -> Any:
        mid = (await svc.merchants.get_by_name(merchant))["id"] if merchant else None
        return await svc.merchants.list_keys(mid)

    _print(_run(go))


@keys.command("create", help="Create a secret key for a merchant and print it once.")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--live", is_flag=True, help="A live key (live_sk_...) instead of a test key.")
def keys_create(merchant: str, live: bool) -> None:
    async def go(svc: Any) -> Any:
        mid = (await svc.merchants.get_by_name(merchant))["id"]
        view, key = await svc.merchants.create_key(mid, "live" if live else "test")
        return {**view, "secretKey": key}

    _print(_run(go))


@keys.command("revoke", help="Revoke a key by its id (key_...).")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    from gyeol.core.errors import DomainError

    try:
        _print(_run(lambda svc: svc.merchants.revoke_key(key_id)))
    except DomainError as err:
        raise click.ClickException(err.message) from None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
