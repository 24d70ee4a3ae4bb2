"""`make demo`: Gyeol (as `make run` starts it: SQLite in ./var, the sandbox PG, key test_sk_dummy, the Toss
simulator) and the example shop next to it, both on 127.0.0.1. Prints the shop's URL; Ctrl-C stops both."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def wait_ready(url: str, proc: subprocess.Popen[bytes], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:  # noqa: S310 (a loopback URL of our own)
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    sys.exit(f"{what} did not answer {url} within {timeout:.0f}s")


def _stop(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    gyeol_port = int(os.environ.get("GYEOL_PORT", "9090"))
    shop_port = int(os.environ.get("SHOP_PORT", "9080"))
    gyeol_url = f"http://127.0.0.1:{gyeol_port}"
    shop_url = f"http://127.0.0.1:{shop_port}"
    signal.signal(signal.SIGTERM, _stop)
    gyeol_env = {"GYEOL_LOG_LEVEL": "WARNING", **os.environ, "GYEOL_TEST_SECRET_KEY": "test_sk_dummy",
                 "GYEOL_ENV": "development", "GYEOL_TOSS_SIM": "true", "GYEOL_HOST": "127.0.0.1",
                 "GYEOL_PORT": str(gyeol_port), "GYEOL_PUBLIC_URL": gyeol_url}
    shop_env = {**os.environ, "SHOP_GYEOL_URL": gyeol_url, "SHOP_SECRET_KEY": "test_sk_dummy",
                "SHOP_PUBLIC_URL": shop_url}
    gyeol = subprocess.Popen([str(BIN / "gyeol"), "serve", "--host", "127.0.0.1", "--port", str(gyeol_port)],
                             env=gyeol_env)
    shop = subprocess.Popen([sys.executable, str(HERE / "shop.py"), "--port", str(shop_port)], env=shop_env)
    try:
        wait_ready(f"{gyeol_url}/readyz", gyeol, "gyeol serve")
        wait_ready(f"{shop_url}/healthz", shop, "the shop")
        print(f"\n  Gyeol:  {gyeol_url}  (key test_sk_dummy, sandbox PG, Toss simulator at /sandbox/toss)"
              f"\n  Shop:   {shop_url}\n\n  Open {shop_url} in a browser. Ctrl-C stops both.\n", flush=True)
        while gyeol.poll() is None and shop.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in (shop, gyeol):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (shop, gyeol):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
