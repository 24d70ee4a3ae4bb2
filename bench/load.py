"""A closed-loop load generator on aiohttp (uvloop when present), in a process of its own.

`python bench/load.py --base URL --scenario NAME --concurrency C --count N --seconds S --pid SERVER_PID`
prints one JSON object: throughput, latency percentiles per request kind, errors (with what each was), and the
server's CPU time and RSS (read from /proc before and after, and its peak).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import aiohttp

TICKS = os.sysconf("SC_CLK_TCK")


def proc_usage(pid: int) -> dict[str, float]:
    """CPU seconds, RSS and peak RSS (VmHWM, since the process started) of the server and its children (uvicorn
    --workers)."""
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    cpu, rss, peak = 0.0, 0.0, 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            cpu += (int(fields[11]) + int(fields[12])) / TICKS
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
                elif line.startswith("VmHWM:"):
                    peak += int(line.split()[1]) / 1024
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {"cpu_s": cpu, "rss_mib": rss, "rss_peak_mib": peak}


def postgres_cpu_s() -> float:
    """CPU seconds of every PostgreSQL process on the machine: its backends and its writers are a payment's cost
    too, on the same two cores."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        name, rest = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
        if name.startswith("postgres"):
            total += (int(rest[11]) + int(rest[12])) / TICKS
    return total


def machine_ticks() -> tuple[int, int]:
    """(idle, all) clock ticks of the whole machine since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


class Scenario:
    def __init__(self, session: aiohttp.ClientSession, base: str, key: str) -> None:
        self.s = session
        self.base = base
        self.key = key
        self.lat: dict[str, list[float]] = defaultdict(list)
        self.failures: Counter[str] = Counter()  # what each error was: a status and its body, or an exception
        self.in_flight = self.max_in_flight = 0

    async def timed(self, kind: str, method: str, path: str, **kw: Any) -> tuple[int, Any]:
        t = time.perf_counter()
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            async with self.s.request(method, self.base + path, **kw) as r:
                body = await r.json(content_type=None) if r.content_type.endswith("json") else await r.text()
                status = r.status
        finally:
            self.in_flight -= 1
        self.lat[kind].append(time.perf_counter() - t)
        if status >= 300:
            self.failures[f"{kind}: HTTP {status} {str(body)[:160]}"] += 1
        return status, body

    def unexpected(self, kind: str, body: Any) -> bool:
        """A 2xx answer that is not the expected state: counted, with the state it had."""
        state = body.get("status") if isinstance(body, dict) else str(body)[:80]
        self.failures[f"{kind}: answered status={state}"] += 1
        return False

    async def gyeol_card(self) -> bool:
        h = {"Authorization": f"Bearer {self.key}", "Idempotency-Key": uuid.uuid4().hex}
        st, body = await self.timed("create+confirm", "POST", "/api/v1/payments/intent", headers=h, json={
            "orderId": "b-" + uuid.uuid4().hex[:20], "amount": 1000, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}})
        if st != 200 or body.get("status") != "succeeded":
            return st == 200 and self.unexpected("create+confirm", body)
        st, got = await self.timed("read", "GET", f"/api/v1/payments/{body['paymentId']}",
                                   headers={"Authorization": f"Bearer {self.key}"})
        return st == 200 and (got.get("status") == "succeeded" or self.unexpected("read", got))

    async def stripe_card(self) -> bool:
        h = {"Authorization": f"Bearer {self.key}"}
        st, body = await self.timed("create+confirm", "POST", "/v1/payment_intents", headers=h, data={
            "amount": "1000", "currency": "usd", "confirm": "true", "payment_method": "pm_card_visa"})
        if st != 200 or body.get("status") != "succeeded":
            return st == 200 and self.unexpected("create+confirm", body)
        st, got = await self.timed("read", "GET", f"/v1/payment_intents/{body['id']}", headers=h)
        return st == 200 and (got.get("status") == "succeeded" or self.unexpected("read", got))

    async def hello(self) -> bool:
        st, _ = await self.timed("hello", "GET", "/")
        return st == 200

    async def kiosk(self) -> bool:
        basic = "Basic " + base64.b64encode(f"{self.key}:".encode()).decode()
        body = {"paymentKey": "pk_" + uuid.uuid4().hex, "orderId": "k-" + uuid.uuid4().hex[:20], "amount": 1000}
        st, _ = await self.timed("kiosk create", "POST", "/v1/payments", headers={"Authorization": basic}, json=body)
        if st != 200:
            return False
        st, got = await self.timed("kiosk confirm", "POST", "/v1/payments/confirm",
                                   headers={"Authorization": basic}, json=body)
        return st == 200 and got.get("status") == "APPROVED"

    async def refund(self) -> bool:
        h = {"Authorization": f"Bearer {self.key}"}
        st, body = await self.timed("create+confirm", "POST", "/api/v1/payments/intent", headers=h, json={
            "orderId": "r-" + uuid.uuid4().hex[:20], "amount": 1000, "currency": "KRW", "confirm": True,
            "methodOptions": {"token": "tok_visa"}})
        if st != 200:
            return False
        st, got = await self.timed("refund", "POST", "/api/v1/refunds", headers=h,
                                   json={"paymentId": body["paymentId"], "amount": 400})
        return st == 200 and got.get("status") == "succeeded"


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def main(args: argparse.Namespace) -> dict[str, Any]:
    # limit: the connector holds up to C connections at once (its default is 100). keepalive_timeout: a connection
    # idle for 2 s is dropped here, before uvicorn closes it at 5 s; aiohttp's 15 s would reuse connections the
    # server has just closed ("Connection reset by peer") after the opening burst at c=1024. The timeout is the whole
    # request's.
    connector = aiohttp.TCPConnector(limit=args.concurrency, force_close=False, keepalive_timeout=2.0)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sc = Scenario(session, args.base, args.key)
        op = getattr(sc, args.scenario)
        done: list[float] = []
        errors = 0

        async def once() -> bool:
            try:
                return bool(await op())
            except (TimeoutError, aiohttp.ClientError, ValueError, KeyError) as e:
                sc.failures[f"{type(e).__name__}: {str(e)[:160]}"] += 1
                return False

        # One unmeasured operation per connection, all at once: opening C connections and answering their first
        # requests together is the start of a run, not the steady state that the figures describe. Its errors
        # are counted apart.
        opening = await asyncio.gather(*(once() for _ in range(args.concurrency)))
        opening_failures = dict(sc.failures)
        sc.lat.clear()
        sc.failures.clear()
        remaining = args.count
        deadline = time.perf_counter() + args.seconds
        before = proc_usage(args.pid) if args.pid else {}
        db_before, ticks_before, client_before = postgres_cpu_s(), machine_ticks(), time.process_time()
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal remaining, errors
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                if await once():
                    done.append(time.perf_counter() - started)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
        after = proc_usage(args.pid) if args.pid else {}
        db_cpu, client_cpu = postgres_cpu_s() - db_before, time.process_time() - client_before
        idle, ticks = (b - a for a, b in zip(ticks_before, machine_ticks(), strict=True))
    windows = []
    if args.window:
        for i in range(0, len(done), args.window):
            chunk = done[i:i + args.window]
            span = chunk[-1] - (done[i - 1] if i else 0.0)
            windows.append(round(len(chunk) / span, 1) if span > 0 else None)
    cpu = after.get("cpu_s", 0.0) - before.get("cpu_s", 0.0)
    return {
        "scenario": args.scenario, "concurrency": args.concurrency, "completed": len(done), "errors": errors,
        "seconds": round(elapsed, 3), "throughput": round(len(done) / elapsed, 1) if elapsed else 0.0,
        "latency_ms": {k: {"p50": round(pct(v, .5), 2), "p90": round(pct(v, .9), 2), "p99": round(pct(v, .99), 2),
                           "max": round(max(v) * 1000, 2), "n": len(v)} for k, v in sc.lat.items()},
        "server_cpu_s": round(cpu, 3), "cpu_ms_per_op": round(cpu * 1000 / len(done), 3) if done else None,
        "db_cpu_ms_per_op": round(db_cpu * 1000 / len(done), 3) if done else None,
        "client_cpu_ms_per_op": round(client_cpu * 1000 / len(done), 3) if done else None,
        "machine_busy_pct": round(100 * (1 - idle / ticks), 1) if ticks else None,
        "rss_mib_before": round(before.get("rss_mib", 0.0), 1), "rss_mib_after": round(after.get("rss_mib", 0.0), 1),
        "rss_peak_mib": round(after.get("rss_peak_mib", 0.0), 1), "windows_per_s": windows,
        "opening_errors": opening.count(False), "max_in_flight": sc.max_in_flight, "nofile": nofile(),
        "stopped_by_deadline": len(done) + errors < args.count,
        "failures": dict(sc.failures.most_common(8)), "opening_failures": opening_failures,
    }


def nofile() -> int:
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--base", required=True)
    p.add_argument("--scenario", required=True)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--key", default="test_sk_bench")
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--window", type=int, default=0)
    p.add_argument("--timeout", type=float, default=120, help="seconds a request may take before it is an error")
    ns = p.parse_args()
    # C sockets, and a few more for /proc and the loop: the soft limit up to the hard one, or a clear refusal.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < ns.concurrency + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
        if nofile() < ns.concurrency + 64:
            raise SystemExit(f"ulimit -n is {nofile()} (hard {hard}): too few for {ns.concurrency} connections")
    try:
        import uvloop
        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(main(ns))))
