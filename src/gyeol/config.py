"""Settings: every GYEOL_* variable, read once by the process entry point, never at import.

Each setting says what it accepts (its `description`): a value outside that stops the process at start-up with one
line naming the variable (`load`), instead of failing later, at a request, in a traceback or not at all.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PREFIX = "GYEOL_"
# Read by the process outside Settings: a test hook (`db.commits`).
HOOKS = frozenset({"GYEOL_TEST_KILL_AFTER_COMMIT"})
# Shown as "***" in an error: a secret's value never reaches a terminal or a log.
SECRETS = frozenset({"test_secret_key", "sandbox_webhook_secret", "key_hash_secret", "encryption_keys",
                     "toss_secret_key", "jwt_secret"})
POSTGRES_DRIVERS = frozenset({"postgresql", "postgres", "postgresql+asyncpg", "postgresql+psycopg",
                              "postgresql+psycopg2"})
BROKER_SCHEMES = ("nats", "tls", "redis", "rediss", "kafka")
_DURATION = re.compile(r"\s*(\d+)\s*([dhms]?)\s*")

Positive = Annotated[int, Field(gt=0)]
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
WEB_URL = "an http:// or https:// address"
SECONDS = "seconds, more than 0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=PREFIX, extra="ignore")

    env: Literal["development", "production", "test"] = Field(
        default="production", description="development, production or test")
    database_url: str = Field(
        default="sqlite:///./var/gyeol.db",
        description="sqlite:///path/to/file.db or postgresql://user:password@host:port/database")
    var_dir: Path = Field(default=Path("./var"), description="a directory Gyeol can create and write")
    host: str = Field(default="127.0.0.1", min_length=1, description="an address to listen on, e.g. 0.0.0.0")
    port: int = Field(default=9090, ge=1, le=65535, description="a TCP port, 1 to 65535")
    workers: Positive = Field(default=1, description="a number of server processes, 1 or more")
    public_url: str = Field(default="", description=f"{WEB_URL} where buyers and webhooks reach Gyeol, or empty")
    auto_migrate: bool = Field(default=True, description="true or false")
    test_secret_key: str | None = Field(default=None, description="a test secret key: test_sk_ and some characters")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING, ERROR or CRITICAL")
    log_json: bool = Field(default=True, description="true or false")
    # The reverse proxies whose X-Forwarded-For names the client (sign-in throttles, per-address limits); a
    # request from anywhere else is the client itself, whatever the header says.
    trusted_proxies: str = Field(default="", description="addresses or networks (CIDR) of reverse proxies, "
                                 "separated by commas, or empty")

    # Sensitive routes: tokens per second per API key, bucket depth = 2 s worth.
    rate_limit: float = Field(default=5000.0, ge=0, allow_inf_nan=False,
                              description="requests per second per API key, 0 or more (0: no limit)")
    # Routes without a key (checkout pay, sandbox pay, receipts): tokens per second per client address, as above.
    rate_limit_public: float = Field(default=20.0, ge=0, allow_inf_nan=False,
                                     description="requests per second per client address, 0 or more (0: no limit)")
    idempotency_ttl_hours: Positive = Field(default=24, description="hours an Idempotency-Key is kept, 1 or more")
    idempotency_lease_seconds: Positive = Field(default=60, description="seconds a request holds its key, 1 or more")
    max_body_bytes: Positive = Field(default=1024 * 1024, description="a body size in bytes, 1 or more")
    # Slow clients: the request line and headers must arrive within the first, the body within the second.
    header_timeout_seconds: Seconds = Field(default=10.0, description=SECONDS)
    body_timeout_seconds: Seconds = Field(default=30.0, description=SECONDS)
    intent_ttl_minutes: Positive = Field(default=60, description="minutes a payment waits for its buyer, 1 or more")
    confirm_ttl_minutes: Positive = Field(default=10, description="minutes a Toss-style payment waits for the "
                                          "merchant's confirm after its buyer authenticated, 1 or more")

    pg_timeout_seconds: Seconds = Field(default=10.0, description=SECONDS)
    sandbox_latency_ms: int = Field(default=0, ge=0, description="milliseconds, 0 or more")
    sandbox_webhook_secret: str | None = Field(default=None, description="a webhook secret: whsec_ and base64")
    key_hash_secret: str | None = None
    encryption_keys: str | None = Field(default=None,
                                        description="Fernet keys separated by commas, the current one first")

    # Toss Payments: the default merchant's secret key (others use `gyeol merchants set-pg`), Toss's address, and
    # the built-in simulator mounted at /sandbox/toss.
    toss_secret_key: str | None = Field(default=None, description="a Toss secret key: test_sk_ or live_sk_ and more")
    toss_base_url: str = Field(default="https://api.tosspayments.com", description=WEB_URL)
    toss_sim: bool = Field(default=False, description="true or false")
    toss_sim_webhook_url: str | None = Field(default=None, description=WEB_URL)
    toss_sim_retry_unit_seconds: Seconds = Field(default=60.0, description=SECONDS)

    # Users' JWTs for the default merchant (others use `gyeol merchants set-jwt`).
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = Field(default=None, description=WEB_URL)
    jwt_issuer: str | None = None
    jwt_audience: str | None = None

    # Events: the broker the outbox relay publishes to (nats://, redis://, kafka://), and the background jobs.
    event_broker_url: str | None = Field(default=None,
                                         description="a nats://, tls://, redis://, rediss:// or kafka:// address")
    # `gyeol serve` runs the jobs in-process unless external
    worker: Literal["embedded", "external"] = Field(default="embedded", description="embedded or external")
    worker_interval: Seconds = Field(default=1.0, description=SECONDS)
    # On SIGTERM: how long requests and jobs in flight may take to finish before they are cut off.
    shutdown_grace_seconds: Seconds = Field(default=30.0, description=SECONDS)
    webhook_retry_scale: Seconds = Field(default=1.0, description="a factor of the retry schedule, more than 0")
    webhook_lease_seconds: Seconds = Field(default=60.0, description=SECONDS)
    webhook_timeout_seconds: Seconds = Field(default=10.0, description=SECONDS)

    # How long an issued virtual account waits for its deposit.
    va_ttl: str = Field(default="72h", description="a number more than 0 with an optional unit d, h, m or s (hours "
                        "by default), e.g. 72h")

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, v: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        try:
            url = make_url(v)
        except (ArgumentError, ValueError):  # not a URL, or its port not a number
            raise ValueError("malformed") from None
        if url.drivername not in POSTGRES_DRIVERS and not url.drivername.startswith("sqlite"):
            raise ValueError("not SQLite or PostgreSQL")
        if url.drivername.startswith("sqlite") and not url.database:
            raise ValueError("a SQLite URL names its file")
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies(cls, v: str) -> str:
        import ipaddress

        for item in (i.strip() for i in v.split(",")):
            if item:
                ipaddress.ip_network(item, strict=False)  # ValueError unless an address or a network
        return v

    def proxies(self) -> list[str]:
        return [i.strip() for i in self.trusted_proxies.split(",") if i.strip()]

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("not a level")
        return v.upper()

    @field_validator("public_url", "toss_base_url", "toss_sim_webhook_url", "jwt_jwks_url")
    @classmethod
    def _web_url(cls, v: str | None) -> str | None:
        if v and (urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).netloc):
            raise ValueError("not an http(s) address")
        return v

    @field_validator("event_broker_url")
    @classmethod
    def _broker_url(cls, v: str | None) -> str | None:
        if v and urlsplit(v).scheme not in BROKER_SCHEMES:
            raise ValueError("unknown broker")
        return v

    @field_validator("test_secret_key")
    @classmethod
    def _test_key(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("test_sk_") or len(v) == len("test_sk_")):
            raise ValueError("not a test key")
        return v

    @field_validator("toss_secret_key")
    @classmethod
    def _toss_key(cls, v: str | None) -> str | None:
        if v and not v.startswith(("test_sk_", "live_sk_")):
            raise ValueError("not a Toss key")
        return v

    @field_validator("sandbox_webhook_secret")
    @classmethod
    def _webhook_secret(cls, v: str | None) -> str | None:
        if v:
            from standardwebhooks.webhooks import Webhook

            try:
                Webhook(v)
            except Exception:  # bad base64 or empty: the library names no one error type
                raise ValueError("not a webhook secret") from None
        return v

    @field_validator("encryption_keys")
    @classmethod
    def _encryption_keys(cls, v: str | None) -> str | None:
        if v:
            from cryptography.fernet import Fernet

            keys = [k.strip() for k in v.split(",") if k.strip()]
            if not keys:
                raise ValueError("no key")
            for k in keys:
                Fernet(k.encode())  # ValueError unless 32 url-safe base64-encoded bytes
        return v

    @field_validator("va_ttl")
    @classmethod
    def _va_ttl(cls, v: str) -> str:
        match = _DURATION.fullmatch(v)
        if match is None or int(match.group(1)) == 0:
            raise ValueError("not a duration")
        return v

    def va_ttl_delta(self) -> timedelta:
        match = _DURATION.fullmatch(self.va_ttl)
        assert match is not None  # checked when the settings were read
        unit = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds", "": "hours"}[match.group(2)]
        return timedelta(**{unit: int(match.group(1))})

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


class SettingsError(Exception):
    """GYEOL_* variables with values Gyeol cannot use: one line each, naming the variable and what it accepts."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines


def load(**overrides: Any) -> Settings:
    """The settings from the environment (and `overrides`, the command line's), or SettingsError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines: list[str] = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else ""
            field = Settings.model_fields.get(name)
            if field is None or any(line.startswith(variable(name) + "=") for line in lines):
                continue
            lines.append(f"{variable(name)}={shown(name, err.get('input'))} is not accepted: it takes "
                         f"{field.description or 'another value'}.")
        raise SettingsError(lines or [str(exc).splitlines()[0]]) from None


def variable(name: str) -> str:
    return PREFIX + name.upper()


def shown(name: str, value: object) -> str:
    if name in SECRETS:
        return "***"
    if name == "database_url" and isinstance(value, str):
        return safe_url(value)
    return repr(value) if isinstance(value, str) and (not value or any(c.isspace() for c in value)) else str(value)


def safe_url(url: str) -> str:
    """A database URL as it may be shown: without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return re.sub(r"//([^:/@]*):[^@]*@", r"//\1:***@", url)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """GYEOL_* variables that no setting reads (a typo, or a setting of another version): one line each."""
    known = {variable(name) for name in Settings.model_fields} | HOOKS
    lines = []
    for name in sorted(k.upper() for k in environ if k.upper().startswith(PREFIX)):
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            lines.append(f"{name} is not a Gyeol setting and is ignored" +
                         (f" (did you mean {close[0]}?)" if close else "") + ".")
    return lines
