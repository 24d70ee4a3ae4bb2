"""Browser tests: real `gyeol serve`, the real example shop, and Debian's Chromium driven by Playwright.

One Gyeol, one shop and one browser for the whole package (they start in a few seconds); a fresh browser context
and page per test, whose last page is saved to test-artifacts/<test>.png whatever the outcome.

/usr/bin/chromium comes from `make test` (apt-get). Where it is missing the tests skip with one loud line, except
under CI=true, where they fail: Playwright's own browser download cannot work on these machines.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe

from procs import GYEOL, free_port, gyeol_env, run_cli

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SHOP = ROOT / "examples" / "shop" / "shop.py"
KEY = "test_sk_dummy"  # the default merchant's: on the sandbox PG, its buyers pay in Gyeol's checkout
TOSS_MERCHANT = "toss-shop"  # the shop's second merchant: its PG is Toss, its buyers pay in Toss's window
TOSS_KEY_AT_SIM = "test_sk_browser_toss"  # that merchant's key at "Toss" (the simulator)
IN_CI = os.environ.get("CI", "").lower() == "true"
SERIOUS = ("serious", "critical")
WATCHDOG_SECONDS = 120
_skip_reason: list[str] = []


class Proc:
    """A server process on a free loopback port, its output kept in a file for the failure message."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], port: int, ready_path: str,
                 log: Path) -> None:
        self.name, self.port, self.env = name, port, env
        self.url = f"http://127.0.0.1:{port}"
        self.ready_url = self.url + ready_path
        self.log = log
        self._out = log.open("w")
        self.proc = subprocess.Popen(args, env=env, stdout=self._out, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}): {self.output()}")
            try:
                if httpx.get(self.ready_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready at {self.ready_url}: {self.output()}")

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._out.close()


@pytest.fixture(scope="package")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        reason = (f"{CHROMIUM} is missing (`make test` installs it with apt-get as root: "
                  f"apt-get update && apt-get install -y chromium)")
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        if not _skip_reason:
            _skip_reason.append(reason)
        pytest.skip(reason)
    return CHROMIUM


@pytest.fixture(scope="package")
def gyeol(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """`gyeol serve`: a temp SQLite db, the sandbox PG, key test_sk_dummy, the Toss simulator at /sandbox/toss,
    which Gyeol calls as Toss (`GYEOL_TOSS_BASE_URL`) for the merchant whose PG is Toss (`toss_merchant_key`)."""
    tmp = tmp_path_factory.mktemp("gyeol")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = gyeol_env(f"sqlite:///{tmp / 'gyeol.db'}", tmp / "var", GYEOL_TEST_SECRET_KEY=KEY, GYEOL_TOSS_SIM="true",
                    GYEOL_PUBLIC_URL=url, GYEOL_TOSS_BASE_URL=f"{url}/sandbox/toss", GYEOL_RATE_LIMIT="1000000")
    p = Proc("gyeol serve", [GYEOL, "serve", "--host", "127.0.0.1", "--port", str(port)], env, port, "/readyz",
             tmp / "gyeol.log")
    try:
        p.wait_ready()
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="package")
def toss_merchant_key(gyeol: Proc) -> str:
    """The Gyeol secret key of the shop's merchant whose PG is Toss, made as an operator would: `gyeol merchants
    create`, then `gyeol merchants set-pg` with its key at Toss (the simulator)."""
    made = run_cli(["merchants", "create", "--name", TOSS_MERCHANT], gyeol.env)
    run_cli(["merchants", "set-pg", "--merchant", TOSS_MERCHANT, "--toss-secret-key", TOSS_KEY_AT_SIM], gyeol.env)
    key: str = json.loads(made.stdout)["testSecretKey"]
    return key


@pytest.fixture(scope="package")
def shop(gyeol: Proc, toss_merchant_key: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    tmp = tmp_path_factory.mktemp("shop")
    port = free_port()
    env = {**os.environ, "SHOP_GYEOL_URL": gyeol.url, "SHOP_SECRET_KEY": KEY,
           "SHOP_TOSS_SECRET_KEY": toss_merchant_key, "SHOP_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    p = Proc("the example shop", [sys.executable, str(SHOP), "--port", str(port)], env, port, "/healthz",
             tmp / "shop.log")
    try:
        p.wait_ready()
        yield p
    finally:
        p.stop()


@pytest.fixture(scope="package")
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    shutil.rmtree(ARTIFACTS, ignore_errors=True)  # this run's screenshots only
    ARTIFACTS.mkdir()
    with sync_playwright() as pw:
        # launch() gives the browser a fresh temporary profile of its own
        b = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh context at a phone's width (375 px) and Korean locale (`@pytest.mark.context(...)` adds options);
    its last page is saved as a PNG. A script error or a Content-Security-Policy violation on any page fails it."""
    marker = request.node.get_closest_marker("context")
    options: dict[str, Any] = {"viewport": {"width": 375, "height": 812}, "locale": "ko-KR",
                               **(marker.kwargs if marker else {})}
    context = browser.new_context(**options)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    problems: list[str] = []
    pg.on("pageerror", lambda err: problems.append(f"script error at {pg.url}: {err}"))
    pg.on("console", lambda msg: problems.append(f"{pg.url}: {msg.text}")
          if msg.type == "error" and "Content Security Policy" in msg.text else None)
    try:
        yield pg
    finally:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            print(f"screenshot of {name} failed: {exc}")
        context.close()
    assert not problems, "\n".join(problems)


@pytest.fixture(autouse=True)
def watchdog() -> Iterator[None]:
    """A browser test that hangs (a call Playwright waits on forever) fails after two minutes instead of eating
    CI's budget."""
    def expired(signum: int, frame: Any) -> None:
        raise TimeoutError(f"browser test still running after {WATCHDOG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(WATCHDOG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def api(gyeol: Proc) -> Iterator[httpx.Client]:
    """Gyeol's API as the shop's server sees it (the secret key of its merchant on the sandbox PG)."""
    with httpx.Client(base_url=gyeol.url, auth=(KEY, ""), timeout=20) as c:
        yield c


@pytest.fixture
def toss_api(gyeol: Proc, toss_merchant_key: str) -> Iterator[httpx.Client]:
    """Gyeol's API with the secret key of the shop's merchant whose PG is Toss."""
    with httpx.Client(base_url=gyeol.url, auth=(toss_merchant_key, ""), timeout=20) as c:
        yield c


@pytest.fixture
def at_toss(gyeol: Proc) -> Iterator[httpx.Client]:
    """Toss's API (the simulator) with that merchant's key at Toss: what Toss itself holds."""
    with httpx.Client(base_url=f"{gyeol.url}/sandbox/toss", auth=(TOSS_KEY_AT_SIM, ""), timeout=20) as c:
        yield c


def assert_accessible(page: Any, what: str) -> None:
    """axe-core (bundled by axe-playwright-python): no serious or critical violations on this page."""
    result = Axe().run(page)
    bad = [v for v in result.response["violations"] if v.get("impact") in SERIOUS]
    assert not bad, f"axe on the {what} page ({page.url}):\n" + "\n".join(
        f"  {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in bad)


def gyeol_order(api: httpx.Client, order_id: str) -> dict[str, Any]:
    r = api.get(f"/api/v1/orders/{order_id}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "context(**options): options for the test's browser context")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _skip_reason:
        terminalreporter.write_line(f"!!! BROWSER TESTS SKIPPED: {_skip_reason[0]} !!!", red=True, bold=True)

