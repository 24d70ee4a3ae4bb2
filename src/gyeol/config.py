"""Settings: every GYEOL_* variable, read once by the process entry point, never at import."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GYEOL_", extra="ignore")

    env: Literal["development", "production", "test"] = "production"
    database_url: str = "sqlite:///./var/gyeol.db"
    var_dir: Path = Path("./var")
    host: str = "127.0.0.1"
    port: int = 9090
    workers: int = 1
    public_url: str = ""
    auto_migrate: bool = True
    test_secret_key: str | None = None
    log_level: str = "INFO"
    log_json: bool = True

    # Sensitive routes: tokens per second per API key, bucket depth = 2 s worth.
    rate_limit: float = 5000.0
    idempotency_ttl_hours: int = 24
    idempotency_lease_seconds: int = 60
    max_body_bytes: int = 1024 * 1024
    intent_ttl_minutes: int = 60

    pg_timeout_seconds: float = 10.0
    sandbox_latency_ms: int = 0
    sandbox_webhook_secret: str | None = None
    key_hash_secret: str | None = None
    encryption_keys: str | None = Field(default=None)

    # Toss Payments: the default merchant's secret key (others use `gyeol merchants set-pg`), Toss's address, and
    # the built-in simulator mounted at /sandbox/toss.
    toss_secret_key: str | None = None
    toss_base_url: str = "https://api.tosspayments.com"
    toss_sim: bool = False
    toss_sim_webhook_url: str | None = None
    toss_sim_retry_unit_seconds: float = 60.0

    # Users' JWTs for the default merchant (others use `gyeol merchants set-jwt`).
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    # Events: the broker the outbox relay publishes to (nats://, redis://, kafka://), and the background jobs.
    event_broker_url: str | None = None
    worker: Literal["embedded", "external"] = "embedded"  # `gyeol serve` runs the jobs in-process unless external
    worker_interval: float = 1.0
    webhook_retry_scale: float = 1.0  # multiplies the retry schedule (tests shorten it)
    webhook_lease_seconds: float = 60.0
    webhook_timeout_seconds: float = 10.0

    # How long an issued virtual account waits for its deposit: "72h", "3d", "90m" or a number of hours.
    va_ttl: str = "72h"

    def va_ttl_delta(self) -> timedelta:
        match = re.fullmatch(r"\s*(\d+)\s*([dhms]?)\s*", self.va_ttl)
        if match is None:
            raise ValueError("GYEOL_VA_TTL is a number with an optional unit d, h, m or s, e.g. 72h")
        unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "hours"}[match.group(2)]
        return timedelta(**{unit: int(match.group(1))})

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
