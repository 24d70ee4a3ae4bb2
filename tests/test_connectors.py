"""What a connector may know and do: the arrows between connectors, the core and the faces, held by walking the
imports of src/gyeol, and an answer a connector cannot read left unknown, never failed."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import Env
from gyeol.core.reconcile import Reconciler
from gyeol.models import sandbox_charges

SRC = Path(__file__).resolve().parent.parent / "src" / "gyeol"
# What a connector may use of the core: its plain helpers.
CORE_HELPERS = {"gyeol.core.errors", "gyeol.core.clock", "gyeol.core.money"}
# The Toss simulator and its window, which are applications rather than connectors and live apart from them.
NOT_CONNECTORS = {"connectors/toss/simulator.py", "connectors/toss/window.py"}


def _modules() -> dict[str, set[str]]:
    """Each module of src/gyeol (by its path there) -> the gyeol modules it imports, TYPE_CHECKING ones included."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.update([node.module, *(f"{node.module}.{a.name}" for a in node.names)])
        found[path.relative_to(SRC).as_posix()] = {n for n in names if n.startswith("gyeol.")}
    return found


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_connectors_use_only_the_cores_plain_helpers_and_no_face() -> None:
    wrong = {}
    for module, imports in _modules().items():
        if not module.startswith("connectors/") or module in NOT_CONNECTORS:
            continue
        bad = {n for n in imports if _under(n, "gyeol.faces") or _under(n, "gyeol.db") or _under(n, "gyeol.models")
               or _under(n, "gyeol.crypto") or (_under(n, "gyeol.core")
                                                and not any(_under(n, h) for h in CORE_HELPERS))}
        if bad:
            wrong[module] = sorted(bad)
    assert wrong == {}, "a connector reaches storage, decryption, the core or a face"


def test_the_core_reaches_pgs_through_the_protocol_and_the_registry_only() -> None:
    allowed = ("gyeol.connectors.base", "gyeol.connectors.registry")
    wrong = {}
    for module, imports in _modules().items():
        if not module.startswith("core/"):
            continue
        bad = {n for n in imports if (_under(n, "gyeol.connectors") and not any(_under(n, a) for a in allowed))
               or _under(n, "gyeol.simulators")}
        if bad:
            wrong[module] = sorted(bad)
    assert wrong == {}
    named = [p.relative_to(SRC).as_posix() for p in (SRC / "core").rglob("*.py") if "sandbox" in p.read_text().lower()]
    assert named == [], "the core names the sandbox PG"


def test_modules_stay_small() -> None:
    sizes = {p.relative_to(SRC).as_posix(): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if m.startswith("core/") and n >= 300} == {}
    assert {m: n for m, n in sizes.items() if n >= 450} == {}


async def test_a_status_the_sandbox_connector_cannot_read_leaves_the_payment_pending(env: Env) -> None:
    r = await env.client.post("/api/v1/payments/intent", json={
        "orderId": "o-new-status", "amount": 1000, "currency": "KRW", "confirm": True,
        "methodOptions": {"token": "tok_visa"}}, headers={"Gyeol-Sandbox-Fault": "timeout"})
    assert r.status_code == 504, r.text
    payment_id = r.json()["error"]["details"]["paymentId"]
    (charge,) = await env.charges(payment_id)
    assert charge["status"] == "succeeded"  # the sandbox charged; its answer was lost

    async def sandbox_reports(status: str) -> None:  # what a later sandbox may say of a charge
        async with env.svc.db.tx() as conn:
            await conn.execute(sandbox_charges.update().where(sandbox_charges.c.id == charge["chargeId"])
                               .values(status=status))

    await sandbox_reports("under_review")
    reconciler = Reconciler(env.svc.payments, env.svc.refunds, env.svc.db, env.svc.clock)
    assert [a["status"] for a in (await reconciler.run_once())["attempts"]] == ["pending"]
    p = (await env.client.get(f"/api/v1/payments/{payment_id}")).json()
    assert (p["status"], p["lastAttempt"]["status"], p["capturedAmount"]) == ("pending", "unknown", 0)
    await sandbox_reports("succeeded")
    assert [a["status"] for a in (await reconciler.run_once())["attempts"]] == ["succeeded"]
    p = (await env.client.get(f"/api/v1/payments/{payment_id}")).json()
    assert (p["status"], p["capturedAmount"]) == ("succeeded", 1000)
