"""The lookup service: "which segment is this customer in now?", read-only, over HTTP on localhost.

``GET /segments/{pseudonym}`` answers by keyed pseudonym. ``POST
/customers/lookup`` with ``{"customer_id": "..."}`` answers by raw customer id,
only when the service was started with raw-id lookup enabled (inside the
private network; the id travels in the body, never in a URL that proxies and
access logs keep). Both answer ``{pseudonym, segment, segment_name, rfm_cell,
rfm_segment, as_of}``, never the raw id. ``GET /health`` gives the number of
customers, the as-of date and the last batch.

The same privacy rules as the private export: the service binds 127.0.0.1
unless told otherwise, opens the state read-only (SQLite in WAL mode: it sees
every committed batch while the processor writes the next), and logs one
line per request with the route's *template* (``/segments/{pseudonym}``,
``/customers/lookup``) and the status, never a raw id.
"""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import sys
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from analysis.stream._output import day_iso, rfm_names, segment_names
from analysis.stream._state import connect_readonly

__all__ = ["create_app", "serve", "Lookup", "CustomerQuery"]

_LOG = "analysis.stream.service"


class Lookup(BaseModel):
    """One customer's current segment."""

    pseudonym: str
    segment: int = Field(description="the model's segment id")
    segment_name: str
    rfm_cell: str
    rfm_segment: str
    as_of: str | None = Field(description="the date recency is measured to (ISO)")


class CustomerQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: str = Field(min_length=1, max_length=200)


class _Reader:
    """Answers from the state file; segment names are cached per model (a new model changes the cache key)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._names: dict[str, tuple[dict[int, str], dict[str, str]]] = {}
        connect_readonly(path).close()  # fail at start-up, not at the first request

    def _meta(self, con: sqlite3.Connection) -> dict:
        return {k: json.loads(v) for k, v in con.execute("SELECT key, value FROM meta").fetchall()}

    def names(self, con: sqlite3.Connection, sha: str | None) -> tuple[dict[int, str], dict[str, str]]:
        if sha not in self._names:
            row = con.execute("SELECT model FROM models WHERE sha256 = ?", [sha]).fetchone()
            text = None if row is None else row[0]
            self._names = {sha: (segment_names(text), rfm_names(text))}
        return self._names[sha]

    def find(self, column: str, value: str) -> Lookup | None:
        con = connect_readonly(self.path)
        try:
            row = con.execute(
                f"SELECT pseudonym, segment, rfm_cell FROM customers WHERE {column} = ?", [value]
            ).fetchone()
            if row is None:
                return None
            meta = self._meta(con)
            segments, cells = self.names(con, meta.get("model"))
        finally:
            con.close()
        pseudonym, segment, cell = row
        return Lookup(
            pseudonym=pseudonym,
            segment=segment,
            segment_name=segments.get(segment, ""),
            rfm_cell=cell,
            rfm_segment=cells.get(cell, ""),
            as_of=day_iso(meta.get("as_of")),
        )

    def health(self) -> dict:
        con = connect_readonly(self.path)
        try:
            meta = self._meta(con)
            customers = con.execute("SELECT count(*) FROM customers").fetchone()[0]
        finally:
            con.close()
        return {"customers": customers, "as_of": day_iso(meta.get("as_of")), "batch": meta.get("batch_seq", 0)}


def create_app(state: Path, *, allow_customer_id: bool = False) -> FastAPI:
    """The FastAPI application over the state file ``state`` (read-only)."""
    reader = _Reader(Path(state))
    log = logging.getLogger(_LOG)
    app = FastAPI(title="segment lookup", docs_url=None, redoc_url=None, openapi_url=None)

    @app.middleware("http")
    async def _log_route(request: Request, call_next):
        response = await call_next(request)
        route = request.scope.get("route")
        log.info("%s %s %d", request.method, getattr(route, "path", "(no route)"), response.status_code)
        return response

    @app.get("/health")
    def health() -> dict:
        return reader.health()

    @app.get("/segments/{pseudonym}", response_model=Lookup)
    def by_pseudonym(pseudonym: str) -> Lookup:
        found = reader.find("pseudonym", pseudonym)
        if found is None:
            raise HTTPException(status_code=404, detail="no customer has this pseudonym")
        return found

    @app.post("/customers/lookup", response_model=Lookup)
    def by_customer_id(query: CustomerQuery) -> Lookup:
        if not allow_customer_id:
            raise HTTPException(status_code=403, detail="lookup by customer id is not enabled on this service")
        found = reader.find("customer_id", query.customer_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no customer has this id")
        return found

    return app


def serve(state: Path, *, host: str, port: int, allow_customer_id: bool) -> None:
    """Run the service until interrupted; print the address it listens on (port 0 picks a free port)."""
    import uvicorn

    app = create_app(state, allow_customer_id=allow_customer_id)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log = logging.getLogger(_LOG)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    # Listening before saying so: a client that connects while uvicorn still starts waits in the backlog
    # instead of being refused.
    sock.listen(128)
    bound = sock.getsockname()[1]
    print(f"serving {state} on http://{host}:{bound} (read-only)", flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        log.removeHandler(handler)
        sock.close()
