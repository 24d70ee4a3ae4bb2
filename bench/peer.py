"""localstripe as shipped, bound to 127.0.0.1 (its CLI binds every interface) with its pickle in a temp dir."""

from __future__ import annotations

import argparse
import builtins
import logging
from typing import Any

from aiohttp import web
from localstripe import resources, server

SHIPPED_PATH = "/tmp/localstripe.pickle"  # noqa: S108 - the path localstripe hard-codes, redirected below

if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pickle", required=True)
    args = p.parse_args()

    def redirected_open(path: Any, *a: Any, **kw: Any) -> Any:
        return builtins.open(args.pickle if path == SHIPPED_PATH else path, *a, **kw)

    resources.open = redirected_open  # type: ignore[attr-defined]
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    web.run_app(server.app, host="127.0.0.1", port=args.port, access_log=None, print=None)
