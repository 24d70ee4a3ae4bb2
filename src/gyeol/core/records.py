"""What every record of the core shares: a frozen dataclass with slots, made from its table's row by its
repository (`from_row`) and turned back into one for a write (`row_of`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_NAMES: dict[type, tuple[str, ...]] = {}


class Record:
    """A row as a typed value: `Payment.from_row(row)` takes exactly its table's columns."""

    __slots__ = ()

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Self:
        return cls(**row)


def row_of(record: DataclassInstance) -> dict[str, Any]:
    """The record's columns, in their order, for `db.sql.insert`."""
    names = _NAMES.get(type(record))
    if names is None:
        names = _NAMES[type(record)] = tuple(f.name for f in fields(record))
    return {name: getattr(record, name) for name in names}
