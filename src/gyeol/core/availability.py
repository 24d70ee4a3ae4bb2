"""When the database, not the request, is what failed: the one error every face answers with then."""

from __future__ import annotations

from gyeol.core.errors import DomainError
from gyeol.db.engine import database_unreachable


def unavailable(exc: BaseException) -> DomainError | None:
    """The retryable 503 for a request that the database cut off (a dropped connection, a restart, a pool with no
    free connection); None when `exc` is anything else. A retry of its Idempotency-Key resumes what it committed."""
    if not database_unreachable(exc):
        return None
    return DomainError("unavailable", "DATABASE_UNAVAILABLE", "The database cannot be reached right now; retry "
                       "shortly.", headers={"Retry-After": "1"})
