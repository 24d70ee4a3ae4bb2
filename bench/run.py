"""`make bench` / `make bench-quick`: Gyeol (SQLite, PostgreSQL) against localstripe and a hello-world ceiling, the
same aiohttp client for all, interleaved; then growth, kiosk and refund runs. Prints a table with the goals' ratios
and writes the raw figures to bench/results/<timestamp>.json (not committed)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable
GYEOL = str(Path(PY).with_name("gyeol"))
PEER_VENV = HERE / ".venv-peer"
PEER_PY = PEER_VENV / "bin" / "python"
PG_ADMIN = os.environ.get("GYEOL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEY = "test_sk_bench"
WARMUP = 50  # operations each server gets before anything is measured


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on {port} did not start")


def ensure_peer() -> None:
    if PEER_PY.exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", "localstripe==1.15.10"], check=True)


def fresh_pg_database(name: str) -> str:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(make_url(PG_ADMIN).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


class Target:
    def __init__(self, name: str, scenario: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        self.name, self.scenario, self.cmd, self.env = name, scenario, cmd, env
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Target:
        cmd = [c.replace("{port}", str(self.port)) for c in self.cmd]
        self.proc = subprocess.Popen(cmd, env=self.env, cwd=str(HERE), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_up(self.port, self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)

    def load(self, scenario: str, concurrency: int, count: int, seconds: float, window: int = 0) -> dict[str, Any]:
        assert self.proc is not None
        key = "sk_test_bench" if self.name == "localstripe" else KEY
        out = subprocess.run([PY, str(HERE / "load.py"), "--base", f"http://127.0.0.1:{self.port}", "--scenario",
                              scenario, "--concurrency", str(concurrency), "--count", str(count), "--seconds",
                              str(seconds), "--key", key, "--pid", str(self.proc.pid), "--window", str(window)],
                             capture_output=True, text=True, check=True)
        result: dict[str, Any] = json.loads(out.stdout)
        result["target"] = self.name
        return result


def gyeol_target(name: str, db_url: str, workers: int = 1) -> Target:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GYEOL_")}
    env.update({"GYEOL_DATABASE_URL": db_url, "GYEOL_TEST_SECRET_KEY": KEY, "GYEOL_LOG_LEVEL": "WARNING",
                "GYEOL_VAR_DIR": tempfile.mkdtemp(prefix="gyeol-bench-"), "GYEOL_WORKER": "external",
                "GYEOL_RATE_LIMIT": "1000000"})
    return Target(name, "gyeol_card", [GYEOL, "serve", "--port", "{port}", "--workers", str(workers)], env)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    n = {1: 150, 8: 600, 32: 1200} if args.quick else {1: 500, 8: 3000, 32: 6000}
    growth = 2000 if args.quick else 10_000
    seconds = 40 if args.quick else 90
    ensure_peer()
    tmp = Path(tempfile.mkdtemp(prefix="gyeol-bench-"))
    targets = [
        gyeol_target("gyeol-sqlite", f"sqlite:///{tmp / 'bench.db'}"),
        gyeol_target("gyeol-postgres", fresh_pg_database("gyeol_bench")),
        Target("localstripe", "stripe_card", [str(PEER_PY), str(HERE / "peer.py"), "--port", "{port}", "--pickle",
                                              str(tmp / "localstripe.pickle")]),
        Target("hello", "hello", [PY, str(HERE / "hello.py"), "--port", "{port}"]),
    ]
    results: list[dict[str, Any]] = []
    try:
        for t in targets:
            t.start()
            # Unmeasured: the first requests to a fresh process pay for imports, compiled statements and caches,
            # which five of 500 requests at c=1 would otherwise turn into the p99.
            t.load(t.scenario, 1, WARMUP, seconds)
        for c in (1, 8, 32):
            for t in targets:
                results.append(t.load(t.scenario, c, n[c], seconds))
        for t in targets[:2]:
            results.append({**t.load("kiosk", 8, n[8], seconds), "target": t.name + " kiosk"})
            results.append({**t.load("refund", 8, n[8], seconds), "target": t.name + " refund"})
    finally:
        for t in targets:
            t.stop()
    # Scale-out: the same store served by two processes (uvicorn --workers 2), against the one-process run above.
    for name, url in (("gyeol-postgres", fresh_pg_database("gyeol_bench_workers")),
                      ("gyeol-sqlite", f"sqlite:///{tmp / 'workers.db'}")):
        t = gyeol_target(name + " 2 workers", url, workers=2).start()
        try:
            t.load("gyeol_card", 2, WARMUP, seconds)
            results.append(t.load("gyeol_card", 32, n[32], seconds))
        finally:
            t.stop()
    for name, url in (("gyeol-sqlite", f"sqlite:///{tmp / 'growth.db'}"),
                      ("gyeol-postgres", fresh_pg_database("gyeol_bench_growth"))):
        t = gyeol_target(name, url).start()
        try:
            results.append({**t.load("gyeol_card", 32, growth, 600, window=growth // 10), "target": name + " growth"})
        finally:
            t.stop()
    report(results)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    out = HERE / "results" / time.strftime("%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"commit": commit, "cpu": cpu_model(), "quick": args.quick, "results": results},
                              indent=2))
    print(f"\ncommit {commit}  cpu {cpu_model()}  raw figures: {out.relative_to(ROOT)}")


def _mark(ok: bool) -> str:
    return "met " if ok else "MISSED"


def report(results: list[dict[str, Any]]) -> None:
    # cpu: the server's processes; db: PostgreSQL's (any target: ~0 where it is idle); client: the load generator;
    # busy: the whole machine, both cores, while the run lasted.
    print(f"{'target':28} {'c':>3} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms/op':>10} {'db ms/op':>9} "
          f"{'client ms':>9} {'busy %':>6} {'errors':>6}")
    for r in results:
        kinds = r["latency_ms"]
        main_kind = "create+confirm" if "create+confirm" in kinds else next(iter(kinds), "")
        lat = kinds.get(main_kind, {"p50": 0, "p99": 0})
        print(f"{r['target']:28} {r['concurrency']:>3} {r['throughput']:>9} {lat['p50']:>8} {lat['p99']:>8} "
              f"{str(r['cpu_ms_per_op']):>10} {str(r.get('db_cpu_ms_per_op')):>9} "
              f"{str(r.get('client_cpu_ms_per_op')):>9} {str(r.get('machine_busy_pct')):>6} {r['errors']:>6}")
    by = {(r["target"], r["concurrency"]): r for r in results}
    print("\ngoals (ratios from this run):")
    for store in ("gyeol-sqlite", "gyeol-postgres"):
        for c in (1, 8, 32):
            g, peer = by.get((store, c)), by.get(("localstripe", c))
            if g and peer and peer["throughput"]:
                ratio = g["throughput"] / peer["throughput"]
                print(f"  G1 {_mark(ratio >= (10 if c == 1 else 20))} {store} c={c}: {ratio:.1f}x localstripe's "
                      f"throughput (goal {10 if c == 1 else 20}x)")
        g, peer, one = by.get((store, 32)), by.get(("localstripe", 32)), by.get((store, 1))
        if g and peer and one:
            gp, pp = g["latency_ms"]["create+confirm"]["p99"], peer["latency_ms"]["create+confirm"]["p99"]
            p1 = one["latency_ms"]["create+confirm"]["p99"]
            ok = gp <= pp / 20 and gp <= 50 and p1 <= 5
            print(f"  G2 {_mark(ok)} {store}: p99 c=32 {gp} ms (1/{pp / gp:.0f} of localstripe's {pp} ms; goal "
                  f"1/20 and <= 50 ms); p99 c=1 {p1} ms (goal <= 5 ms)")
            if g["cpu_ms_per_op"] and peer["cpu_ms_per_op"]:
                share = peer["cpu_ms_per_op"] / g["cpu_ms_per_op"]
                print(f"  G3 {_mark(share >= 15)} {store}: CPU/payment {g['cpu_ms_per_op']} ms at c=32, "
                      f"1/{share:.0f} of localstripe's (goal 1/15)")
        hello = by.get(("hello", 32))
        if g and hello and hello["throughput"]:
            share = g["throughput"] / hello["throughput"] * 100
            print(f"  G4 {_mark(share >= 10)} {store}: {share:.1f} % of hello-world's requests/s at c=32 (goal 10 %)")
        grow = by.get((store + " growth", 32))
        if grow and grow["windows_per_s"]:
            w = grow["windows_per_s"]
            rss = grow["rss_mib_after"] - grow["rss_mib_before"]
            print(f"  G5 {_mark(w[-1] / w[0] >= 0.8 and rss <= 10)} {store}: last/first window {w[-1] / w[0]:.2f} "
                  f"(goal >= 0.8); RSS {rss:+.1f} MiB over {grow['completed']} (goal <= 10 MiB)")
        two = by.get((store + " 2 workers", 32))
        if g and two:
            print(f"  scale-out {store}: {two['throughput'] / g['throughput']:.2f}x with 2 workers at c=32 "
                  f"({g['throughput']} -> {two['throughput']} payments/s)")


if __name__ == "__main__":
    main()
