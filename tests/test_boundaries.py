"""The arrows between Gyeol's parts (../shared/ARCHITECTURE.md, issue 27), read from the source with `ast`: every
import of every module of src/gyeol, absolute or relative, at the top or inside a function (TYPE_CHECKING ones
too). A face renders and reads no table; a connector translates and knows no face, no storage and no decryption;
the core reaches PGs through the connector protocol and the registry only, and names no PG; a simulator stands
apart from the faces; and modules stay small."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "gyeol"
CORE_MAX_LINES = 300
MODULE_MAX_LINES = 450
CONNECTORS_MAY_USE = ("gyeol.core.errors", "gyeol.core.clock", "gyeol.core.money")

# What the core may import of the connectors: the protocol's neutral types and the registry that picks one.
CORE_MAY_USE = ("gyeol.connectors.base", "gyeol.connectors.registry")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module `name` imports: `from a import b` is `a.b` when that is a module of ours, else `a`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            origin = ".".join([*base, *([node.module] if node.module else [])])
            for alias in node.names:
                sub = f"{origin}.{alias.name}"
                yield sub if sub in MODULES else origin


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def forbidden(source: str, target: str) -> str | None:
    """Why the arrow source -> target must not exist, or None."""
    if under(source, "gyeol.faces"):
        if under(target, "gyeol.models", "gyeol.db", "sqlalchemy") or target.endswith(".repository"):
            return "a face reads no table and holds no connection: a core service answers with typed records"
        if under(target, "gyeol.connectors.toss", "gyeol.connectors.sandbox"):
            return "a face never imports a PG's connector"
    if under(source, "gyeol.simulators") and under(target, "gyeol.faces"):
        return "a simulator imports no face: shared page parts live in gyeol.web"
    if under(source, "gyeol.connectors"):
        if under(target, "gyeol.faces"):
            return "a connector knows no face"
        if under(target, "gyeol.core") and not under(target, *CONNECTORS_MAY_USE):
            return f"a connector uses no more of the core than {', '.join(CONNECTORS_MAY_USE)}"
        if under(target, "gyeol.models", "gyeol.db"):
            return "a connector keeps no storage"
        if under(target, "gyeol.crypto"):
            return "a connector decrypts nothing: the core hands it the merchant's credentials"
    if under(source, "gyeol.core"):
        if under(target, "gyeol.connectors") and not under(target, *CORE_MAY_USE):
            return f"the core reaches a PG through {' and '.join(CORE_MAY_USE)} only"
        if under(target, "gyeol.simulators"):
            return "the core knows no simulator: it reaches a PG through its connector"
    return None


def arrows() -> Iterator[tuple[str, str, str]]:
    for name, path in MODULES.items():
        for target in sorted(set(imports(name, path))):
            why = forbidden(name, target)
            if why is not None:
                yield name, target, why


def test_the_walk_sees_every_kind_of_import() -> None:
    """Guard the guard: relative, function-level and TYPE_CHECKING imports are all resolved."""
    rotation = set(imports("gyeol.core.rotation", MODULES["gyeol.core.rotation"]))
    assert "gyeol.services" in rotation  # under TYPE_CHECKING
    cli = set(imports("gyeol.cli", MODULES["gyeol.cli"]))
    assert "gyeol.simulators.toss.simulator" in cli  # inside a function
    env = set(imports("gyeol.db.migrations.env", MODULES["gyeol.db.migrations.env"]))
    assert any(under(t, "gyeol") for t in env)
    assert forbidden("gyeol.faces.pages.receipts", "gyeol.models") is not None
    assert forbidden("gyeol.faces.shop.routes", "sqlalchemy.exc") is not None
    assert forbidden("gyeol.faces.native.sandbox", "gyeol.core.payments.repository") is not None
    assert forbidden("gyeol.simulators.toss.window", "gyeol.faces.pages.look") is not None
    assert forbidden("gyeol.connectors.toss.connector", "gyeol.core.merchants.repository") is not None
    assert forbidden("gyeol.connectors.toss.connector", "gyeol.core.errors") is None
    assert forbidden("gyeol.connectors.toss.connector", "gyeol.crypto") is not None
    assert forbidden("gyeol.core.payments.intents", "gyeol.connectors.sandbox.connector") is not None
    assert forbidden("gyeol.core.payments.intents", "gyeol.simulators.sandbox.pg") is not None
    assert forbidden("gyeol.core.payments.intents", "gyeol.connectors.base") is None


def test_relative_imports_resolve(tmp_path: Path) -> None:
    pkg = tmp_path / "gyeol" / "faces" / "shop"
    pkg.mkdir(parents=True)
    module = pkg / "routes.py"
    module.write_text("from ...models import payments\nfrom .. import http\n\ndef f():\n    from ...db import sql\n")
    found = set(imports("gyeol.faces.shop.routes", module))
    assert found == {"gyeol.models.payments", "gyeol.faces.http", "gyeol.db.sql"}


def test_no_forbidden_arrow() -> None:
    found = [f"{source} -> {target}: {why}" for source, target, why in arrows()]
    assert not found, "\n".join(found)


def test_the_core_names_no_pg() -> None:
    """The default PG is the registry's first connector, whichever it is: the core never names the sandbox."""
    named = [name for name, path in MODULES.items()
             if under(name, "gyeol.core") and "sandbox" in path.read_text().lower()]
    assert named == [], f"the core names the sandbox PG: {named}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_small(name: str) -> None:
    limit = CORE_MAX_LINES if under(name, "gyeol.core") else MODULE_MAX_LINES
    lines = len(MODULES[name].read_text().splitlines())
    assert lines < limit, f"{name} has {lines} lines; split it (a module of {name.split('.')[1]}/: under {limit})"
