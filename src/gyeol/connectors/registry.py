"""Which PG serves a flow. Test-mode merchants go to the sandbox; a live key never does."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gyeol.connectors.base import Connector
from gyeol.core.errors import DomainError

if TYPE_CHECKING:
    from gyeol.connectors.sandbox.connector import SandboxConnector
    from gyeol.connectors.toss.connector import TossConnector


class Connectors:
    def __init__(self, sandbox: SandboxConnector, toss: TossConnector | None = None) -> None:
        self.sandbox = sandbox
        self.toss = toss
        self._by_name: dict[str, Connector] = {sandbox.name: sandbox}
        if toss is not None:
            self._by_name[toss.name] = toss

    async def keyed_for(self, merchant_id: str, livemode: bool) -> SandboxConnector | TossConnector:
        """The PG of a paymentKey flow: Toss where the merchant has Toss credentials, else the sandbox."""
        if self.toss is not None and await self.toss.configured(merchant_id):
            return self.toss
        if livemode:
            raise DomainError("conflict", "LIVE_PG_NOT_CONFIGURED",
                              "No live Toss credentials are configured; live keys never reach the sandbox.")
        return self.sandbox

    def register(self, connector: Connector) -> None:
        self._by_name[connector.name] = connector

    def by_name(self, name: str) -> Connector:
        return self._by_name[name]

    def for_payment(self, livemode: bool, method_type: str) -> Connector:
        """The PG for a flow. Card data, tokens and saved methods need the card-capable PG."""
        if livemode:
            raise DomainError("conflict", "LIVE_PG_NOT_CONFIGURED",
                              "No live card PG is configured; live keys never reach the sandbox.")
        return self.sandbox
