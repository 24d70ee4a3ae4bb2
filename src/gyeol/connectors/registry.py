"""Which PG serves a flow. Test-mode merchants go to the sandbox; a live key never does."""

from __future__ import annotations

from gyeol.connectors.base import Connector
from gyeol.core.errors import DomainError


class Connectors:
    def __init__(self, sandbox: Connector) -> None:
        self.sandbox = sandbox
        self._by_name: dict[str, Connector] = {sandbox.name: sandbox}

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
