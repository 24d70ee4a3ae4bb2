"""`gyeol ledger`: verify the double-entry ledger against the payments, refunds and settlements, and export it
(docs/ledger.md). Registered on `gyeol` by `cli.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.group(help="The double-entry ledger: verify it against the payments, refunds and settlements; export it.")
def ledger() -> None:
    pass


@ledger.command("verify", help="Recompute the ledger from its transfers, compare it with the payments, refunds and "
                               "settlements, print each difference; exit 1 if there is one.")
def ledger_verify() -> None:
    from gyeol.cli import _run

    report = _run(lambda svc: svc.ledger.verify())
    for line in report.differences:
        click.echo(line)
    if report.differences:
        click.echo(f"{len(report.differences)} difference(s) between the ledger and the tables", err=True)
        raise SystemExit(1)
    click.echo(f"ledger verified: {report.transfers} transfers, {report.accounts} accounts, {report.payments} "
               "payments, no difference")


@ledger.command("export", help="The transfers created from --from to --to (days in Korea, inclusive) as Beancount "
                               "(posted money only, major units) or CSV (one row per transfer).")
@click.option("--format", "fmt", type=click.Choice(["beancount", "csv"]), required=True)
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The first day.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="The last day.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
def ledger_export(fmt: str, start: Any, end: Any, output: Path | None) -> None:
    from datetime import timedelta

    from gyeol import ledger_export as export
    from gyeol.cli import _run
    from gyeol.core.clock import KST

    since = start.replace(tzinfo=KST) if start else None
    until = end.replace(tzinfo=KST) + timedelta(days=1) if end else None
    accounts, transfers = _run(lambda svc: svc.ledger.export(since, until))
    text = export.beancount(accounts, transfers) if fmt == "beancount" else export.csv_text(transfers)
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
