"""The dashboard's settlements and reconciliation pages through HTTP, on SQLite and PostgreSQL: the balance from the
ledger, settlements newest first with their filters and keyset pages, payouts with the settlements they paid;
reconciliation runs started from the page, a run's rows by state, open exceptions resolved with a note by an admin
(a viewer is refused and nothing moves), audited; other merchants' and the other mode's objects never shown."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import Env
from dashboard import csrf_of, post_form, sign_in, staff_browser
from gyeol.core.clock import KST
from gyeol.core.dashboard.settlements import SettlementFilter
from gyeol.core.staff.audit import AuditFilter


def won(amount: int) -> str:
    return f"₩{amount:,}"


async def settlements_of(env: Env) -> list[dict[str, Any]]:
    r = await env.client.get("/api/v1/settlements", params={"size": 100})
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


async def test_the_balance_settlements_newest_first_and_the_payouts_with_what_they_paid(env: Env) -> None:
    a, b = await env.paid(10_000), await env.paid(20_000)
    r = await env.client.post("/api/v1/refunds", json={"paymentId": a["paymentId"], "amount": 4_000})
    assert r.status_code == 200 and r.json()["status"] == "succeeded", r.text
    settled = await settlements_of(env)
    total = sum(s["netAmount"] for s in settled)
    assert len(settled) == 3 and total == 9_750 + 19_500 - 3_900  # card at 2.5 %; the refund returns its part

    c = await staff_browser(env, "viewer")  # a viewer sees all of it
    page = await c.get("/dashboard/settlements", params={"lang": "en"})
    assert page.status_code == 200 and '<html lang="en">' in page.text
    assert f'id="pending-KRW">{won(total)}<' in page.text and f'id="available-KRW">{won(0)}<' in page.text
    newest_first = [s["settlementId"] for s in sorted(settled, key=lambda s: (s["createdAt"], s["settlementId"]),
                                                      reverse=True)]
    assert [page.text.index(i) for i in newest_first] == sorted(page.text.index(i) for i in newest_first)
    assert newest_first[0] == next(s["settlementId"] for s in settled if s["kind"] == "adjustment")
    assert won(-3_900) in page.text and 'id="no-payouts"' in page.text and b["paymentId"] in page.text
    ko = await c.get("/dashboard/settlements", params={"lang": "ko"})
    assert '<html lang="ko">' in ko.text and "지급 대기" in ko.text

    # Keyset pages of 2 (the page size is the core's: ask the core for a small one).
    caller = (await env.svc.signin.session(c.cookies.get("gyeol_session"))).caller  # type: ignore[union-attr]
    seen, cursor = [], None
    while True:
        found, cursor = await env.svc.dashboard.settlements.page(caller, SettlementFilter(), cursor, size=2)
        seen += [s.id for s in found]
        if cursor is None:
            break
    assert seen == newest_first
    second = await c.get("/dashboard/settlements", params={"after": "not a cursor"})  # junk: the first page
    assert second.status_code == 200 and all(i in second.text for i in newest_first)

    # Filters: status, and the payout day's range.
    assert 'id="no-settlements"' in (await c.get("/dashboard/settlements", params={"status": "paid"})).text
    day = settled[0]["payoutDate"]
    in_range = await c.get("/dashboard/settlements", params={"from": day, "to": day, "status": "scheduled"})
    assert all(i in in_range.text for i in newest_first)
    after = (await c.get("/dashboard/settlements", params={"from": "2099-01-01"})).text
    assert not any(i in after for i in newest_first)
    assert (await c.get("/dashboard/settlements", params={"from": "yesterday"})).status_code == 400

    # The payout day comes: available; the worker pays it out: one payout, of the three settlements.
    env.svc.clock.advance(timedelta(days=5))
    assert (await sign_in(c, "viewer@acme.example")).status_code == 303  # 5 days idle ended the session
    page = await c.get("/dashboard/settlements")
    assert f'id="available-KRW">{won(total)}<' in page.text and f'id="pending-KRW">{won(0)}<' in page.text
    assert await env.svc.settlements.mark_paid() == 3
    payout_id = {s["payoutId"] for s in await settlements_of(env)}.pop()
    page = await c.get("/dashboard/settlements")
    assert f'id="available-KRW">{won(0)}<' in page.text
    payouts = page.text[page.text.index('id="payouts-table"'):]
    assert payout_id in payouts and won(total) in payouts and ">3</a>" in payouts
    paid = await c.get("/dashboard/settlements", params={"payout": payout_id})
    assert all(i in paid.text for i in newest_first)
    assert 'id="no-settlements"' in (await c.get("/dashboard/settlements", params={"payout": "po_other"})).text
    [leg] = (await env.client.get("/api/v1/balance/transactions", params={"type": "payout"})).json()["items"]
    older = await c.get("/dashboard/settlements", params={"payouts_after": leg["balanceTransactionId"]})
    assert 'id="no-payouts"' in older.text

    # Another merchant's staff sees none of it, and its payout is not found.
    _, _, other_id = await env.new_merchant("globex")
    boss = await staff_browser(env, "owner", "boss@globex.example", other_id)
    theirs = await boss.get("/dashboard/settlements")
    assert theirs.status_code == 200 and 'id="no-settlements"' in theirs.text and payout_id not in theirs.text
    assert 'id="no-balance"' in theirs.text
    r = await boss.get("/dashboard/settlements", params={"payouts_after": leg["balanceTransactionId"]})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")

    # The live view of the same merchant holds none of the test data.
    await env.svc.merchants.create_key(env.merchant_id, "live")
    live = await staff_browser(env, "admin")
    shown = await live.get("/dashboard/settlements")
    assert "mode live" in shown.text and 'id="no-settlements"' in shown.text and payout_id not in shown.text


async def _a_fee_mismatch(env: Env) -> dict[str, Any]:
    """Two payments at the sandbox PG's contract, and one after the merchant was told another card fee."""
    await env.paid(10_000)
    await env.paid(11_000)
    await env.svc.merchants.update_settings(env.merchant_id, {"fees": {"card": {"bps": 230, "fixed": 0}}})
    return await env.paid(20_000)


async def test_runs_started_from_the_page_and_exceptions_resolved_with_a_note(env: Env) -> None:
    odd = await _a_fee_mismatch(env)
    today = env.svc.clock.now().astimezone(KST).date()
    span = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}
    admin = await staff_browser(env, "admin")
    viewer = await staff_browser(env, "viewer")
    overview = await admin.get("/dashboard/reconciliation")
    assert overview.status_code == 200 and 'id="no-runs"' in overview.text and 'id="start-run"' in overview.text
    token = csrf_of(overview.text)

    # A viewer's run is refused, and no run is made.
    vtoken = csrf_of((await viewer.get("/dashboard/reconciliation")).text)
    assert (await post_form(viewer, "/dashboard/reconciliation/runs", csrf=vtoken, **span)).status_code == 403
    assert (await env.client.get("/api/v1/reconciliation/runs")).json()["total"] == 0

    # Bad ranges are refused on the page, and make no run.
    for bad in ({"from": span["to"], "to": span["from"]}, {"from": "2026-01-01", "to": "2026-03-01"},
                {"from": "soon", "to": span["to"]}, {**span, "pg": "Not A PG!"}):
        r = await post_form(admin, "/dashboard/reconciliation/runs", csrf=token, **bad)
        assert r.status_code == 400 and 'id="problem"' in r.text, bad
    assert (await env.client.get("/api/v1/reconciliation/runs")).json()["total"] == 0

    r = await post_form(admin, "/dashboard/reconciliation/runs", csrf=token, **span)
    assert r.status_code == 303, r.text
    run_id = r.headers["location"].split("/")[-1].split("?")[0]
    run = (await env.client.get(f"/api/v1/reconciliation/runs/{run_id}")).json()
    assert (run["pg"], run["source"], run["counts"]["matched"], run["counts"]["fee_mismatch"]) == (
        "sandbox", "api", 2, 1)
    detail = await admin.get(r.headers["location"] + "&lang=en")
    assert detail.status_code == 200 and 'id="notice"' in detail.text
    assert 'id="count-matched">2<' in detail.text and 'id="count-fee_mismatch">1<' in detail.text
    assert "Fee mismatch" in detail.text and odd["paymentId"] in detail.text
    [item] = (await env.client.get("/api/v1/reconciliation/exceptions")).json()["items"]
    assert item["paymentId"] == odd["paymentId"] and item["status"] == "open"
    assert 'id="count-expected">0<' in detail.text
    only_fees = await admin.get(f"/dashboard/reconciliation/runs/{run_id}", params={"state": "fee_mismatch"})
    assert item["itemId"] in only_fees.text
    expected = await admin.get(f"/dashboard/reconciliation/runs/{run_id}", params={"state": "expected"})
    assert item["itemId"] not in expected.text

    listed = await viewer.get("/dashboard/reconciliation")
    assert run_id in listed.text and item["itemId"] in listed.text and 'id="viewer-note"' in listed.text
    assert f'id="resolve-{item["itemId"]}"' not in listed.text

    # A viewer's resolution is refused and nothing moves; a note is required.
    path = f"/dashboard/reconciliation/exceptions/{item['itemId']}/resolve"
    assert (await post_form(viewer, path, csrf=vtoken, note="looks fine", back=run_id)).status_code == 403
    r = await post_form(admin, path, csrf=token, note="   ", back=run_id)
    assert r.status_code == 303 and "problem=NOTE_REQUIRED" in r.headers["location"]
    assert (await env.client.get("/api/v1/reconciliation/exceptions")).json()["items"][0]["status"] == "open"

    # Another merchant's staff: the run and the exception are not found.
    _, _, other_id = await env.new_merchant("globex")
    boss = await staff_browser(env, "owner", "boss@globex.example", other_id)
    assert (await boss.get(f"/dashboard/reconciliation/runs/{run_id}")).status_code == 404
    theirs = await boss.get("/dashboard/reconciliation")
    assert run_id not in theirs.text and item["itemId"] not in theirs.text
    r = await post_form(boss, path, csrf=csrf_of(theirs.text), note="mine now")
    assert r.status_code == 404

    # The admin resolves it with a note: who, when and why, through the core; audited.
    r = await post_form(admin, path, csrf=token, note="The PG's contract is 2.3 % since May.", back=run_id)
    assert r.status_code == 303 and r.headers["location"] == f"/dashboard/reconciliation/runs/{run_id}?done=1"
    [done] = (await env.client.get("/api/v1/reconciliation/exceptions", params={"status": "resolved"})).json()[
        "items"]
    assert done["resolution"]["resolvedBy"] == "admin@acme.example"
    assert done["resolution"]["note"] == "The PG's contract is 2.3 % since May."
    assert (await env.client.get("/api/v1/reconciliation/exceptions")).json()["items"] == []
    shown = await admin.get(f"/dashboard/reconciliation/runs/{run_id}")
    assert "The PG&#39;s contract is 2.3 % since May." in shown.text and "admin@acme.example" in shown.text
    assert 'id="no-exceptions"' in (await admin.get("/dashboard/reconciliation")).text
    entries, _ = await env.svc.audit.page(env.merchant_id, AuditFilter(action="reconciliation.exception_resolved"))
    assert [(e.staff_email, e.target) for e in entries] == [("admin@acme.example", item["itemId"])]
    runs_audited, _ = await env.svc.audit.page(env.merchant_id, AuditFilter(action="reconciliation.run"))
    assert [e.target for e in runs_audited] == [run_id]

    # Resolving twice is refused on the page, and keeps the first resolution.
    r = await post_form(admin, path, csrf=token, note="again", back=run_id)
    assert r.status_code == 303 and "problem=INVALID_STATE_TRANSITION" in r.headers["location"]
    again = (await env.client.get("/api/v1/reconciliation/exceptions", params={"status": "resolved"})).json()
    assert [i["resolution"]["note"] for i in again["items"]] == ["The PG's contract is 2.3 % since May."]


async def test_a_run_from_an_imported_report_and_the_live_view_apart(env: Env) -> None:
    """A PG Gyeol has no connector to: its report imported, then run from the page with source `import`; the
    money it names that Gyeol never booked is the open exception. The live view shows none of the test runs."""
    today = env.svc.clock.now().astimezone(KST).date().isoformat()
    report = ("transaction_id,order_id,type,amount,fee,vat,net,currency,sold_date,payout_date\n"
              f"van-0001,elsewhere,payment,5000,125,11,4875,KRW,{today},{today}\n")
    r = await env.client.post("/api/v1/reconciliation/imports", json={"pg": "van-pg", "csv": report})
    assert r.status_code == 200, r.text
    owner = await staff_browser(env)
    token = csrf_of((await owner.get("/dashboard/reconciliation")).text)
    nowhere = await post_form(owner, "/dashboard/reconciliation/runs", csrf=token, pg="van-pg", source="api",
                              **{"from": today, "to": today})
    assert nowhere.status_code == 400 and 'id="problem"' in nowhere.text
    r = await post_form(owner, "/dashboard/reconciliation/runs", csrf=token, pg="van-pg", source="import",
                        **{"from": today, "to": today})
    assert r.status_code == 303, r.text
    run_id = r.headers["location"].split("/")[-1].split("?")[0]
    page = await owner.get("/dashboard/reconciliation")
    assert "van-0001" in page.text and "결에 기록 없음" in page.text and run_id in page.text

    await env.svc.merchants.create_key(env.merchant_id, "live")
    live = await staff_browser(env, "admin")
    shown = await live.get("/dashboard/reconciliation")
    assert "mode live" in shown.text and run_id not in shown.text and "van-0001" not in shown.text
    assert (await live.get(f"/dashboard/reconciliation/runs/{run_id}")).status_code == 404
