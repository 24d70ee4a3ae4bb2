"""Stores a fault test may break without touching anyone else's: a PostgreSQL of its own to restart, a directory made
read-only, a small file system to fill. What needs root (mounting) skips with one loud line without it."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from conftest import loud_skip
from procs import free_port

ROOT = os.geteuid() == 0


def _must(args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed: {done.stdout}\n{done.stderr}")
    return done


class PrivatePostgres:
    """A PostgreSQL cluster of the test's own, on a free port, restarted as `pg_ctlcluster … restart` restarts one
    (both run `pg_ctl restart`). Not the shared server: other suites use it at the same time. As root it runs as
    the `postgres` user (PostgreSQL refuses to run as root); otherwise as the current user."""

    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
        if not bindirs or not os.path.exists(f"{bindirs[-1]}/pg_ctl"):
            loud_skip("PostgreSQL's server programs (initdb, pg_ctl) are not installed")
        self.bin = bindirs[-1]
        if ROOT:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                loud_skip("PostgreSQL refuses to run as root, and there is no `postgres` user to run it as")
        self.dir = Path(tempfile.mkdtemp(prefix="gyeol-pg-"))
        if ROOT:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        try:
            self._pg("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8",
                     "--locale=C")
            with open(self.data / "postgresql.conf", "a") as conf:
                conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                           "fsync = off\nfull_page_writes = off\nmax_connections = 100\n")
            self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-t", "60", "start")
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def _pg(self, program: str, *args: str) -> None:
        cmd = [f"{self.bin}/{program}", *args]
        _must(["runuser", "-u", "postgres", "--", *cmd] if ROOT else cmd, cwd=self.dir)

    def restart(self) -> None:
        """A fast restart: every session is ended, and no connection is taken until it is up again."""
        self._pg("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-m", "fast", "-w", "-t", "60",
                 "restart")

    def close(self) -> None:
        try:
            self._pg("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PrivatePostgres:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _mount(*args: str) -> None:
    done = subprocess.run(["mount", *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        loud_skip(f"mount {' '.join(args)} failed here ({done.stderr.strip()[:200]})")


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """`path`, a directory, read-only for a process started inside: a read-only bind mount as root (root writes
    through permissions), else its mode and its files' (a file already open for writing stays writable)."""
    if ROOT:
        _mount("--bind", str(path), str(path))
        try:
            _mount("-o", "remount,ro,bind", str(path))
            yield
        finally:
            _must(["umount", str(path)])
        return
    files = [p for p in path.iterdir() if p.is_file()]
    modes = {p: p.stat().st_mode for p in [path, *files]}
    try:
        for p in files:
            p.chmod(0o444)
        path.chmod(0o555)
        yield
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


@contextmanager
def small_disk(path: Path, megabytes: int) -> Iterator[Path]:
    """A file system of `megabytes` mounted at `path` (made if missing): a disk that can be filled. Root only."""
    if not ROOT:
        loud_skip("a full disk needs root, to mount a small file system")
    path.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs", str(path))
    try:
        yield path
    finally:
        _must(["umount", "-l", str(path)])


def fill(directory: Path) -> Path:
    """Write a file into `directory` until its file system has no byte left; the file, to delete to free it."""
    filler = directory / "filler"
    block = b"\0" * (1 << 16)
    with open(filler, "wb", buffering=0) as f:
        try:
            while True:
                f.write(block)
        except OSError:
            pass
        try:
            while True:  # the last blocks, smaller than one write
                f.write(b"\0" * 512)
        except OSError:
            pass
    return filler
