"""`gyeol staff`: the dashboard's accounts (create, list, disable, set-password). Passwords come from standard
input (`--password-stdin`, without its trailing newline) or a hidden prompt, never from the command line."""

from __future__ import annotations

import sys
from typing import Any

import click


def _password(from_stdin: bool) -> str:
    if from_stdin:
        text = sys.stdin.read()
        return text[:-1] if text.endswith("\n") else text
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _view(s: Any) -> dict[str, Any]:
    return {"staffId": s.id, "merchantId": s.merchant_id, "email": s.email, "role": s.role,
            "twoFactor": s.totp_enabled, "disabled": s.disabled_at is not None}


def _go(fn: Any) -> Any:
    from gyeol.cli import _print, _run
    from gyeol.core.errors import DomainError

    try:
        _print(_run(fn))
    except DomainError as err:
        raise click.ClickException(err.message) from None


@click.group(help="Staff accounts of the merchant dashboard (/dashboard): owner, admin or viewer.")
def staff() -> None:
    pass


@staff.command("create", help="Create a staff account of a merchant.")
@click.option("--merchant", required=True, help="Merchant name or id.")
@click.option("--email", required=True, help="The sign-in e-mail.")
@click.option("--role", required=True, type=click.Choice(["owner", "admin", "viewer"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_create(merchant: str, email: str, role: str, password_stdin: bool) -> None:
    password = _password(password_stdin)

    async def go(svc: Any) -> Any:
        m = await svc.merchants.get_by_name(merchant)
        return _view(await svc.staff.create(m["id"], email, role, password))

    _go(go)


@staff.command("list", help="List staff accounts.")
@click.option("--merchant", default=None, help="Merchant name or id.")
def staff_list(merchant: str | None) -> None:
    async def go(svc: Any) -> Any:
        mid = (await svc.merchants.get_by_name(merchant))["id"] if merchant else None
        return [_view(s) for s in await svc.staff.all(mid)]

    _go(go)


@staff.command("disable", help="Disable a staff account and sign it out everywhere.")
@click.option("--email", required=True)
def staff_disable(email: str) -> None:
    async def go(svc: Any) -> Any:
        return _view(await svc.staff.disable(email))

    _go(go)


@staff.command("set-password", help="Set a staff account's password and sign it out everywhere.")
@click.option("--email", required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def staff_set_password(email: str, password_stdin: bool) -> None:
    password = _password(password_stdin)

    async def go(svc: Any) -> Any:
        return _view(await svc.staff.set_password(email, password))

    _go(go)
