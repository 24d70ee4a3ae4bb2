"""What the `gyeol` commands check before they start: the var directory, the database, the port to listen on.

Each failure is a StartupError of one line that says what failed and what to check; the CLI prints it and exits,
with no traceback and, for `gyeol serve`, before its "Gyeol on …" banner.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from gyeol.config import Settings, safe_url

CONNECT_TIMEOUT_S = 5


class StartupError(Exception):
    pass


class UnusableSetting(StartupError):
    """A setting that is well formed but cannot be used here (a directory that cannot be made)."""


def var_dir(settings: Settings) -> None:
    """The directory for the secrets Gyeol generates when they are not configured (`secrets_store`)."""
    if settings.key_hash_secret and settings.encryption_keys and settings.sandbox_webhook_secret:
        return  # nothing will be generated into it
    path = settings.var_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        if not os.access(path, os.W_OK | os.X_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as exc:
        raise UnusableSetting(f"GYEOL_VAR_DIR={path} cannot be made or written ({exc.strerror or exc}): it takes a "
                           "directory Gyeol can create and write.") from None


def sqlite_writable(url: str) -> None:
    """A SQLite database's file, when it exists, and its directory can be written: SQLite writes the file and,
    beside it, its journal (`-wal`, `-shm`). A read-only one would let the server start and fail every write."""
    from gyeol.db.engine import sqlite_file

    path = sqlite_file(url)
    if path is None:
        return
    file = Path(path).absolute()
    for target, what, mode in ((file, "file", os.W_OK), (file.parent, "directory", os.W_OK | os.X_OK)):
        if target.exists() and not os.access(target, mode):
            raise UnusableSetting(f"GYEOL_DATABASE_URL={safe_url(url)}: the SQLite {what} {target} is not writable; "
                                  "Gyeol writes its database and its journal there: make it writable by this user, "
                                  "or choose another path.")


def database(url: str) -> None:
    """One connection and `SELECT 1`: the database is there and lets this user in."""
    import sqlalchemy as sa
    from sqlalchemy.exc import DBAPIError

    from gyeol.db.engine import ensure_sqlite_dir, sync_url

    try:
        ensure_sqlite_dir(url)
    except OSError as exc:
        raise UnusableSetting(f"GYEOL_DATABASE_URL={safe_url(url)}: the SQLite file's directory cannot be made "
                           f"({exc.strerror or exc}).") from None
    connect_args = {} if url.startswith("sqlite") else {"connect_timeout": CONNECT_TIMEOUT_S}
    engine = sa.create_engine(sync_url(url), connect_args=connect_args)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except DBAPIError as exc:
        raise StartupError(f"Cannot use the database at {safe_url(url)} ({_first_line(exc.orig)}). Check that it "
                           "is running and reachable from here, that it accepts this user, and "
                           "GYEOL_DATABASE_URL.") from None
    finally:
        engine.dispose()


def migrate(url: str) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError

    from gyeol.db.migrate import upgrade

    try:
        upgrade(url)
    except (DBAPIError, CommandError) as exc:
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        raise StartupError(f"Migrating the database at {safe_url(url)} failed ({_first_line(cause)}).") from None


def port(host: str, number: int) -> None:
    """The address can be listened on now. The server binds it again a moment later; this check is what lets it
    fail before it says it is up."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, number, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        raise StartupError(f"Cannot listen on {host}:{number} ({exc.strerror or exc}): another process may be "
                           "using it; choose another with --port or GYEOL_PORT, or another GYEOL_HOST.") from None


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
