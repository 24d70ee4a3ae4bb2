"""schemathesis hooks (tests/schemathesis.toml): three of Gyeol's rules hang on more than what a JSON Schema can
say of one field, so a request made at random breaks them while it is valid by the document. Each hook mends only
a request whose other parts are as the document says, so a request meant to be refused stays refused.

- An integer is written as one: `1000`, never `1000.0` (faces.native.schemas: amounts are strict JSON integers).
  To JSON Schema the two are one number, so the document cannot tell them apart, and a generated integer may come
  written as a float; it is sent as the integer it is.
- An order's items add up to its amount (core.orders.service).
- A webhook endpoint's host is judged by the addresses it resolves to (core.webhooks.ssrf): the request is sent
  to this machine's loopback, which a test key may use, never to a generated name (it would be looked up) or an
  address elsewhere (the worker would deliver to it).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis

from gyeol.core.money import MAX_AMOUNT
from gyeol.faces.native.schemas import URL_PATTERN

_URL = re.compile(URL_PATTERN)
_HOST = re.compile(r"^(https?://)(?:[^/?#@]*@)?(?:\[[^\]]*\]|[^/?#:]*)(?::[0-9]*)?")


def _int(v: Any, low: int, high: int) -> bool:
    """An integer as JSON Schema reads one (1000.0 is 1000)."""
    return type(v) in (int, float) and float(v).is_integer() and low <= v <= high


def _item(item: Any) -> bool:
    return (isinstance(item, dict) and set(item) <= {"name", "amount", "quantity"} and "name" in item
            and "amount" in item and isinstance(item["name"], str) and 1 <= len(item["name"]) <= 200
            and _int(item["amount"], 0, MAX_AMOUNT) and _int(item.get("quantity", 1), 1, 10_000))


def _integers(value: Any) -> Any:
    if type(value) is float and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


@schemathesis.hook("map_case")
def integers_as_integers(ctx: Any, case: Any) -> Any:
    if isinstance(case.body, dict | list):
        case.body = _integers(case.body)
    return case


@schemathesis.hook("map_case").apply_to(method="POST", path="/api/v1/orders")
def items_add_up(ctx: Any, case: Any) -> Any:
    body = case.body
    if not isinstance(body, dict) or not _int(body.get("amount"), 1, MAX_AMOUNT):
        return case
    items = body.get("items")
    if isinstance(items, list) and 1 <= len(items) <= 500 and all(_item(i) for i in items):
        if sum(i["amount"] * i.get("quantity", 1) for i in items) != body["amount"]:
            body["items"] = [{"name": items[0]["name"], "amount": int(body["amount"]), "quantity": 1}]
    return case


@schemathesis.hook("map_case").apply_to(path_regex="^/api/v1/webhook-endpoints")
def loopback_endpoints(ctx: Any, case: Any) -> Any:
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("url"), str) and _URL.fullmatch(body["url"]):
        body["url"] = _HOST.sub(r"\g<1>127.0.0.1:9", body["url"], count=1)[:2000]
    return case
