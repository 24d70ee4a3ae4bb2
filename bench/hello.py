"""The ceiling: a FastAPI hello-world under the same server settings as `gyeol serve`."""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI
from fastapi.responses import ORJSONResponse

app = FastAPI(default_response_class=ORJSONResponse)


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=1)
    a = p.parse_args()
    uvicorn.run("hello:app", host="127.0.0.1", port=a.port, workers=a.workers, loop="auto", http="auto",
                log_level="warning", access_log=False)
