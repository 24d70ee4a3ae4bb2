"""`make bench` / `make bench-quick`: Gyeol (SQLite, PostgreSQL) against localstripe and a hello-world ceiling, the
same aiohttp client for all. Every measured run starts a server on a fresh, empty store, and at each concurrency
every server gets the same number of payments. Then growth runs (Gyeol and localstripe side by side), kiosk and
refund flows, two workers, a slow PG (the sandbox answering in 250 ms) at c=256 and c=1024, and the dashboard's
pages on a store of 100,000 payments. Prints tables with the goals' ratios and writes the raw figures to
bench/results/<timestamp>.json (not committed)."""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import reconcile
from servers import Server, cpu_model, ensure_peer, errors, git, p50, p99, raise_nofile, write_results

import dashboard

LEVELS = (1, 8, 32)
SLOW_LEVELS = (256, 1024)
SLOW_ENV = {"GYEOL_SANDBOX_LATENCY_MS": "250"}
STORES = (("gyeol-sqlite", "sqlite"), ("gyeol-postgres", "postgres"))
LIKE_DEADLINE = 1800  # seconds: never reached on this machine; a run it stops is flagged "stopped"
PARTS = ("like", "flows", "growth", "scale", "slow", "reconcile", "ledger", "dashboard")
DASHBOARD_REPS = 20  # each page, one request at a time


def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"like": {1: 150, 8: 300, 32: 300}, "flows": 600, "growth": 2000, "peer_growth_s": 60,
                "slow": {256: 600, 1024: 1024}, "reconcile": 20_000, "reconcile_day": 200, "ledger": 10_000,
                "dashboard": 20_000}
    return {"like": {1: 500, 8: 1000, 32: 1000}, "flows": 3000, "growth": 10_000, "peer_growth_s": 300,
            "slow": {256: 3000, 1024: 5000}, "reconcile": 100_000, "reconcile_day": 1000, "ledger": 100_000,
            "dashboard": 100_000}


def like_with_like(n: dict[int, int]) -> list[dict[str, Any]]:
    """Each server, at each concurrency, on a fresh store, for the same number of payments, interleaved."""
    results = []
    for c in LEVELS:
        for name, kind in (*STORES, ("localstripe", "localstripe"), ("hello", "hello")):
            with Server(name, kind) as s:
                results.append(s.load(c, n[c], LIKE_DEADLINE))
            print(f"  {name} c={c}: {results[-1]['throughput']} /s", flush=True)
    return results


def flows(count: int) -> list[dict[str, Any]]:
    results = []
    for name, kind in STORES:
        for scenario in ("kiosk", "refund"):
            with Server(name, kind) as s:
                results.append({**s.load(8, count, 600, scenario=scenario), "target": f"{name} {scenario}"})
    return results


def growth(count: int, peer_seconds: float) -> list[dict[str, Any]]:
    """10,000 payments at c=32 on a fresh store, in windows of 1,000: Gyeol's two stores and localstripe, which is
    stopped after `peer_seconds` (it slows as its store grows, and would need hours for 10,000)."""
    results = []
    for name, kind in (*STORES, ("localstripe", "localstripe")):
        with Server(name, kind) as s:
            seconds = peer_seconds if kind == "localstripe" else 900
            results.append({**s.load(32, count, seconds, window=count // 10), "target": name + " growth"})
        print(f"  {name} growth: {results[-1]['completed']} payments, {results[-1]['throughput']} /s", flush=True)
    return results


def scale_out(count: int) -> list[dict[str, Any]]:
    """The same count as the growth run, at c=32 on a fresh store, served by two processes (uvicorn --workers 2)."""
    results = []
    for name, kind in STORES:
        with Server(name + " 2 workers", kind, workers=2) as s:
            results.append(s.load(32, count, 900))
    return results


def slow(counts: dict[int, int]) -> list[dict[str, Any]]:
    """The sandbox PG answering in 250 ms: many payments in flight at once, each on a fresh store."""
    results = []
    for name, kind in STORES:
        for c in SLOW_LEVELS:
            with Server(name + " slow PG", kind, env=SLOW_ENV) as s:
                results.append(s.load(c, counts[c], 900))
            print(f"  {name} slow PG c={c}: {results[-1]['throughput']} /s, {errors(results[-1])} errors", flush=True)
    return results


def ledger_verify(count: int) -> list[dict[str, Any]]:
    """`gyeol ledger verify` on a store that `count` card payments filled (at c=32, through the API)."""
    results = []
    for name, kind in STORES:
        with Server(name + " ledger", kind) as s:
            s.load(32, count, 3600)
            seconds, done = s.cli("ledger", "verify")
            counted = re.search(r"(\d+) payments", done.stdout)
            results.append({"target": f"{name} ledger verify", "payments": int(counted[1]) if counted else None,
                            "seconds": round(seconds, 1), "verified": done.returncode == 0,
                            "output": (done.stdout + done.stderr)[-2000:]})
        print(f"  {name} ledger verify: {results[-1]['payments']} payments in {results[-1]['seconds']} s", flush=True)
    return results


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", choices=PARTS, action="append", help="run only these parts (repeatable); default all")
    p.add_argument("--peer-growth-seconds", type=float, help="how long localstripe's growth run may take")
    p.add_argument("--payments", type=int, help="how many payments the dashboard's store holds")
    args = p.parse_args()
    n = plan(args.quick)
    if args.payments:
        n["dashboard"] = args.payments
    parts = set(args.only or PARTS)
    raise_nofile()
    if parts - {"dashboard"}:
        ensure_peer()
    started, commit = time.monotonic(), git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--", "src", "pyproject.toml"))
    results: list[dict[str, Any]] = []
    if "like" in parts:
        results += like_with_like(n["like"])
    if "flows" in parts:
        results += flows(n["flows"])
    if "growth" in parts:
        results += growth(n["growth"], args.peer_growth_seconds or n["peer_growth_s"])
    if "scale" in parts:
        results += scale_out(n["growth"])
    if "slow" in parts:
        results += slow(n["slow"])
    verified = ledger_verify(n["ledger"]) if "ledger" in parts else []
    dash = dashboard.run(n["dashboard"], DASHBOARD_REPS) if "dashboard" in parts else []
    if results:
        report(results)
    if dash:
        dashboard.report(dash, table)
    for v in verified:
        print(f"  ledger {_mark(v['verified'] and v['seconds'] < 30)} {v['target']}: {v['payments']} payments in "
              f"{v['seconds']} s (goal < 30 s, no difference){'' if v['verified'] else ': ' + v['output']}")
    # In process, after the servers: 100,000 payments reconciled on each store (bench/reconcile.py), its own table.
    reconciled = reconcile.bench(n["reconcile"], n["reconcile_day"]) if "reconcile" in parts else None
    # The servers run this checkout as it is when each starts: a commit made meanwhile is part of the run.
    moved = git("rev-parse", "HEAD") if git("rev-parse", "HEAD") != commit else ""
    out = write_results("", {"commit": commit, "dirty": dirty, "moved_to": moved, "quick": args.quick, "plan": n,
                             "results": results, "reconciliation": reconciled, "ledger": verified, "dashboard": dash,
                             "minutes": round((time.monotonic() - started) / 60, 1)})
    print(f"\ncommit {commit}{' + uncommitted changes in src/' if dirty else ''}"
          f"{f' (HEAD moved to {moved[:12]} during the run)' if moved else ''}  cpu {cpu_model()}  "
          f"{(time.monotonic() - started) / 60:.1f} min  raw figures: bench/results/{out.name}")


def _mark(ok: bool) -> str:
    return "met " if ok else "MISSED"


def table(header: list[str], rows: list[list[Any]]) -> None:
    cells = [header] + [[str(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for r in cells:
        print("  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True))))


def report(results: list[dict[str, Any]]) -> None:
    # cpu: the server's processes; db: PostgreSQL's (any target: ~0 where it is idle); client: the load generator;
    # busy: the whole machine, both cores, while the run lasted.
    main_runs = [r for r in results if "growth" not in r["target"] and "slow PG" not in r["target"]]
    print()
    table(["target", "c", "n", "ops/s", "p50 ms", "p99 ms", "cpu ms/op", "db ms/op", "client ms", "busy %", "errors"],
          [[r["target"], r["concurrency"], r["completed"], r["throughput"], p50(r), p99(r), r["cpu_ms_per_op"],
            r.get("db_cpu_ms_per_op"), r.get("client_cpu_ms_per_op"), r.get("machine_busy_pct"),
            f"{errors(r)}{' stopped' if r.get('stopped_by_deadline') else ''}"] for r in main_runs])
    by = {(r["target"], r["concurrency"]): r for r in results}
    grown = [r for r in results if r["target"].endswith(" growth")]
    if grown:
        print("\ngrowth at c=32 on a fresh store: payments/s in each window of a tenth of the run")
        table(["target", "completed", "s", "ops/s", "windows", "last/first", "RSS MiB", "p99 ms", "errors"],
              [[r["target"], r["completed"], r["seconds"], r["throughput"], " ".join(map(str, r["windows_per_s"])),
                _last_first(r), f"{r['rss_mib_after'] - r['rss_mib_before']:+.1f}", p99(r), errors(r)]
               for r in grown])
    slow_runs = [r for r in results if "slow PG" in r["target"]]
    if slow_runs:
        print("\nslow PG (GYEOL_SANDBOX_LATENCY_MS=250), fresh store each")
        table(["target", "c", "completed", "ops/s", "p50 ms", "p99 ms", "errors", "RSS MiB", "peak MiB",
               "in flight"],
              [[r["target"], r["concurrency"], r["completed"], r["throughput"], p50(r), p99(r), errors(r),
                r["rss_mib_after"], r["rss_peak_mib"], r["max_in_flight"]] for r in slow_runs])
    for r in results:
        if errors(r):
            print(f"\nerrors in {r['target']} c={r['concurrency']}: {r['failures'] or r['opening_failures']}")
    print("\ngoals (ratios from this run, like with like: fresh stores, the same number of payments):")
    for store, _ in STORES:
        _goals(store, by)


def _last_first(r: dict[str, Any]) -> str:
    w = r["windows_per_s"]
    return f"{w[-1] / w[0]:.2f}" if len(w) > 1 and w[0] and w[-1] else "-"


def _goals(store: str, by: dict[tuple[str, int], dict[str, Any]]) -> None:
    for c in LEVELS:
        g, peer = by.get((store, c)), by.get(("localstripe", c))
        if g and peer and peer["throughput"]:
            ratio = g["throughput"] / peer["throughput"]
            print(f"  G1 {_mark(ratio >= (10 if c == 1 else 20))} {store} c={c}: {ratio:.1f}x localstripe's "
                  f"throughput (goal {10 if c == 1 else 20}x)")
    g, peer, one = by.get((store, 32)), by.get(("localstripe", 32)), by.get((store, 1))
    if g and peer and one:
        gp, pp, p1 = p99(g), p99(peer), p99(one)
        ok = gp <= pp / 20 and gp <= 50 and p1 <= 5
        print(f"  G2 {_mark(ok)} {store}: p99 c=32 {gp} ms (1/{pp / gp:.0f} of localstripe's {pp} ms; goal "
              f"1/20 and <= 50 ms); p99 c=1 {p1} ms (goal <= 5 ms)")
        if g["cpu_ms_per_op"] and peer["cpu_ms_per_op"]:
            share = peer["cpu_ms_per_op"] / g["cpu_ms_per_op"]
            print(f"  G3 {_mark(share >= 15)} {store}: CPU/payment {g['cpu_ms_per_op']} ms at c=32, "
                  f"1/{share:.0f} of localstripe's (goal 1/15)")
    hello = by.get(("hello", 32))
    if g and hello and hello["throughput"]:
        print(f"  (not a goal) {store}: {g['throughput'] / hello['throughput'] * 100:.1f} % of hello-world's "
              f"requests/s at c=32")
    grow = by.get((store + " growth", 32))
    if grow and len(grow["windows_per_s"]) > 1:
        w = grow["windows_per_s"]
        rss = grow["rss_mib_after"] - grow["rss_mib_before"]
        print(f"  G5 {_mark(w[-1] / w[0] >= 0.8 and rss <= 10)} {store}: last/first window {w[-1] / w[0]:.2f} "
              f"(goal >= 0.8); RSS {rss:+.1f} MiB over {grow['completed']} (goal <= 10 MiB)")
    two = by.get((store + " 2 workers", 32))
    if grow and two:
        print(f"  scale-out {store}: {two['throughput'] / grow['throughput']:.2f}x with 2 workers at c=32 "
              f"({grow['throughput']} -> {two['throughput']} payments/s, {grow['completed']} payments each)")


if __name__ == "__main__":
    main()
