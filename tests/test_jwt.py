"""Users' JWTs: HS256, RS256/ES256 by public key and by JWKS, per-merchant settings, and the classic attacks."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conftest import Env, make_env
from users import JWT_SECRET, enable_users, token

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def claims(env: Env, sub: str = "alice", **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"sub": sub, "roles": ["USER"], "exp": now + 600, "iat": now, "mid": env.merchant_id, **extra}


async def status(env: Env, tok: str) -> int:
    return (await env.client_for(tok).get("/api/v1/payments/me")).status_code


async def test_hs256_accepted_and_attacks_refused(env: Env) -> None:
    await enable_users(env)
    assert await status(env, token(env, "alice")) == 200
    # alg: none
    unsigned = jwt.encode(claims(env), None, algorithm="none")
    assert await status(env, unsigned) == 401
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims(env)).encode()).rstrip(b"=").decode()
    assert await status(env, f"{header}.{body}.") == 401
    # expired, bad signature, missing sub, missing exp
    assert await status(env, token(env, "alice", ttl=-120)) == 401
    assert await status(env, token(env, "alice", secret="another-secret-of-someone-else-0123")) == 401
    good = token(env, "alice")
    assert await status(env, good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")) == 401
    assert await status(env, jwt.encode({k: v for k, v in claims(env).items() if k != "sub"}, JWT_SECRET)) == 401
    assert await status(env, jwt.encode({k: v for k, v in claims(env).items() if k != "exp"}, JWT_SECRET)) == 401
    # RS256 signed by someone's private key is not accepted by an HS256-only merchant
    assert await status(env, jwt.encode(claims(env), RSA_KEY, algorithm="RS256")) == 401


async def test_algorithm_confusion_with_a_public_key(env: Env) -> None:
    public = pem(RSA_KEY)
    await env.svc.merchants.update_settings(env.merchant_id, {"jwt": {"publicKey": public}})
    env.svc.users.forget()
    assert await status(env, jwt.encode(claims(env), RSA_KEY, algorithm="RS256")) == 200
    # HS256 "signed" with the public key as the secret: the classic confusion attack
    forged_header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")
    forged_body = base64.urlsafe_b64encode(json.dumps(claims(env)).encode()).rstrip(b"=")
    import hashlib
    import hmac
    sig = hmac.new(public.encode(), forged_header + b"." + forged_body, hashlib.sha256).digest()
    forged = b".".join([forged_header, forged_body, base64.urlsafe_b64encode(sig).rstrip(b"=")]).decode()
    assert await status(env, forged) == 401
    # another RSA key, and ES256 by a key the merchant does not have
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await status(env, jwt.encode(claims(env), other, algorithm="RS256")) == 401
    assert await status(env, jwt.encode(claims(env), EC_KEY, algorithm="ES256")) == 401


async def test_es256_public_key_and_issuer_audience(env: Env) -> None:
    await env.svc.merchants.update_settings(env.merchant_id, {"jwt": {
        "publicKey": pem(EC_KEY), "issuer": "https://id.acme.test", "audience": "gyeol"}})
    env.svc.users.forget()
    good = claims(env, iss="https://id.acme.test", aud="gyeol")
    assert await status(env, jwt.encode(good, EC_KEY, algorithm="ES256")) == 200
    assert await status(env, jwt.encode({**good, "iss": "https://evil.test"}, EC_KEY, algorithm="ES256")) == 401
    assert await status(env, jwt.encode({**good, "aud": "other"}, EC_KEY, algorithm="ES256")) == 401
    no_iss = {k: v for k, v in good.items() if k != "iss"}
    assert await status(env, jwt.encode(no_iss, EC_KEY, algorithm="ES256")) == 401


@pytest.fixture
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
    payload = json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()


async def test_jwks(env: Env, jwks_url: str) -> None:
    await env.svc.merchants.update_settings(env.merchant_id, {"jwt": {"jwksUrl": jwks_url}})
    env.svc.users.forget()
    assert await status(env, jwt.encode(claims(env), RSA_KEY, algorithm="RS256", headers={"kid": "k1"})) == 200
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert await status(env, jwt.encode(claims(env), other, algorithm="RS256", headers={"kid": "k1"})) == 401
    assert await status(env, jwt.encode(claims(env), other, algorithm="RS256", headers={"kid": "k2"})) == 401


async def test_one_merchant_cannot_mint_for_another(env: Env) -> None:
    await enable_users(env)
    _, _, other_id = await env.new_merchant("other")
    other_secret = "other-merchants-identity-service-secret-42"
    from gyeol.auth.users import JwtConfig
    await env.svc.merchants.update_settings(other_id, {"jwt": JwtConfig(hs256_secret=other_secret).stored(
        env.svc.cipher)})
    env.svc.users.forget()
    # the other merchant's identity service names acme in `mid`: refused, it does not verify with acme's secret
    assert await status(env, token(env, "alice", secret=other_secret)) == 401
    assert await status(env, token(env, "alice", secret=other_secret, mid=other_id)) == 200
    # a merchant that does not exist
    assert await status(env, token(env, "alice", mid="mch_nope")) == 401
    # a token never replaces a merchant key on merchant routes
    r = await env.client_for(token(env, "alice")).post("/api/v1/orders", json={"orderId": "o-1", "amount": 10,
                                                                               "currency": "KRW"})
    assert r.status_code == 403


async def test_default_merchant_from_environment(db_url: str, tmp_path: Path) -> None:
    env = await make_env(db_url, tmp_path, jwt_secret="env-secret-for-the-default-merchant-0001")
    try:
        await env.svc.merchants.create("default")
        now = int(time.time())
        tok = jwt.encode({"sub": "u1", "role": "USER", "exp": now + 60}, "env-secret-for-the-default-merchant-0001")
        assert await status(env, tok) == 200
        # the env secret does not open other merchants
        assert await status(env, token(env, "u1", secret="env-secret-for-the-default-merchant-0001")) == 401
    finally:
        await env.close()


def test_cli_token_verifies(tmp_path: Path) -> None:
    env = {"GYEOL_JWT_SECRET": "cli-secret-0123456789-abcdefghij", "PATH": "/usr/bin:/bin",
           "GYEOL_VAR_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "gyeol.cli", "token", "--sub", "user123", "--role", "ADMIN",
                           "--ttl", "2h"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    decoded = jwt.decode(done.stdout.strip(), "cli-secret-0123456789-abcdefghij", algorithms=["HS256"])
    assert decoded["sub"] == "user123" and decoded["roles"] == ["ADMIN"]
    assert 7000 < decoded["exp"] - decoded["iat"] <= 7200
    helped = subprocess.run([sys.executable, "-m", "gyeol.cli", "--help"], capture_output=True, text=True, env=env,
                            timeout=60)
    assert "token" in helped.stdout
