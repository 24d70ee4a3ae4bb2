"""Work that a crashed process left open under an idempotency key, carried on within seconds of its process being
gone: each server process looks at every heartbeat. A payment's open attempt and a pending refund are sent to the
PG again under their own idempotency key (never charged or refunded twice), and the key is freed for its client's
retry, which then answers from what was settled."""

from __future__ import annotations

from gyeol.core.errors import DomainError
from gyeol.core.idempotency import IdempotencyStore
from gyeol.core.payments.service import PaymentService
from gyeol.core.refunds.service import RefundService


async def carry_on_orphans(store: IdempotencyStore, payments: PaymentService, refunds: RefundService) -> int:
    carried = 0
    for key in await store.orphans():
        if not await store.free(key):
            continue  # a retry took the key over meanwhile: it carries the work on itself
        try:
            if key["resource_type"] == "payment":
                await payments.carry_on(key["resource_id"])
            else:
                await refunds.carry_on(key["resource_id"])
        except DomainError:
            pass  # the PG refused or did not answer: the retry, or the reconciler, answers from there
        carried += 1
    return carried
