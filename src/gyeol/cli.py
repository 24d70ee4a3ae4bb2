"""The `gyeol` command line: serve, migrate, check, backup, ledger, merchants, keys, staff, reconcile, settlements."""

from __future__ import annotations

import asyncio
import math
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
import orjson

from gyeol import config, preflight
from gyeol.config import Settings

T = TypeVar("T")


class BadSettings(click.ClickException):
    exit_code = 78  # EX_CONFIG: a supervisor should not restart into the same mistake


class CannotStart(click.ClickException):
    pass


def _settings(**overrides: Any) -> Settings:
    """The settings, checked; a bad one stops the command with a line per variable, an unknown one is warned of."""
    for line in config.unknown_variables(os.environ):
        click.echo(f"Warning: {line}", err=True)
    try:
        return config.load(**{k: v for k, v in overrides.items() if v is not None})
    except config.SettingsError as err:
        raise BadSettings(str(err)) from None


def _ready(settings: Settings, *, writes: bool = False) -> None:
    """The var directory and the database (that it can be written, for a command that `writes`), or one line
    saying what to fix."""
    try:
        preflight.var_dir(settings)
        if writes:
            preflight.sqlite_writable(settings.database_url)
        preflight.database(settings.database_url)
    except preflight.UnusableSetting as err:
        raise BadSettings(str(err)) from None
    except preflight.StartupError as err:
        raise CannotStart(str(err)) from None


def _run(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Run `fn(services)` with a fresh container and close it after."""
    from gyeol.services import build_services

    settings = _settings()
    _ready(settings)

    async def main() -> T:
        svc = build_services(settings)
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
@click.option("--port", type=click.IntRange(1, 65535), default=None, help="Port (default GYEOL_PORT, 9090).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Worker processes (default GYEOL_WORKERS, 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    import uvicorn

    from gyeol.serving import GuardedHttpProtocol

    settings = _settings(host=host, port=port, workers=workers)
    host, port, workers = settings.host, settings.port, settings.workers
    # Worker processes read their settings from the environment: pass the CLI's choices along.
    os.environ["GYEOL_HOST"], os.environ["GYEOL_PORT"] = host, str(port)
    _ready(settings, writes=True)
    try:
        if settings.auto_migrate:
            preflight.migrate(settings.database_url)
        preflight.port(host, port)
    except preflight.StartupError as err:
        raise CannotStart(str(err)) from None
    base = settings.public_url or f"http://{host}:{port}"
    click.echo(f"Gyeol on {base}  (API docs: {base}/docs)")
    if settings.test_secret_key:
        click.echo(f"Test secret key: {settings.test_secret_key}")
    if settings.env == "development":
        from gyeol.core.staff.service import DEV_OWNER
        from gyeol.secrets_store import var_secret

        password = var_secret(settings.var_dir, "dashboard_owner_password", make="password")
        click.echo(f"Dashboard: {base}/dashboard  (development owner: {DEV_OWNER}, password {password})")
    # The protocol adds the header deadline and limits uvicorn lacks (gyeol/serving.py); the keep-alive timeout
    # closes a connection idle between requests.
    uvicorn.run("gyeol.app:factory", factory=True, host=host, port=port, workers=workers, loop="auto",
                http=GuardedHttpProtocol, timeout_keep_alive=5, log_level="warning", access_log=False,
                # X-Forwarded-For is read by the app, from GYEOL_TRUSTED_PROXIES only (app.create_app)
                proxy_headers=False,
                timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_seconds))


@main.command(help="Apply the database migrations.")
def migrate() -> None:
    settings = _settings()
    _ready(settings, writes=True)
    try:
        preflight.migrate(settings.database_url)
    except preflight.StartupError as err:
        raise CannotStart(str(err)) from None
    click.echo("migrated")


@main.command(help="Verify this installation: settings, database and migrations, secrets, event broker.")
def check() -> None:
    from gyeol import checkup

    results = checkup.run(_settings())
    for r in results:
        click.echo(f"{'ok  ' if r.ok else 'FAIL'} {r.what}: {r.detail}", err=not r.ok)
    if not all(r.ok for r in results):
        raise SystemExit(1)


@main.command(help="Copy the SQLite database to PATH while Gyeol serves (SQLite's online backup).")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def backup(path: Path) -> None:
    from gyeol import checkup

    settings = _settings()
    if not settings.is_sqlite():
        raise CannotStart("gyeol backup copies SQLite databases; back up PostgreSQL with pg_dump, or with base "
                          "backups and WAL archiving for point-in-time recovery (docs/operations.md).")
    try:
        warnings = checkup.backup_sqlite(settings, path)
    except (preflight.StartupError, OSError) as err:
        raise CannotStart(str(err)) from None
    click.echo(f"backed up to {path}")
    for line in warnings:
        click.echo(f"Warning: {line}", err=True)


@main.command(help="Resolve PG attempts whose outcome is unknown by looking them up at the PG.")
@click.option("--older-than", type=float, default=0.0, help="Only attempts at least this many seconds old.")
def reconcile(older_than: float) -> None:
    from gyeol.core.reconcile import Reconciler

    result = _run(lambda svc: Reconciler(svc.payments, svc.refunds, svc.db, svc.clock).run_once(older_than))
    _print(result)


@main.command(help="Run the background jobs (reconcile, expiries, purges) until stopped.")
@click.option("--once", is_flag=True, help="Run one pass of every job and exit.")
@click.option("--interval", type=float, default=1.0, help="Seconds between passes.")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve this worker's own metrics (PG calls, webhook deliveries, database waits) on this port.")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="The address of --metrics-port.")
def worker(once: bool, interval: float, metrics_port: int | None, metrics_host: str) -> None:
    from gyeol import worker as jobs

    if once:
        _print(_run(jobs.run_once))
    else:
        grace = _settings().shutdown_grace_seconds
        _run(lambda svc: jobs.run_until_signalled(svc, interval, grace, metrics_host=metrics_host,
                                                  metrics_port=metrics_port))


@main.group(help="Merchants: create, list, update, and their PG, JWT and other settings.")
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


@merchants.command("update", help="Rename a merchant: its buyers see the name on the checkout and on receipts.")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--name", required=True, help="The new name.")
def merchants_update(merchant: str, name: str) -> None:
    from gyeol.core.errors import DomainError

    async def go(svc: Any) -> Any:
        m = await svc.merchants.rename((await svc.merchants.get_by_name(merchant))["id"], name)
        return {"merchantId": m["id"], "name": m["name"]}

    try:
        _print(_run(go))
    except DomainError as err:
        raise click.ClickException(err.message) from None


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


@merchants.command("set-pg", help="Give a merchant its PG credentials (stored encrypted).")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--toss-secret-key", required=True, help="The merchant's Toss Payments secret key (test_sk_/live_sk_).")
def merchants_set_pg(merchant: str, toss_secret_key: str) -> None:
    from gyeol.app import set_toss_key
    from gyeol.core.errors import DomainError

    async def go(svc: Any) -> Any:
        m = await svc.merchants.get_by_name(merchant)
        if not toss_secret_key.startswith(("test_sk_", "live_sk_")):
            raise DomainError("validation", "INVALID_KEY", "A Toss secret key starts with test_sk_ or live_sk_.")
        await set_toss_key(svc, m["id"], toss_secret_key)
        return {"merchantId": m["id"], "pg": "toss", "secretKey": toss_secret_key[:12] + "…"}

    try:
        _print(_run(go))
    except DomainError as err:
        raise click.ClickException(err.message) from None


@merchants.command("configure", help="Merchant settings: partial cancels on the kiosk face, fees, payout days.")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--allow-partial-cancel/--no-partial-cancel", default=None, help="Kiosk face partial cancels.")
@click.option("--payout-days", type=int, default=None, help="Business days from approval to payout.")
@click.option("--fee", "fees", multiple=True, metavar="METHOD=BPS[+FIXED]",
              help="A method's fee in basis points plus a fixed amount, e.g. card=250 or virtual_account=0+300.")
@click.option("--checkout-methods", default=None, metavar="M[,M…]",
              help="What the hosted checkout offers: card, transfer, virtual_account (all by default).")
def merchants_configure(merchant: str, allow_partial_cancel: bool | None, payout_days: int | None,
                        fees: tuple[str, ...], checkout_methods: str | None) -> None:
    from gyeol.core.errors import DomainError
    from gyeol.core.payments.checkout import METHODS

    async def go(svc: Any) -> Any:
        m = await svc.merchants.get_by_name(merchant)
        changes: dict[str, Any] = {}
        if allow_partial_cancel is not None:
            changes["allowPartialCancel"] = allow_partial_cancel
        if payout_days is not None:
            changes["payoutDays"] = payout_days
        if checkout_methods is not None:
            chosen = [m.strip() for m in checkout_methods.split(",") if m.strip()]
            if not chosen or any(m not in METHODS for m in chosen):
                raise ValueError(f"--checkout-methods takes some of {', '.join(METHODS)}")
            changes["checkoutMethods"] = chosen
        if fees:
            table = dict((m.get("settings") or {}).get("fees") or {})
            for item in fees:
                method, _, rate = item.partition("=")
                bps, _, fixed = rate.partition("+")
                table[method] = {"bps": int(bps), "fixed": int(fixed or 0)}
            changes["fees"] = table
        updated = await svc.merchants.update_settings(m["id"], changes)
        settings = dict(updated["settings"])
        settings.pop("pg", None)  # credentials are never printed
        return {"merchantId": m["id"], "settings": settings}

    try:
        _print(_run(go))
    except (DomainError, ValueError) as err:
        raise click.ClickException(str(err)) from None


@merchants.command("set-jwt", help="How a merchant's users' bearer tokens (JWTs) are verified.")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--hs256-secret", default=None, help="A shared HS256 secret (stored encrypted).")
@click.option("--public-key", "public_key_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A PEM file with the RS256/ES256 public key.")
@click.option("--jwks-url", default=None, help="The identity service's JWKS address (RS256/ES256).")
@click.option("--issuer", default=None, help="Required `iss` claim.")
@click.option("--audience", default=None, help="Required `aud` claim.")
@click.option("--live", is_flag=True, help="Users' payments go to the live PG (default: test mode).")
def merchants_set_jwt(merchant: str, hs256_secret: str | None, public_key_file: str | None, jwks_url: str | None,
                      issuer: str | None, audience: str | None, live: bool) -> None:
    from gyeol.auth.users import JwtConfig

    if not (hs256_secret or public_key_file or jwks_url):
        raise click.UsageError("Give --hs256-secret, --public-key or --jwks-url.")
    public_key = Path(public_key_file).read_text() if public_key_file else None

    async def go(svc: Any) -> Any:
        m = await svc.merchants.get_by_name(merchant)
        config = JwtConfig(hs256_secret=hs256_secret, public_key=public_key, jwks_url=jwks_url, issuer=issuer,
                           audience=audience, mode="live" if live else "test")
        await svc.merchants.update_settings(m["id"], {"jwt": config.stored(svc.cipher)})
        return {"merchantId": m["id"], "jwt": {"hs256": bool(hs256_secret), "publicKey": bool(public_key),
                                               "jwksUrl": jwks_url, "issuer": issuer, "audience": audience,
                                               "mode": config.mode}}

    _print(_run(go))


@main.command("token", help="Mint an HS256 development token for a user (uses GYEOL_JWT_SECRET, or --secret).")
@click.option("--sub", required=True, help="The user id.")
@click.option("--role", "roles", multiple=True, default=("USER",), show_default=True, help="USER or ADMIN.")
@click.option("--ttl", default="1h", show_default=True, help="Lifetime: 30m, 1h, 7d or seconds.")
@click.option("--merchant", "mid", default=None, help="The merchant id (`mid` claim); default merchant if omitted.")
@click.option("--secret", default=None, help="HS256 secret (default GYEOL_JWT_SECRET).")
def token(sub: str, roles: tuple[str, ...], ttl: str, mid: str | None, secret: str | None) -> None:
    from gyeol.auth.users import mint

    settings = _settings()
    secret = secret or settings.jwt_secret
    if not secret:
        raise click.UsageError("Set GYEOL_JWT_SECRET or pass --secret.")
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        seconds = int(ttl[:-1]) * units[ttl[-1]] if ttl[-1] in units else int(ttl)
    except ValueError:
        raise click.UsageError("--ttl is a number with an optional unit s, m, h or d.") from None
    click.echo(mint(secret, sub, [r.upper() for r in roles], seconds, mid=mid, issuer=settings.jwt_issuer,
                    audience=settings.jwt_audience))


@keys.command("rotate-data", help="Re-encrypt stored sensitive data under the current GYEOL_ENCRYPTION_KEYS key.")
def keys_rotate_data() -> None:
    from gyeol.core.rotation import rotate_all

    _print(_run(rotate_all))


@main.command("toss-sim", help="Run the Toss Payments simulator on its own (any test_sk_ key is accepted).")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=9191)
@click.option("--webhook-url", default=None, help="Where it sends PAYMENT_STATUS_CHANGED and DEPOSIT_CALLBACK.")
def toss_sim(host: str, port: int, webhook_url: str | None) -> None:
    import uvicorn

    from gyeol.simulators.toss.simulator import TossSimulator

    sim = TossSimulator(webhook_url=webhook_url, public_url=f"http://{host}:{port}")
    click.echo(f"Toss simulator on http://{host}:{port}")
    uvicorn.run(sim, host=host, port=port, log_level="warning")


def _add_groups() -> None:
    """The command groups kept in modules of their own (cli_*.py), which import this one's helpers."""
    from gyeol.cli_ledger import ledger
    from gyeol.cli_settlements import settlements
    from gyeol.cli_staff import staff

    for group in (ledger, settlements, staff):
        main.add_command(group)


_add_groups()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
