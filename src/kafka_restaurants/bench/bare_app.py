"""The reference: the smallest FastAPI endpoint, served by uvicorn like our api is."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.get("/ping")
async def ping() -> dict[str, bool]:
    """A constant JSON answer: framework and server cost only."""
    return {"ok": True}
