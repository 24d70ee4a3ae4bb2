"""The sandbox PG's webhook sender: signed in the Standard Webhooks scheme, like a real PG's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import structlog
from standardwebhooks.webhooks import Webhook

from gyeol.ids import new_id

log = structlog.get_logger(__name__)


class SandboxWebhookSender:
    def __init__(self, secret: str, url: str, client: httpx.AsyncClient | None = None) -> None:
        self.signer = Webhook(secret)
        self.url = url
        self.client = client or httpx.AsyncClient(timeout=10.0)

    def signed(self, type: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        msg_id = new_id("msg")
        # The signature's time is the wall clock the receiver checks it against, whatever Gyeol's business clock
        # says (tests move that one).
        now = datetime.now(UTC)
        body = orjson.dumps({"type": type, "data": data})
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": self.signer.sign(msg_id, now, body.decode()),
        }
        return body, headers

    async def send(self, event_type: str, data: dict[str, Any]) -> bool:
        body, headers = self.signed(event_type, data)
        try:
            response = await self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            # The reconciler looks the outcome up later; nothing is lost.
            log.warning("sandbox_webhook_failed", url=self.url, error=type(exc).__name__)
            return False
        return response.status_code < 300
