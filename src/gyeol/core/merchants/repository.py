"""SQL for a merchant's settings, read inside other resources' transactions (a settlement's fees, a PG's keys)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from gyeol.db import sql
from gyeol.db.engine import Conn
from gyeol.models import merchants

SETTINGS = sa.select(merchants.c.settings).where(merchants.c.id == sa.bindparam("id"))


async def settings(conn: Conn, merchant_id: str) -> dict[str, Any]:
    """The merchant's settings; empty when it has none."""
    found = await sql.one(conn, SETTINGS, {"id": merchant_id})
    return dict((found or {}).get("settings") or {})
