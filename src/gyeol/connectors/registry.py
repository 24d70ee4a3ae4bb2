"""Which connector serves a flow. The first connector given is the default: the PG of test-mode payments that no
merchant's own PG account claims. A live key never reaches it."""

from __future__ import annotations

from gyeol.connectors.base import Connector
from gyeol.core.errors import DomainError


class Connectors:
    def __init__(self, default: Connector, *others: Connector) -> None:
        self.default = default
        self._by_name: dict[str, Connector] = {c.name: c for c in (default, *others)}

    def by_name(self, name: str) -> Connector:
        return self._by_name[name]

    def get(self, name: str) -> Connector | None:
        return self._by_name.get(name)

    def for_payment(self, livemode: bool, method_type: str) -> Connector:
        """The PG for card data, tokens, saved methods, bank transfers and virtual accounts."""
        if livemode:
            raise DomainError("conflict", "LIVE_PG_NOT_CONFIGURED",
                              "No live card PG is configured; live keys never reach the sandbox.")
        return self.default

    def without_account(self, livemode: bool) -> Connector:
        """The PG of a paymentKey flow for a merchant with no PG account of its own."""
        if livemode:
            raise DomainError("conflict", "LIVE_PG_NOT_CONFIGURED",
                              "No live PG credentials are configured; live keys never reach the sandbox.")
        return self.default

    async def aclose(self) -> None:
        for connector in self._by_name.values():
            await connector.aclose()
