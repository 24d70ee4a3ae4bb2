"""An injectable clock, so that time windows are tested without sleeping."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")  # Korean days: payout dates, payment numbers


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    return _iso(dt)


# A payment's views and events show the same few instants (its `now`) again and again.
@functools.lru_cache(maxsize=256)
def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
