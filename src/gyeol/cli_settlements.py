"""`gyeol settlements`: reconcile a range of days against a PG's settlement report, and import a PG's report from a
CSV file (docs/ledger.md, Reconciliation). Registered on `gyeol` by `cli.py`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import click

MODE = click.option("--live", is_flag=True, help="The merchant's live mode (default: test mode).")
MERCHANT = click.option("--merchant", default=None, help="Merchant name or id (default: the default merchant).")


@click.group(help="Settlements: reconcile them against a PG's report, import a PG's report.")
def settlements() -> None:
    pass


async def _caller(svc: Any, merchant: str | None, live: bool) -> Any:
    from gyeol.core.context import Caller

    found = await (svc.merchants.get_by_name(merchant) if merchant else svc.merchants.default())
    return Caller(found["id"], "live" if live else "test")


def _go(work: Any) -> Any:
    from gyeol.cli import _run
    from gyeol.core.errors import DomainError

    try:
        return _run(work)
    except DomainError as err:
        raise click.ClickException(f"{err.code}: {err.message}") from None


@settlements.command("reconcile", help="Match a PG's settlement report for a range of days (Korean days, both "
                                       "inclusive) against Gyeol's settlements; running a range again replaces "
                                       "its result. (`gyeol reconcile` settles PG attempts of unknown outcome.)")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day, YYYY-MM-DD.")
@click.option("--pg", default=None, help="The PG (default: the merchant's own PG account, else the default PG).")
@click.option("--source", type=click.Choice(["api", "import"]), default=None,
              help="The PG's report API, or the rows imported before (default: api where Gyeol has one).")
@MERCHANT
@MODE
def reconcile(start: datetime, end: datetime, pg: str | None, source: str | None, merchant: str | None,
              live: bool) -> None:
    from gyeol.cli import _print
    from gyeol.faces.native.views import run_view

    async def go(svc: Any) -> Any:
        run = await svc.reconciliation.run(await _caller(svc, merchant, live), start.date(), end.date(), pg=pg,
                                           source=source)
        return run_view(run)

    view = _go(go)
    _print(view)
    if any(view["counts"].get(s) for s in ("amount_mismatch", "fee_mismatch", "date_mismatch", "missing_at_pg",
                                           "unknown_to_gyeol")):
        raise SystemExit(1)  # exceptions found: a script or a cron job sees it


@settlements.command("import", help="Import a PG's settlement report from a CSV file with the columns "
                                    "transaction_id, order_id, type, amount, fee, vat, net, currency, sold_date, "
                                    "payout_date; then reconcile with --source import.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pg", required=True, help="The PG whose report it is (a-z, 0-9, '_' and '-').")
@MERCHANT
@MODE
def import_file(file: Path, pg: str, merchant: str | None, live: bool) -> None:
    from gyeol.cli import _print
    from gyeol.faces.native.views import imported_view

    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise click.ClickException(f"cannot read {file}: {type(err).__name__}") from None

    async def go(svc: Any) -> Any:
        return imported_view(await svc.reconciliation.import_report(await _caller(svc, merchant, live), pg, text))

    _print(_go(go))
