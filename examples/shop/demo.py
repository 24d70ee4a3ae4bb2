"""`make demo`: Gyeol (as `make run` starts it: SQLite in ./var, the sandbox PG, key test_sk_dummy, the Toss
simulator) and the example shop next to it, both on 127.0.0.1. Prints the shop's URL; Ctrl-C stops both.

The shop holds two merchants: the default one (key test_sk_dummy) on the sandbox PG, whose buyers pay in Gyeol's
checkout, and `toss-shop`, whose PG is Toss (played by the simulator, which Gyeol calls as it would call Toss), whose
buyers pay in Toss's window. The second is made with the `gyeol merchants` commands once Gyeol is up."""

from __future__ import annotations

import json
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
TOSS_MERCHANT = "toss-shop"
TOSS_KEY_AT_SIM = "test_sk_gyeol_demo_toss"  # the merchant's key at "Toss": the simulator takes any test_sk_ key


def gyeol_cli(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(BIN / "gyeol"), *args], env=env, capture_output=True, text=True, timeout=60)
    if check and done.returncode != 0:
        sys.exit(f"gyeol {' '.join(args)} failed: {done.stderr or done.stdout}")
    return done


def toss_merchant_key(env: dict[str, str]) -> str:
    """A Gyeol secret key of the shop's merchant whose PG is Toss: the merchant is made on the first run, and a key
    is shown once, so a later run (./var kept) makes it a new one."""
    made = gyeol_cli(env, "merchants", "create", "--name", TOSS_MERCHANT, check=False)
    if made.returncode == 0:
        key = str(json.loads(made.stdout)["testSecretKey"])
    else:
        key = str(json.loads(gyeol_cli(env, "keys", "create", "--merchant", TOSS_MERCHANT).stdout)["secretKey"])
    gyeol_cli(env, "merchants", "set-pg", "--merchant", TOSS_MERCHANT, "--toss-secret-key", TOSS_KEY_AT_SIM)
    return key


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
                 "GYEOL_PORT": str(gyeol_port), "GYEOL_PUBLIC_URL": gyeol_url,
                 "GYEOL_TOSS_BASE_URL": f"{gyeol_url}/sandbox/toss"}
    gyeol = subprocess.Popen([str(BIN / "gyeol"), "serve", "--host", "127.0.0.1", "--port", str(gyeol_port)],
                             env=gyeol_env)
    procs = [gyeol]
    try:
        wait_ready(f"{gyeol_url}/readyz", gyeol, "gyeol serve")
        shop_env = {**os.environ, "SHOP_GYEOL_URL": gyeol_url, "SHOP_SECRET_KEY": "test_sk_dummy",
                    "SHOP_TOSS_SECRET_KEY": toss_merchant_key(gyeol_env), "SHOP_PUBLIC_URL": shop_url}
        shop = subprocess.Popen([sys.executable, str(HERE / "shop.py"), "--port", str(shop_port)], env=shop_env)
        procs.insert(0, shop)
        wait_ready(f"{shop_url}/healthz", shop, "the shop")
        print(f"\n  Gyeol:  {gyeol_url}  (key test_sk_dummy, sandbox PG, Toss simulator at /sandbox/toss)"
              f"\n          merchant {TOSS_MERCHANT}: its PG is Toss (the simulator)"
              f"\n  Shop:   {shop_url}\n\n  Open {shop_url} in a browser. Ctrl-C stops both.\n", flush=True)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    main()
