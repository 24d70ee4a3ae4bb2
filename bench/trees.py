"""The two sides of `make bench-ab`: each a copy of Gyeol's code under bench/.ab/ (git-ignored), served by a venv
made for its pyproject.toml.

A commit is checked out with `git worktree add --detach`; the working tree (the default new side) is copied as it is
when the run starts (src/ and pyproject.toml), so edits made during the run do not reach it. The venv is keyed by
the sha1 of pyproject.toml, as the Makefile keys .venv: the repo's .venv when its stamp matches, else
bench/.ab/venv-<hash>, made once with `python -m venv` and `pip install -e`. Either way the server runs with
PYTHONPATH=<copy>/src, and start() checks that `gyeol` is imported from there."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from servers import HERE, ROOT, Tree, git

AB = HERE / ".ab"
WORKTREE = "WORKTREE"  # the new side's default: this checkout, uncommitted changes included


def default_old() -> str:
    """origin/main when there is one, else HEAD's first parent."""
    ok = subprocess.run(["git", "rev-parse", "--verify", "-q", "origin/main^{commit}"], cwd=ROOT,
                        capture_output=True).returncode == 0
    return "origin/main" if ok else "HEAD^"


def resolve(rev: str) -> str:
    """A commit's full sha, read once at the start: HEAD may move while the run lasts. WORKTREE stays as it is."""
    return rev if rev == WORKTREE else git("rev-parse", "--verify", f"{rev}^{{commit}}")


def describe(rev: str) -> str:
    if rev == WORKTREE:
        dirty = git("status", "--porcelain", "--", "src", "pyproject.toml")
        return f"working tree (HEAD {git('rev-parse', '--short', 'HEAD')}{' + uncommitted changes' if dirty else ''})"
    return git("log", "-1", "--format=%h %s", rev)[:100]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> None:
    """Remove what an interrupted run left: worktrees and copies whose process is gone."""
    AB.mkdir(exist_ok=True)
    for path in AB.glob("wt-*"):
        pid = path.name.split("-")[1]
        if pid.isdigit() and not _alive(int(pid)):
            remove(path)
    subprocess.run(["git", "worktree", "prune"], cwd=ROOT, check=False)


def remove(path: Path) -> None:
    if (path / ".git").is_file():
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)


def checkout(label: str, rev: str) -> tuple[Tree, Path]:
    """The tree to serve for `rev` (a commit's sha, or WORKTREE) and the directory to remove afterwards."""
    path = AB / f"wt-{os.getpid()}-{label}"
    remove(path)
    if rev == WORKTREE:
        path.mkdir(parents=True)
        shutil.copytree(ROOT / "src", path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copy2(ROOT / "pyproject.toml", path / "pyproject.toml")
        sha = git("rev-parse", "HEAD")
    else:
        sha = resolve(rev)
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), sha], cwd=ROOT, check=True)
    python = venv_for(path)
    tree = Tree(label, sha if rev != WORKTREE else f"{sha}+worktree", path / "src", python)
    check_import(tree)
    return tree, path


def venv_for(tree: Path) -> str:
    key = hashlib.sha1((tree / "pyproject.toml").read_bytes()).hexdigest()[:12]
    if (ROOT / ".venv" / f".installed-{key}").exists():
        return str(ROOT / ".venv" / "bin" / "python")
    venv = AB / f"venv-{key}"
    python = venv / "bin" / "python"
    with (AB / f"venv-{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two runs at once make it once
        if not (venv / ".installed").exists():
            print(f"making {venv.relative_to(ROOT)} for {tree.name} (its pyproject.toml differs)", flush=True)
            shutil.rmtree(venv, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            out = subprocess.run([str(python), "-m", "pip", "install", "-q", "-e", str(tree)], capture_output=True,
                                 text=True)
            if out.returncode != 0:
                raise SystemExit(f"pip install -e {tree} failed:\n{out.stderr[-3000:]}")
            (venv / ".installed").touch()
    return str(python)


def check_import(tree: Tree) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GYEOL_")}
    env["PYTHONPATH"] = str(tree.src)
    out = subprocess.run([tree.python, "-c", "import gyeol; print(gyeol.__file__)"], env=env, cwd=str(HERE),
                         capture_output=True, text=True)
    where = Path(out.stdout.strip() or "?")
    if out.returncode != 0 or not where.is_relative_to(tree.src):
        raise SystemExit(f"{tree.label}: gyeol imports from {where}, not {tree.src}\n{out.stderr[-2000:]}")
