"""`gyeol check` and `gyeol backup`: is this installation whole, and a copy of its SQLite database made while it
serves.

`check` runs what `gyeol serve` checks before it starts (`preflight`: the settings, the var directory, the
database) and what it would only find out later: whether the database is at the newest migration, whether the
secrets in the var directory can be read and open what is stored, and whether the event broker answers. Each
result is one line; any failure makes the exit status non-zero.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from gyeol import preflight
from gyeol.config import Settings, safe_url

BROKER_PORTS = {"nats": 4222, "tls": 4222, "redis": 6379, "rediss": 6379, "kafka": 9092}
# Generated into the var directory when not configured (`secrets_store.var_secret`), by the setting that replaces it.
VAR_SECRETS = {"key_hash_secret": "key_hash_secret", "encryption_keys": "encryption_key",
               "sandbox_webhook_secret": "sandbox_webhook_secret"}


@dataclass(frozen=True)
class Result:
    ok: bool
    what: str
    detail: str


def run(settings: Settings) -> list[Result]:
    """Every check, in order; one that reads what an earlier one found broken is left out."""
    results: list[Result] = []
    failed: set[str] = set()
    for what, needs, check in _checks(settings):
        if needs & failed:
            failed.add(what)
            continue
        try:
            detail = check()
        except preflight.StartupError as err:
            results.append(Result(False, what, str(err)))
            failed.add(what)
        else:
            results.append(Result(True, what, detail))
    return results


def _checks(settings: Settings) -> Iterator[tuple[str, set[str], Callable[[], str]]]:
    yield "var directory", set(), lambda: _var_dir(settings)
    yield "database", set(), lambda: _database(settings)
    yield "migrations", {"database"}, lambda: _migrations(settings.database_url)
    yield "secrets", {"var directory", "migrations"}, lambda: _secrets(settings)
    if settings.event_broker_url:
        yield "event broker", set(), lambda: _broker(settings.event_broker_url or "")


def _var_dir(settings: Settings) -> str:
    preflight.var_dir(settings)
    return f"{settings.var_dir} can be written"


def _database(settings: Settings) -> str:
    preflight.database(settings.database_url)
    return f"{safe_url(settings.database_url)} answers"


def _engine(url: str) -> sa.Engine:
    from gyeol.db.engine import sync_url

    return sa.create_engine(sync_url(url))


def _migrations(url: str) -> str:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from gyeol.db.migrate import alembic_config

    newest = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    if current != newest:
        missing = ", ".join(sorted(newest - current)) or "none"
        raise preflight.StartupError(f"The database is not at the newest migration (missing: {missing}); run "
                                     "`gyeol migrate`, or start `gyeol serve` with GYEOL_AUTO_MIGRATE=true.")
    return f"at the newest migration ({', '.join(sorted(newest))})"


def _secrets(settings: Settings) -> str:
    from gyeol.crypto import DataCipher

    has_data = _count(settings.database_url, "SELECT count(*) FROM merchants") > 0
    notes = []
    for setting, name in VAR_SECRETS.items():
        if getattr(settings, setting):
            notes.append(f"GYEOL_{setting.upper()} set")
            continue
        path = settings.var_dir / name
        try:
            value = path.read_text().strip()
        except FileNotFoundError:
            if has_data:
                raise preflight.StartupError(
                    f"GYEOL_{setting.upper()} is not set and {path} is missing, but the database holds merchants: "
                    "what was made under the lost secret cannot be read or verified. Restore the file (it is kept "
                    "beside the database in a backup) or set the variable.") from None
            notes.append(f"{path} will be generated")
            continue
        except OSError as exc:
            raise preflight.StartupError(f"{path} cannot be read ({exc.strerror or exc}).") from None
        if not value:
            raise preflight.StartupError(f"{path} is empty.")
        notes.append(f"{path} read")
    cipher = DataCipher.from_settings(settings.encryption_keys, settings.var_dir) \
        if settings.encryption_keys or (settings.var_dir / "encryption_key").exists() else None
    sample = _first(settings.database_url, "SELECT account_number FROM payment_accounts "
                                           "WHERE account_number IS NOT NULL")
    if cipher is not None and sample is not None:
        try:
            cipher.decrypt(sample)
        except ValueError:
            raise preflight.StartupError("The encryption key (GYEOL_ENCRYPTION_KEYS, else the var directory's "
                                         "encryption_key) does not open the stored account numbers: it is not "
                                         "the key they were stored under.") from None
        notes.append("the encryption key opens what is stored")
    return "; ".join(notes)


def _count(url: str, sql: str) -> int:
    value = _first(url, sql)
    return int(value or 0)


def _first(url: str, sql: str) -> str | None:
    engine = _engine(url)
    try:
        with engine.connect() as conn:
            value = conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()
    return None if value is None else str(value)


def _broker(url: str) -> str:
    parts = urlsplit(url)
    first = urlsplit("//" + parts.netloc.rsplit("@", 1)[-1].split(",")[0])  # the first server named
    host, number = first.hostname or "localhost", first.port or BROKER_PORTS.get(parts.scheme, 0)
    try:
        with socket.create_connection((host, number), timeout=preflight.CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise preflight.StartupError(f"The event broker at {parts.scheme}://{host}:{number} cannot be reached "
                                     f"({exc.strerror or exc}); check GYEOL_EVENT_BROKER_URL.") from None
    return f"{parts.scheme}://{host}:{number} accepts connections"


# --- backup -------------------------------------------------------------------------------------------------------

def backup_sqlite(settings: Settings, target: Path) -> list[str]:
    """Copy the SQLite database to `target` with SQLite's online backup API (a consistent copy while Gyeol writes:
    the copy starts again when a writer changes a page it has copied). Returns warnings for what a restore would
    also need and the copy does not hold."""
    from sqlalchemy.engine import make_url

    source = Path(make_url(settings.database_url).database or "")
    if not source.exists():
        raise preflight.StartupError(f"There is no database at {source} to back up.")
    if target.exists():
        raise preflight.StartupError(f"{target} exists; give a new file name.")
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst, pages=1024)  # in steps, so Gyeol's writers are not held off for the whole copy
    finally:
        dst.close()
        src.close()
    return _missing_beside(settings, target)


WITHOUT = {"encryption_key": "read the account numbers, billing details and PG credentials it holds",
           "key_hash_secret": "recognize any API key",
           "sandbox_webhook_secret": "verify the sandbox's signed webhooks"}


def _missing_beside(settings: Settings, target: Path) -> list[str]:
    warnings = []
    if settings.encryption_keys:
        warnings.append("GYEOL_ENCRYPTION_KEYS is set in the environment, not in a file: keep it with the backup, "
                        f"or a restored server cannot {WITHOUT['encryption_key']}.")
    for setting, name in VAR_SECRETS.items():
        kept, original = target.parent / name, _read(settings.var_dir / name)
        if getattr(settings, setting) or original is None:
            continue
        if _read(kept) != original:
            warnings.append(f"{settings.var_dir / name} is not beside the backup (as {kept}): keep a copy with it, "
                            f"or a restored server cannot {WITHOUT[name]}.")
    return warnings


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
