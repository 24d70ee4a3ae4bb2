"""An event in the outbox: written with the change it tells of, published and fanned out by the relay. Its payload
is fixed when it is written (`outbox.add`). The columns of `models.outbox_events`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class Event(Record):
    seq: int  # commit order
    id: str
    merchant_id: str
    livemode: bool
    type: str
    resource_id: str | None
    payload: dict[str, Any]  # {id, type, createdAt, merchantId, data: {object}}
    published_at: datetime | None
    created_at: datetime
