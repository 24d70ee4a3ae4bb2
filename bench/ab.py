"""`make bench-ab OLD=<rev> NEW=<rev>` / `make bench-ab-quick`: two versions of Gyeol side by side in one run, and
the performance guard.

Each side is served from a copy of its code (bench/trees.py), with the same settings as `make bench`, and driven by
the same client (this checkout's bench/load.py), interleaved: at each concurrency the rounds alternate which side
goes first, and every measured run starts its server on a fresh, empty store. For each store (SQLite, PostgreSQL):
c=8 and c=32 (the median of the rounds), a growth run of 10,000 payments at c=32, and the slow PG (the sandbox
answering in 250 ms) at c=256 and c=1024. Prints a before/after table and a PASS/FAIL line per guard, writes
bench/results/ab-<timestamp>.json, and exits 1 when a guard fails."""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import trees
from run import SLOW_ENV, SLOW_LEVELS, table
from servers import Server, Tree, cpu_model, errors, p99, raise_nofile, write_results

STORES = ("sqlite", "postgres")
LEVELS = (8, 32)
KEEP = 2 / 3  # the new side keeps at least this share of the old side's payments/s
P99_AT_MOST = 1.5  # times the old side's p99
FLAT = 0.8  # growth: the last window at least this share of the first
RSS_MIB = 10.0  # growth: RSS may grow this much over the run


def plan(quick: bool) -> dict[str, Any]:
    if quick:
        return {"rounds": 2, "steady": {8: 600, 32: 800}, "growth": 2000, "slow": {256: 512, 1024: 1024}}
    return {"rounds": 3, "steady": {8: 2000, 32: 2000}, "growth": 10_000, "slow": {256: 2000, 1024: 3072}}


def run(store: str, side: Tree, phase: str, c: int, count: int, window: int = 0,
        env: dict[str, str] | None = None) -> dict[str, Any]:
    with Server(f"{store} {side.label}", store, tree=side, env=env) as s:
        r = s.load(c, count, 900, window=window)
    r.update({"store": store, "side": side.label, "phase": phase})
    print(f"  {store:8} {phase:6} c={c:<4} {side.label}: {r['throughput']:>7} payments/s, p99 {p99(r)} ms, "
          f"{errors(r)} errors", flush=True)
    return r


def measure(store: str, old: Tree, new: Tree, n: dict[str, Any], phases: set[str]) -> list[dict[str, Any]]:
    results = []
    if "steady" in phases:
        for c in LEVELS:
            for i in range(n["rounds"]):
                for side in (old, new) if i % 2 == 0 else (new, old):
                    results.append({**run(store, side, "steady", c, n["steady"][c]), "round": i})
    if "growth" in phases:
        for side in (old, new):
            results.append(run(store, side, "growth", 32, n["growth"], window=n["growth"] // 10))
    if "slow" in phases:
        for c in SLOW_LEVELS:
            for side in (old, new) if c == SLOW_LEVELS[0] else (new, old):
                results.append(run(store, side, "slow", c, n["slow"][c], env=SLOW_ENV))
    return results


def summary(results: list[dict[str, Any]], store: str, phase: str, c: int, side: str) -> dict[str, Any] | None:
    """The median of a side's rounds (a single run for growth and slow), errors summed."""
    runs = [r for r in results if (r["store"], r["phase"], r["concurrency"], r["side"]) == (store, phase, c, side)
            and not r.get("superseded")]
    if not runs:
        return None
    return {"throughput": round(statistics.median(r["throughput"] for r in runs), 1),
            "p99": round(statistics.median(p99(r) for r in runs), 2), "errors": sum(errors(r) for r in runs),
            "rss_growth": max(r["rss_mib_after"] - r["rss_mib_before"] for r in runs),
            "rss_peak": max(r["rss_peak_mib"] for r in runs), "windows": runs[0]["windows_per_s"],
            "failures": {k: v for r in runs for k, v in (r["failures"] | r["opening_failures"]).items()},
            "again": any(r.get("again") for r in runs)}


def flatness(s: dict[str, Any]) -> float:
    w = s["windows"]
    return w[-1] / w[0] if len(w) > 1 and w[0] and w[-1] else 0.0


Line = tuple[bool, str, tuple[str, str, int, str]]  # PASS, what it says, (store, phase, c, which check)


def guard(results: list[dict[str, Any]]) -> tuple[list[list[Any]], list[Line]]:
    rows: list[list[Any]] = []
    lines: list[Line] = []
    cases = [(s, "steady", c) for s in STORES for c in LEVELS] + [(s, "growth", 32) for s in STORES] + \
        [(s, "slow", c) for s in STORES for c in SLOW_LEVELS]
    for store, phase, c in sorted(cases, key=lambda k: STORES.index(k[0])):
        old, new = (summary(results, store, phase, c, side) for side in ("old", "new"))
        if old is None or new is None:
            continue
        tp = new["throughput"] / old["throughput"] if old["throughput"] else 0.0
        lat = new["p99"] / old["p99"] if old["p99"] else 0.0
        rows.append([f"{store} {phase}{' (again)' if new['again'] else ''}", c, old["throughput"], new["throughput"],
                     f"{tp:.2f}", old["p99"], new["p99"], f"{lat:.2f}", old["errors"], new["errors"],
                     f"{old['rss_growth']:+.1f}/{new['rss_growth']:+.1f}", f"{old['rss_peak']}/{new['rss_peak']}"])
        what, case = f"{store} {phase} c={c}{' (measured again)' if new['again'] else ''}", (store, phase, c)
        if phase != "growth":  # one run a side: its payments/s is in the table, its shape is what is guarded
            lines.append((tp >= KEEP, f"{what} payments/s: new {new['throughput']} vs old {old['throughput']} "
                                      f"({tp:.2f}x, needs >= {KEEP:.2f}x)", (*case, "throughput")))
        if phase == "steady":
            lines.append((lat <= P99_AT_MOST, f"{what} p99: new {new['p99']} ms vs old {old['p99']} ms ({lat:.2f}x, "
                                              f"needs <= {P99_AT_MOST}x)", (*case, "p99")))
        if phase == "growth":
            flat, rss = flatness(new), new["rss_growth"]
            lines.append((flat >= FLAT and rss <= RSS_MIB,
                          f"{what} growth: last/first window {flat:.2f} (needs >= {FLAT}; old {flatness(old):.2f}), "
                          f"RSS {rss:+.1f} MiB (needs <= {RSS_MIB:.0f}; old {old['rss_growth']:+.1f})",
                          (*case, "growth")))
        detail = f": {new['failures']}" if new["errors"] else ""
        lines.append((new["errors"] == 0, f"{what} errors: new {new['errors']} (old {old['errors']}){detail}",
                      (*case, "errors")))
    return rows, lines


def confirm(results: list[dict[str, Any]], lines: list[Line], old: Tree, new: Tree,
            n: dict[str, Any]) -> list[dict[str, Any]]:
    """Measure once more what a single run a side decided and failed (growth's shape, the slow PG's payments/s):
    the second measurement decides. The steady runs are medians of rounds already, and errors are never measured
    again."""
    again = []
    for store, phase, c in sorted({k[:3] for ok, _, k in lines if not ok and k[3] in ("growth", "throughput")
                                   and k[1] in ("growth", "slow")}):
        sides = (new,) if phase == "growth" else (old, new)  # growth's shape is the new side's alone
        labels = [side.label for side in sides]
        for r in results:
            if (r["store"], r["phase"], r["concurrency"]) == (store, phase, c) and r["side"] in labels:
                r["superseded"] = True
        for side in sides:
            r = run(store, side, phase, c, n[phase] if phase == "growth" else n[phase][c],
                    window=n["growth"] // 10 if phase == "growth" else 0, env=SLOW_ENV if phase == "slow" else None)
            again.append({**r, "again": True})
    return again


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--old", help="commit-ish for the old side (default: origin/main, else HEAD^)")
    p.add_argument("--new", default=trees.WORKTREE, help=f"commit-ish, or {trees.WORKTREE} (default): this checkout")
    p.add_argument("--quick", action="store_true", help="fewer payments: a few minutes")
    p.add_argument("--stores", default=",".join(STORES), help="sqlite,postgres")
    p.add_argument("--phases", default="steady,growth,slow", help="steady,growth,slow")
    args = p.parse_args()
    old_rev, new_rev = args.old or trees.default_old(), args.new
    old_sha, new_sha = trees.resolve(old_rev), trees.resolve(new_rev)
    n = plan(args.quick)
    stores = [s for s in args.stores.split(",") if s]
    raise_nofile()
    trees.sweep()
    started = time.monotonic()
    made: list[Path] = []
    results: list[dict[str, Any]] = []
    try:
        old, path = trees.checkout("old", old_sha)
        made.append(path)
        new, path = trees.checkout("new", new_sha)
        made.append(path)
        described = {"old": trees.describe(old_sha), "new": trees.describe(new_sha)}
        print(f"old: {old_rev} = {described['old']}\nnew: {new_rev} = {described['new']}", flush=True)
        for store in stores:
            results += measure(store, old, new, n, set(args.phases.split(",")))
        rows, lines = guard(results)
        if any(not ok for ok, _, k in lines if k[3] != "errors"):
            print("measuring again, once, what a single run a side decided and failed:", flush=True)
            results += confirm(results, lines, old, new, n)
            rows, lines = guard(results)
    finally:
        for path in made:
            trees.remove(path)
    minutes = (time.monotonic() - started) / 60
    print(f"\nold {old.rev[:12]} ({old_rev}), new {new.rev[:12]} ({new_rev}); medians of {n['rounds']} rounds at "
          f"c=8 and c=32; {cpu_model()}; {minutes:.1f} min")
    table(["store run", "c", "old /s", "new /s", "new/old", "old p99", "new p99", "new/old", "old err", "new err",
           "RSS +MiB", "peak MiB"], rows)
    print()
    for ok, line, _ in lines:
        print(f"{'PASS' if ok else 'FAIL'} {line}")
    passed = all(ok for ok, _, _ in lines)
    out = write_results("ab-", {
        "old": {"rev": old_rev, "commit": old.rev, "describe": described["old"]},
        "new": {"rev": new_rev, "commit": new.rev, "describe": described["new"]},
        "quick": args.quick, "plan": n, "minutes": round(minutes, 1), "pass": passed,
        "guard": [{"ok": ok, "line": line} for ok, line, _ in lines], "results": results})
    print(f"\n{'PASS' if passed else 'FAIL'}: {sum(not ok for ok, _, _ in lines)} of {len(lines)} guard lines failed; "
          f"raw figures: bench/results/{out.name}")
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
