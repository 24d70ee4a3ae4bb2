"""The addresses a window sends its buyer back to: the merchant's URL with the query its API speaks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit


def with_query(url: str, params: dict[str, Any]) -> str:
    """`url` with `params` added to whatever query it has already."""
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
