"""A merchant's webhook endpoint and one event's delivery to it. The columns of `models.webhook_endpoints` and
`models.webhook_deliveries`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gyeol.core.records import Record


@dataclass(frozen=True, slots=True)
class WebhookEndpoint(Record):
    id: str
    merchant_id: str
    livemode: bool
    url: str
    events: list[str]  # event types, or "*"
    description: str | None
    secret: str  # encrypted at rest
    previous_secret: str | None  # signs beside the new one until it expires
    previous_secret_expires_at: datetime | None
    enabled: bool
    failing_since: datetime | None
    disabled_reason: str | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class WithSecret:
    """An endpoint with its secret in clear: shown once, on creation and on rotation."""

    endpoint: WebhookEndpoint
    secret: str


@dataclass(frozen=True, slots=True)
class WebhookDelivery(Record):
    id: str
    merchant_id: str
    livemode: bool
    endpoint_id: str
    event_id: str
    event_type: str
    status: str  # pending -> succeeded | dead
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_response_excerpt: str | None
    delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime
