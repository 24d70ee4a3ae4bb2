"""What a request may carry, checked before any route reads it: its target and its JSON body.

Refused the same way on every face (400, or 415 for a charset), in that face's error format:
- a control character in the path or the query: PostgreSQL's text cannot hold a NUL, and no id holds any;
- a query that names a parameter twice;
- a JSON body that is not UTF-8, that names a key twice (a parser keeps the last one, so
  `{"amount":100,"amount":999999999}` would read as 999,999,999), that nests deeper than MAX_DEPTH (orjson stops
  writing at 255 levels, Python's reader at about 1,000), whose strings hold a NUL or half a surrogate pair, or
  whose integers do not fit in 64 bits (none of these can be stored: JSON_VALUE says what can);
- a body declared in a charset other than UTF-8.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.types import Scope

from gyeol.core.errors import DomainError

MAX_DEPTH = 64
# orjson writes integers from -2**63 to 2**64 - 1; a number with a fraction is written whatever its size.
INT_MIN, INT_MAX = -(2**63), 2**64 - 1
# A JSON value a body may carry where a route takes any (metadata): the OpenAPI component `JsonValue`.
JSON_VALUE_REF: dict[str, Any] = {"$ref": "#/components/schemas/JsonValue"}
JSON_VALUE: dict[str, Any] = {"anyOf": [
    {"type": "null"}, {"type": "boolean"}, {"type": "string"},
    {"type": "integer", "minimum": INT_MIN, "maximum": INT_MAX}, {"type": "number", "not": {"type": "integer"}},
    {"type": "array", "items": JSON_VALUE_REF}, {"type": "object", "additionalProperties": JSON_VALUE_REF},
]}
_LONG_NUMBER = re.compile(r"[0-9]{19}|[0-9][eE]")
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_UTF8 = ("utf-8", "utf8")


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return str(v.decode("latin-1"))
    return None


def check_target(scope: Scope) -> None:
    path = scope["path"]
    query: bytes = scope.get("query_string", b"")
    if _CONTROL.search(path.encode("utf-8", "surrogatepass")) or (query and _CONTROL.search(
            unquote_to_bytes(query.replace(b"+", b" ")))):
        raise DomainError("validation", "INVALID_CHARACTER",
                          "The request's path or query holds a control character; no id or value takes one.")
    if query and b"&" in query:
        names = [unquote_to_bytes(pair.partition(b"=")[0].replace(b"+", b" ")) for pair in query.split(b"&") if pair]
        if len(names) != len(set(names)):  # a parser keeps one of them, as with a JSON key given twice
            raise DomainError("validation", "DUPLICATE_PARAMETER",
                              "The query names a parameter twice; send each parameter once.")


def check_json(scope: Scope, body: bytes) -> None:
    """A body sent to an API route: JSON in UTF-8, each key once, nested at most MAX_DEPTH deep."""
    if not body.strip():
        return
    media, _, params = (header(scope, b"content-type") or "").partition(";")
    media = media.strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise DomainError("validation", "UNSUPPORTED_MEDIA_TYPE",
                          "Send the body as JSON with 'Content-Type: application/json'.", status=415)
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in _UTF8:
            raise DomainError("validation", "UNSUPPORTED_CHARSET", "Send JSON in UTF-8 (charset=utf-8, or none).",
                              status=415)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("The body is not valid UTF-8.") from None
    try:
        value = json.loads(text, object_pairs_hook=_each_key_once)
    except _DuplicateKey:
        raise DomainError("validation", "DUPLICATE_KEY", "The body names a key twice; send each key once.") from None
    except RecursionError:
        raise _too_deep() from None
    except ValueError:
        raise _invalid("The body is not valid JSON.") from None
    lowered = text.lower()
    # The walk below costs what the body is long: only a body that could fail it takes it.
    if (text.count("[") + text.count("{") > MAX_DEPTH or "\\u0000" in text or "\\ud" in lowered
            or _LONG_NUMBER.search(text)):
        _walk(value)


class _DuplicateKey(Exception):
    pass


def _each_key_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _DuplicateKey
    return obj


def _walk(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            children = [*item.keys(), *item.values()] if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            if (isinstance(item, int) or item.is_integer()) and not INT_MIN <= item <= INT_MAX:
                raise DomainError("validation", "NUMBER_TOO_LARGE",
                                  "A number in the body is an integer beyond 64 bits; no field takes one.")
        elif isinstance(item, str):
            if "\x00" in item:
                raise DomainError("validation", "INVALID_CHARACTER", "A string in the body holds a NUL character.")
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise _invalid("A string in the body holds half of a surrogate pair.") from None


def _invalid(message: str) -> DomainError:
    return DomainError("validation", "INVALID_JSON", message)


def _too_deep() -> DomainError:
    return DomainError("validation", "JSON_TOO_DEEP", f"The body nests deeper than {MAX_DEPTH} levels.")
