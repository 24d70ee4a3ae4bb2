"""The OpenAPI document is the contract (issue 28, part 1): schemathesis 4 runs every check (`--checks all`: each
status documented in the face's error format, each schema-valid request accepted and each invalid one refused,
405 with `Allow` for an undeclared method, authentication enforced, links followed in the stateful phase) against
a real server, started as `make run` starts it but in production with the Toss simulator. It runs once as the
merchant (Basic auth with its secret key) and once as a signed-in user (a JWT), and ends with 0 failures and no
traceback in the server's log.

`make fuzz` runs the same longer: FUZZ_EXAMPLES examples per operation, once for each seed in FUZZ_SEEDS.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from conftest import Env
from faces import assert_face_error, face_of
from procs import Server, gyeol_env

SECRET_KEY = "test_sk_contract"
JWT_SECRET = "contract-jwt-secret-0123456789abcdef0123"
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
SEEDS = [int(s) for s in os.environ.get("FUZZ_SEEDS", "28").split(",")]

ROOT = Path(__file__).resolve().parent.parent
# Who runs which operations. The merchant: every operation but the shopping face's, which takes users' tokens only.
# The user: what only a user's token does (the shopping face, a user's own payments); the operations both may call
# are the merchant's run's.
AS_MERCHANT = ["--auth", f"{SECRET_KEY}:", "--exclude-path-regex", "^/api/shopping/"]
USER_PATHS = "^/api/shopping/|^/api/v1/payments(/me)?$"


def user_token() -> str:
    now = int(time.time())
    claims = {"sub": "contract-user", "roles": ["USER", "ADMIN"], "iat": now, "exp": now + 3600}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make run`'s server (SQLite, the embedded worker, the sandbox PG and the Toss simulator), in production.

    The per-address limit of the routes without a key is off: schemathesis sends more than a buyer's browser does,
    and the limit has its own tests (tests/test_abuse.py)."""
    home = tmp_path_factory.mktemp("contract")
    env = gyeol_env(f"sqlite:///{home / 'gyeol.db'}", home / "var", GYEOL_ENV="production", GYEOL_TOSS_SIM="true",
                    GYEOL_TEST_SECRET_KEY=SECRET_KEY, GYEOL_JWT_SECRET=JWT_SECRET, GYEOL_WORKER="embedded",
                    GYEOL_RATE_LIMIT_PUBLIC="0", GYEOL_LOG_LEVEL="INFO")
    with Server(env) as s:
        s.wait_ready()
        yield s


def schemathesis(server: Server, seed: int, *who: str) -> subprocess.CompletedProcess[str]:
    """The CLI, from the checkout (the config names its hooks by their path there)."""
    args = [sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(CONFIG), "run",
            f"{server.url}/openapi.json", "--checks", "all", "--seed", str(seed), "--max-examples", str(EXAMPLES),
            "--phases", "examples,coverage,fuzzing,stateful", *who]
    return subprocess.run(args, capture_output=True, text=True, timeout=3600, cwd=ROOT)


@pytest.mark.parametrize("who", ["merchant", "user"])
def test_every_operation_answers_as_its_document_says(server: Server, who: str) -> None:
    auth = AS_MERCHANT if who == "merchant" else [
        "--header", f"Authorization: Bearer {user_token()}", "--include-path-regex", USER_PATHS]
    for seed in SEEDS:
        started = time.monotonic()
        done = schemathesis(server, seed, *auth)
        print(f"schemathesis as the {who}, seed {seed}, {EXAMPLES} examples: {time.monotonic() - started:.0f} s")
        assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
        assert re.search(r"\b(\d+) generated, \1 passed\b", done.stdout), done.stdout[-5000:]  # every case passed
    assert httpx.get(server.url + "/readyz").status_code == 200
    log = server.output()
    assert "Traceback" not in log and "unhandled_error" not in log, log[-10000:]


FORMATS = {"native": "Error", "kiosk": "TossError", "shop": "ShopError", "shopping": "ShoppingError"}


async def test_the_document_lists_each_error_in_its_face_format_and_no_page(env: Env) -> None:
    doc = (await env.client_for().get("/openapi.json")).json()
    assert [p for p in doc["paths"] if p.startswith(("/checkout", "/receipts", "/sandbox/", "/assets", "/favicon"))] \
        == []
    assert not {"HTTPValidationError", "ValidationError"} & set(doc["components"]["schemas"])
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            errors = {int(s): r for s, r in op["responses"].items() if int(s) >= 400}
            assert {400, 408, 413, 503} <= set(errors), (method, path, sorted(errors))
            if op.get("security"):
                assert {401, 403} <= set(errors), (method, path)
            if "{" in path:
                assert 404 in errors, (method, path)
            if path.startswith(("/api/", "/v1/")):
                ref = {"$ref": f"#/components/schemas/{FORMATS[face_of(path)]}"}
                assert [s for s, r in errors.items() if r["content"]["application/json"]["schema"] != ref] == [], \
                    (method, path)
    intent = doc["paths"]["/api/v1/payments/intent"]["post"]
    assert {402, 409, 415, 422, 429, 502, 504} <= {int(s) for s in intent["responses"]}
    links = intent["responses"]["200"]["links"]
    assert links["RefundPayment"]["requestBody"] == {"paymentId": "$response.body#/paymentId"}
    assert links["GetPayment"]["operationId"] == doc["paths"]["/api/v1/payments/{payment_id}"]["get"]["operationId"]


@pytest.mark.parametrize("method,path,allow", [
    ("PUT", "/api/v1/payments", "GET, POST"),
    ("OPTIONS", "/api/v1/payments/intent", "POST"),
    ("DELETE", "/api/v1/payments/pay_x", "GET"),
    ("PATCH", "/v1/payments/pk_x", "GET"),
    ("DELETE", "/v1/payments/confirm", "POST"),
    ("GET", "/api/payments/confirm", "POST"),
    ("DELETE", "/api/shopping/payments/P1", "GET"),
])
async def test_an_undeclared_method_is_405_with_allow_in_its_face_format(env: Env, method: str, path: str,
                                                                        allow: str) -> None:
    r = await env.client.request(method, path, json={"orderId": "o-1"} if method != "GET" else None)
    assert_face_error(path, r, 405)
    assert r.headers["allow"] == allow
