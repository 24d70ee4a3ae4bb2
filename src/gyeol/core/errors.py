"""The one domain error type. Each face renders it in its own format."""

from __future__ import annotations

from typing import Any, Literal

Kind = Literal[
    "validation",
    "authentication",
    "permission",
    "not_found",
    "conflict",
    "processing",
    "gateway",
    "idempotency",
    "rate_limit",
    "unavailable",
    "internal",
]

STATUS_BY_KIND: dict[str, int] = {
    "validation": 400,
    "authentication": 401,
    "permission": 403,
    "not_found": 404,
    "conflict": 409,
    "processing": 402,
    "gateway": 502,
    "idempotency": 409,
    "rate_limit": 429,
    "unavailable": 503,
    "internal": 500,
}


class DomainError(Exception):
    def __init__(
        self,
        kind: Kind,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.kind = kind
        self.code = code
        self.message = message
        self.details = details or {}
        self.status = status or STATUS_BY_KIND[kind]
        self.headers = headers or {}


def not_found(what: str, ident: str) -> DomainError:
    return DomainError("not_found", "NOT_FOUND", f"No such {what}: '{ident}'.", details={what + "Id": ident})
