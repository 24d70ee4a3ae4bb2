"""Secrets that must survive restarts but may be left unset in development.

When a secret is not configured, one is generated once into the var directory
(mode 0600) so that `make run` works on a fresh machine and keeps working after a restart.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


def var_secret(var_dir: Path, name: str, *, make: str = "hex", warn: bool = False) -> str:
    path = var_dir / name
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    value = _generate(make)
    # Written whole under a name of its own, then linked into place: a process starting beside this one finds no
    # file or a whole one, never the empty file that creating it in place would show for a moment.
    tmp = var_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:  # another process won the race; its value is the one
        return path.read_text().strip()
    finally:
        tmp.unlink(missing_ok=True)
    if warn:
        log.warning("generated_development_secret", name=name, path=str(path))
    return value


def _generate(make: str) -> str:
    if make == "fernet":
        from cryptography.fernet import Fernet

        return Fernet.generate_key().decode()
    if make == "password":  # typed by a person: short, and no characters that a terminal might mangle
        return secrets.token_urlsafe(12)
    if make == "whsec":
        import base64

        return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    return secrets.token_hex(32)
