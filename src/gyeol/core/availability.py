"""When the database, not the request, is what failed: the errors every face answers with then."""

from __future__ import annotations

from gyeol.core.errors import DomainError
from gyeol.db.engine import database_unreachable
from gyeol.db.sqlite import cannot_write


def unavailable(exc: BaseException) -> DomainError | None:
    """The retryable 503 for a request that the database cut off (a dropped connection, a restart, a pool with no
    free connection, a SQLite file that cannot be written); None when `exc` is anything else. What the request's
    failed transaction wrote is rolled back; a retry of its Idempotency-Key resumes what its earlier ones committed."""
    if not database_unreachable(exc):
        return None
    if cannot_write(exc):
        # Not over in a second: someone must free the disk or make the file writable again.
        return DomainError("unavailable", "DATABASE_NOT_WRITABLE", "The database cannot store anything right now (its "
                           "disk is full or read-only); nothing more was changed. Retry later.",
                           headers={"Retry-After": "30"})
    return DomainError("unavailable", "DATABASE_UNAVAILABLE", "The database cannot be reached right now; retry "
                       "shortly.", headers={"Retry-After": "1"})
