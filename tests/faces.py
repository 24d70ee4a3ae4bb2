"""Each face's error format, told by the path that answered: a test asserts an error was written in its face's."""

from __future__ import annotations

from typing import Any

import httpx

PAGES = ("/checkout", "/receipts", "/sandbox/3ds")


def face_of(path: str) -> str:
    path = path.split("?")[0]
    if path.startswith("/api/shopping/"):
        return "shopping"
    if path.startswith("/api/payments/"):
        return "shop"
    if path.startswith("/api/v1/"):
        return "native"
    if path.startswith("/v1/"):
        return "kiosk"
    if path.startswith(PAGES):
        return "pages"
    raise AssertionError(f"no face owns {path}")


def assert_face_error(path: str, r: httpx.Response, status: int | None = None) -> Any:
    """The response is an error (4xx, or `status`) in the format of the face that owns `path`; its body back."""
    if status is None:
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:500])
    else:
        assert r.status_code == status, (path, r.status_code, r.text[:500])
    face = face_of(path)
    if face == "pages":
        assert r.headers["content-type"].startswith("text/html"), (path, r.headers, r.text[:300])
        assert "<html" in r.text
        return r.text
    assert r.headers["content-type"].startswith("application/json"), (path, r.headers, r.text[:300])
    body = r.json()
    if face == "native":
        assert set(body) == {"error"} and set(body["error"]) == {"type", "code", "message", "details"}, body
        assert body["error"]["message"], body
    elif face == "kiosk":
        assert set(body) == {"code", "message"} and body["message"], body
    elif face == "shop":
        assert set(body) <= {"error", "details"} and isinstance(body["error"], str) and body["error"], body
    else:
        assert set(body) == {"success", "code", "message", "timestamp"} and body["success"] is False, body
    return body
