"""What bench/run.py and bench/ab.py share: a server started on a store of its own, created empty when it starts and
removed when it stops, and the client (bench/load.py, in a process of its own) that drives it."""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PY = sys.executable  # the client's interpreter, and the servers' when no other tree is given
PEER_VENV = HERE / ".venv-peer"
PEER_PY = PEER_VENV / "bin" / "python"
PG_ADMIN = os.environ.get("GYEOL_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
KEY = "test_sk_bench"
PEER_KEY = "sk_test_bench"
WARMUP = 50  # operations each server gets after it starts, before anything is measured
SCENARIO = {"sqlite": "gyeol_card", "postgres": "gyeol_card", "localstripe": "stripe_card", "hello": "hello"}
SERVE = "import sys; from gyeol.cli import main; sys.exit(main())"  # `gyeol`, whichever tree PYTHONPATH names


def raise_nofile() -> int:
    """The soft limit on open files up to the hard one, inherited by the servers started from here: a run at c=1024
    holds 1,024 sockets on each side."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (65536 if hard == resource.RLIM_INFINITY else hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(name: str, port: int, proc: subprocess.Popen[bytes], log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} on {port} exited with {proc.returncode}:\n{tail(log, 30)}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{name} on {port} did not start:\n{tail(log, 30)}")


def tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def ensure_peer() -> None:
    if PEER_PY.exists():
        return
    subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_PY), "-m", "pip", "install", "-q", "localstripe==1.15.10"], check=True)


def _pg_admin(statement: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(make_url(PG_ADMIN).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(5):  # CREATE DATABASE fails while another session is connected to template1
            try:
                with admin.connect() as conn:
                    conn.execute(sa.text(statement))
                return
            except sa.exc.OperationalError:
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
    finally:
        admin.dispose()


def create_pg_database(name: str) -> str:
    from sqlalchemy.engine import make_url

    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{name}"')
    return make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)


def drop_pg_database(name: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class Tree:
    """Gyeol's code to serve: a source directory and the interpreter whose packages it runs with."""
    label: str
    rev: str
    src: Path
    python: str


CHECKOUT = Tree("checkout", "working tree", ROOT / "src", PY)


class Server:
    """One server process on a fresh store: an empty SQLite file, a new PostgreSQL database, an empty localstripe
    pickle (nothing for hello). start() creates the store, starts the process and warms it up; stop() ends the
    process and removes the store. `env` adds GYEOL_* settings (GYEOL_SANDBOX_LATENCY_MS for the slow PG)."""

    def __init__(self, name: str, kind: str, *, tree: Tree = CHECKOUT, workers: int = 1,
                 env: dict[str, str] | None = None) -> None:
        self.name, self.kind, self.tree, self.workers = name, kind, tree, workers
        self.scenario = SCENARIO[kind]
        self.extra = env or {}
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.tmp: Path | None = None
        self.pg_name: str | None = None
        self.env: dict[str, str] | None = None  # a Gyeol server's environment, for `cli`
        self.database_url = ""  # a Gyeol server's, once started

    @property
    def log(self) -> Path:
        assert self.tmp is not None
        return self.tmp / "server.log"

    def _command(self) -> tuple[list[str], dict[str, str] | None]:
        assert self.tmp is not None
        port = str(self.port)
        if self.kind == "localstripe":
            return [str(PEER_PY), str(HERE / "peer.py"), "--port", port, "--pickle",
                    str(self.tmp / "localstripe.pickle")], None
        if self.kind == "hello":
            return [PY, str(HERE / "hello.py"), "--port", port, "--workers", str(self.workers)], None
        if self.kind == "sqlite":
            url = f"sqlite:///{self.tmp / 'bench.db'}"
        else:
            self.pg_name = f"gyeol_bench_{uuid.uuid4().hex[:10]}"
            url = create_pg_database(self.pg_name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GYEOL_") and k != "PYTHONPATH"}
        env.update({"GYEOL_DATABASE_URL": url, "GYEOL_TEST_SECRET_KEY": KEY, "GYEOL_LOG_LEVEL": "WARNING",
                    "GYEOL_VAR_DIR": str(self.tmp / "var"), "GYEOL_WORKER": "external",
                    "GYEOL_RATE_LIMIT": "1000000", "PYTHONPATH": str(self.tree.src), **self.extra})
        self.env, self.database_url = env, url
        return [self.tree.python, "-c", SERVE, "serve", "--port", port, "--workers", str(self.workers)], env

    def cli(self, *args: str, stdin: str | None = None) -> tuple[float, subprocess.CompletedProcess[str]]:
        """A `gyeol` command on this server's store (`gyeol ledger verify`), and how long it took, in seconds;
        `stdin`: what it reads (`--password-stdin`)."""
        assert self.env is not None
        started = time.monotonic()
        done = subprocess.run([self.tree.python, "-c", SERVE, *args], env=self.env, cwd=str(HERE), input=stdin,
                              capture_output=True, text=True)
        return time.monotonic() - started, done

    def start(self) -> Server:
        self.tmp = Path(tempfile.mkdtemp(prefix="gyeol-bench-"))
        cmd, env = self._command()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, env=env, cwd=str(HERE), stdout=out, stderr=subprocess.STDOUT)
        gyeol = self.kind in ("sqlite", "postgres")
        wait_up(f"{self.name} ({self.tree.rev[:12]})" if gyeol else self.name, self.port, self.proc, self.log)
        # Unmeasured: the first requests to a fresh process pay for imports, compiled statements and caches.
        warm = self.load(1, WARMUP, 120)
        if not warm["completed"]:
            raise SystemExit(f"{self.name}: no payment succeeded while warming up: {warm['failures']}\n"
                             f"{tail(self.log, 30)}")
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.pg_name:
            drop_pg_database(self.pg_name)
            self.pg_name = None
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None

    def database_bytes(self) -> int:
        """The store's size on disk: the SQLite file with its write-ahead log, or PostgreSQL's database."""
        assert self.tmp is not None
        if self.kind == "sqlite":
            return sum(p.stat().st_size for p in self.tmp.glob("bench.db*"))
        import sqlalchemy as sa
        from sqlalchemy.engine import make_url

        assert self.pg_name is not None
        admin = sa.create_engine(make_url(PG_ADMIN).set(drivername="postgresql+psycopg"))
        try:
            with admin.connect() as conn:
                return int(conn.execute(sa.text("SELECT pg_database_size(:n)"), {"n": self.pg_name}).scalar_one())
        finally:
            admin.dispose()

    def __enter__(self) -> Server:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def load(self, concurrency: int, count: int, seconds: float, window: int = 0,
             scenario: str | None = None) -> dict[str, Any]:
        assert self.proc is not None
        key = PEER_KEY if self.kind == "localstripe" else KEY
        out = subprocess.run([PY, str(HERE / "load.py"), "--base", f"http://127.0.0.1:{self.port}", "--scenario",
                              scenario or self.scenario, "--concurrency", str(concurrency), "--count", str(count),
                              "--seconds", str(seconds), "--key", key, "--pid", str(self.proc.pid),
                              "--window", str(window)], capture_output=True, text=True)
        if out.returncode != 0:
            raise SystemExit(f"bench/load.py failed against {self.name}:\n{out.stderr[-3000:]}")
        result: dict[str, Any] = json.loads(out.stdout)
        result["target"] = self.name
        result["requested"] = count
        if result["errors"] or result.get("opening_errors"):
            result["server_log_tail"] = tail(self.log, 40)
        return result


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def write_results(prefix: str, payload: dict[str, Any]) -> Path:
    out = HERE / "results" / time.strftime(f"{prefix}%Y%m%d-%H%M%S.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"cpu": cpu_model(), **payload}, indent=2))
    return out


def p99(result: dict[str, Any]) -> float:
    """The p99 of the payment's first request (create+confirm), or of the only kind there is (hello)."""
    kinds = result["latency_ms"]
    lat = kinds.get("create+confirm") or next(iter(kinds.values()), {"p99": 0.0})
    return float(lat["p99"])


def p50(result: dict[str, Any]) -> float:
    kinds = result["latency_ms"]
    lat = kinds.get("create+confirm") or next(iter(kinds.values()), {"p50": 0.0})
    return float(lat["p50"])


def errors(result: dict[str, Any]) -> int:
    return int(result["errors"]) + int(result.get("opening_errors", 0))
