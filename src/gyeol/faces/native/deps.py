"""Dependencies of the native routes: the services, the caller, rate limits, the sandbox fault header.

Every dependency is `async def`: FastAPI runs a plain `def` one in a worker thread, a hop that these, which only
read the request, do not need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from gyeol.auth.ratelimit import address_of
from gyeol.core.context import Caller
from gyeol.core.errors import DomainError
from gyeol.core.pagination import MAX_PAGE_SIZE
from gyeol.faces.http import raises
from gyeol.services import Services


async def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


# Each dependency below is a leaf that reads the request: FastAPI resolves a nested tree again on every request.
@raises("authentication", "permission")
async def caller(request: Request) -> Caller:
    found = await request.app.state.services.resolve_caller(request.scope)  # kept in the scope: resolved once
    if found is None:
        raise DomainError("authentication", "UNAUTHORIZED",
                          "A valid secret key is required: 'Authorization: Basic base64(<key>:)' or 'Bearer <key>'.")
    if found.is_user and not found.roles:  # the one rule for users' tokens on every face (docs/users.md)
        raise DomainError("permission", "FORBIDDEN", "The token has neither the USER nor the ADMIN role.")
    return found


@raises("authentication", "permission")
async def merchant_caller(request: Request) -> Caller:
    """Routes for the merchant's own server only (not for a user's token)."""
    found = await caller(request)
    if found.user_id is not None:
        raise DomainError("permission", "FORBIDDEN", "This endpoint needs the merchant's secret key.")
    return found


@raises("authentication", "permission", "rate_limit")
async def sensitive(request: Request) -> Caller:
    """Routes that move money or mint keys and tokens: rate-limited per key."""
    found = await caller(request)
    request.app.state.services.rate_limiter.check(found.key_id or found.scope)
    return found


@raises("rate_limit")
async def per_address(request: Request) -> None:
    """Routes that need no key: rate-limited per client address."""
    request.app.state.services.public_limiter.check(address_of(request.scope))


@raises("authentication", "permission")
async def test_mode(request: Request) -> Caller:
    found = await merchant_caller(request)
    if found.livemode:
        raise DomainError("permission", "TEST_MODE_ONLY", "The sandbox is for test keys only.", status=403)
    return found


@raises("processing", "gateway")  # the routes that take a fault are those that call the PG
async def fault(request: Request) -> str | None:
    value = request.headers.get("gyeol-sandbox-fault")
    if value is None or (await caller(request)).livemode:
        return None
    if value not in ("timeout", "error", "slow"):
        raise DomainError("validation", "INVALID_FAULT", "Gyeol-Sandbox-Fault is one of timeout, error, slow.")
    return value


class PageParams:
    def __init__(self, page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                 size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20) -> None:
        self.page = page
        self.size = size


Svc = Annotated[Services, Depends(services)]
AnyCaller = Annotated[Caller, Depends(caller)]
MerchantCaller = Annotated[Caller, Depends(merchant_caller)]
Sensitive = Annotated[Caller, Depends(sensitive)]
TestMode = Annotated[Caller, Depends(test_mode)]
Fault = Annotated[str | None, Depends(fault)]
Paging = Annotated[PageParams, Depends(PageParams)]
PerAddress = Annotated[None, Depends(per_address)]
