"""Real `gyeol` processes for tests: servers on free ports, CLI runs, all with their own environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from conftest import WEBHOOK_SECRET

GYEOL = str(Path(sys.executable).with_name("gyeol"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def gyeol_env(db_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GYEOL_")}
    env.update({"GYEOL_DATABASE_URL": db_url, "GYEOL_VAR_DIR": str(var_dir), "GYEOL_ENV": "test",
                "GYEOL_KEY_HASH_SECRET": "test-key-hash-secret", "GYEOL_SANDBOX_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "GYEOL_LOG_LEVEL": "WARNING", "GYEOL_WORKER": "external"})
    env.update(extra)
    return env


def run_cli(args: list[str], env: dict[str, str], check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([GYEOL, *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    if check and done.returncode != 0:
        raise AssertionError(f"gyeol {' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done


class Server:
    """`gyeol serve` on a free port, or on `port` (a server started again where a killed one listened)."""

    def __init__(self, env: dict[str, str], *args: str, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "GYEOL_PUBLIC_URL": self.url}
        # Its output goes to a file, not a pipe: a server that logs much while nobody reads (a fault test's many
        # 503s) would otherwise block on a full pipe.
        self._log = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([GYEOL, "serve", "--port", str(self.port), *args], env=env,
                                     stdout=self._log, stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited: {self.output()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"server not ready: {self.output()}")

    def output(self) -> str:
        """What the server has written so far."""
        self._log.seek(0)
        return self._log.read()

    def kill(self) -> None:
        """SIGKILL, as a crash or the OOM killer ends a process: no shutdown of any kind."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def stop(self) -> str:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.output()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_worker(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`gyeol worker` running until stopped; its output on stdout."""
    return subprocess.Popen([GYEOL, "worker", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
