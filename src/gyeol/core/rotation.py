"""`gyeol keys rotate-data`: re-encrypt every stored secret under the current encryption key.

What is encrypted at rest: bank and virtual account numbers and holders (payment_accounts), customers' billing
details (payment_methods), merchants' PG credentials and JWT secrets (merchant settings), staff's TOTP
secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from gyeol.core.merchants import pg_accounts
from gyeol.core.payments import accounts
from gyeol.models import merchants, payment_methods, staff

if TYPE_CHECKING:
    from gyeol.services import Services


async def rotate_all(svc: Services) -> dict[str, Any]:
    cipher = svc.cipher
    counts = {"paymentAccounts": 0, "billingDetails": 0, "merchantSecrets": 0, "staffSecrets": 0}
    async with svc.db.tx() as conn:
        counts["paymentAccounts"] = await accounts.rotate(conn, cipher)
        rows = (await conn.execute(sa.select(payment_methods.c.id, payment_methods.c.billing_details)
                                   .where(payment_methods.c.billing_details.is_not(None)))).all()
        for r in rows:
            details = dict(r.billing_details or {})
            if "encrypted" in details:
                details["encrypted"] = cipher.rotate(details["encrypted"])
                await conn.execute(payment_methods.update().where(payment_methods.c.id == r.id)
                                   .values(billing_details=details))
                counts["billingDetails"] += 1
        for m in (await conn.execute(sa.select(merchants.c.id, merchants.c.settings))).all():
            settings = dict(m.settings or {})
            changed = False
            pg = pg_accounts.rotated(settings, cipher)
            if pg is not None:
                settings["pg"] = pg
                changed = True
            jwt = settings.get("jwt") or {}
            if jwt.get("hs256Secret"):
                settings["jwt"] = {**jwt, "hs256Secret": cipher.rotate(jwt["hs256Secret"])}
                changed = True
            if changed:
                await conn.execute(merchants.update().where(merchants.c.id == m.id).values(settings=settings))
                counts["merchantSecrets"] += 1
        for member in (await conn.execute(sa.select(staff.c.id, staff.c.totp_secret)
                                          .where(staff.c.totp_secret.is_not(None)))).all():
            await conn.execute(staff.update().where(staff.c.id == member.id)
                               .values(totp_secret=cipher.rotate(member.totp_secret)))
            counts["staffSecrets"] += 1
    return counts
