"""What a connector does with an answer it cannot read: the outcome is unknown, never failed. (What a connector may
import is tests/test_boundaries.py.)"""

from __future__ import annotations

from conftest import Env
from gyeol.core.reconcile import Reconciler
from gyeol.models import sandbox_charges


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
