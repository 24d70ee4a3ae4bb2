"""SQL for a merchant's settings, read inside other resources' transactions (a settlement's fees, a PG's keys)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from gyeol.db import prepared
from gyeol.db.prepared import Prepared
from gyeol.models import merchants

SETTINGS = Prepared(sa.select(merchants.c.settings).where(merchants.c.id == sa.bindparam("id")))


async def settings(conn: AsyncConnection, merchant_id: str) -> dict[str, Any]:
    """The merchant's settings; empty when it has none."""
    found = await prepared.fetch_one(conn, SETTINGS, {"id": merchant_id})
    return dict((found or {}).get("settings") or {})
