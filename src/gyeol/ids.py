"""Object ids carry a type prefix, as Stripe's do, then 24 hex digits: the creation time in milliseconds and 48
random bits. Time first, so that a table's id index grows at its right edge (an insert dirties the page the last
one did, not a random one) and ids sort by age, like ULIDs and UUIDv7."""

from __future__ import annotations

import os
import time


def new_id(prefix: str) -> str:
    return f"{prefix}_{time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF:012x}{os.urandom(6).hex()}"
