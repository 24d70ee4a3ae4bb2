"""Alembic environment: run by `gyeol migrate` and by `gyeol serve` on start."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from gyeol.models import metadata

config = context.config


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is not None:
        _run(connectable)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            # Several servers may start at once; one migrates, the others wait and find nothing to do.
            conn.execute(sa.text("SELECT pg_advisory_lock(74210)"))
            conn.commit()
        _run(conn)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_unlock(74210)"))
            conn.commit()
    engine.dispose()


def _run(conn: sa.Connection) -> None:
    context.configure(connection=conn, target_metadata=metadata, render_as_batch=conn.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
