"""Settings are checked when `gyeol serve` starts: a bad value stops it with one line that names the variable and
what it accepts, before its banner and without a traceback; an unknown GYEOL_* variable is warned of, never fatal."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from conftest import make_env
from procs import Server, free_port, gyeol_env, run_cli

BAD_SETTINGS = 78  # EX_CONFIG
CANNOT_START = 1
FERNET_KEY = "c2l4dGVlbi1ieXRlcy1rZXk="  # base64 of 16 bytes: Fernet keys are 32


def serve(tmp_path: Path, **extra: str) -> tuple[int, str, str]:
    env = gyeol_env(f"sqlite:///{tmp_path / 'g.db'}", tmp_path / "var", **extra)
    done = run_cli(["serve", "--port", str(free_port())], env, check=False)
    return done.returncode, done.stdout, done.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    return lines[0]


@pytest.mark.parametrize("variable,value,accepts", [
    ("GYEOL_RATE_LIMIT", "-1", "0 or more (0: no limit)"),
    ("GYEOL_INTENT_TTL_MINUTES", "0", "1 or more"),
    ("GYEOL_IDEMPOTENCY_LEASE_SECONDS", "-5", "1 or more"),
    ("GYEOL_DATABASE_URL", "mysql://root:hunter2@localhost/shop", "sqlite:///"),
    ("GYEOL_DATABASE_URL", "postgresql://u:hunter2@localhost:port/x", "postgresql://"),
    ("GYEOL_DATABASE_URL", "not a url", "sqlite:///"),
    ("GYEOL_VA_TTL", "three days", "d, h, m or s"),
    ("GYEOL_ENCRYPTION_KEYS", FERNET_KEY, "Fernet keys"),
    ("GYEOL_WORKERS", "0", "1 or more"),
    ("GYEOL_LOG_LEVEL", "loud", "DEBUG, INFO"),
    ("GYEOL_WORKER", "sometimes", "embedded or external"),
])
def test_a_bad_value_stops_the_server_with_one_line(tmp_path: Path, variable: str, value: str,
                                                    accepts: str) -> None:
    status, stdout, stderr = serve(tmp_path, **{variable: value})
    line = one_line(stderr)
    assert status == BAD_SETTINGS and f"{variable}=" in line and accepts in line, line
    assert "hunter2" not in line and FERNET_KEY not in line  # passwords and keys are never shown
    assert "Gyeol on" not in stdout and not (tmp_path / "g.db").exists()


def test_a_var_directory_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    status, stdout, stderr = serve(tmp_path, GYEOL_VAR_DIR=str(tmp_path / "a-file" / "var"))
    line = one_line(stderr)
    assert status == BAD_SETTINGS and "GYEOL_VAR_DIR=" in line and "a directory Gyeol can create" in line, line
    assert "Gyeol on" not in stdout


def test_a_refused_database_is_one_line_naming_it_without_its_password(tmp_path: Path) -> None:
    url = f"postgresql://gyeol:hunter2@127.0.0.1:{free_port()}/payments"
    status, stdout, stderr = serve(tmp_path, GYEOL_DATABASE_URL=url)
    line = one_line(stderr)
    assert status == CANNOT_START and "Gyeol on" not in stdout
    assert url.replace("hunter2", "***") in line and "hunter2" not in line and "Check that it is running" in line


def test_a_port_in_use_fails_before_the_banner(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = gyeol_env(f"sqlite:///{tmp_path / 'g.db'}", tmp_path / "var")
        done = run_cli(["serve", "--port", str(port)], env, check=False)
    line = one_line(done.stderr)
    assert done.returncode == CANNOT_START and f"127.0.0.1:{port}" in line and "GYEOL_PORT" in line, line
    assert "Gyeol on" not in done.stdout


def test_an_unknown_variable_is_warned_of_and_the_server_starts(tmp_path: Path) -> None:
    env = gyeol_env(f"sqlite:///{tmp_path / 'g.db'}", tmp_path / "var", GYEOL_RATE_LIMT="10")
    s = Server(env)
    try:
        s.wait_ready()
    finally:
        output = s.stop()
    warnings = [line for line in output.splitlines() if "GYEOL_RATE_LIMT" in line]
    assert warnings == ["Warning: GYEOL_RATE_LIMT is not a Gyeol setting and is ignored (did you mean "
                        "GYEOL_RATE_LIMIT?)."]


async def test_rate_limit_0_is_no_limit(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, rate_limit=0)
    try:
        for i in range(5):
            r = await env.client.post("/api/v1/payments/intent", json={"orderId": f"free-{i}", "amount": 100,
                                                                       "currency": "KRW"})
            assert r.status_code == 200, r.text
    finally:
        await env.close()
