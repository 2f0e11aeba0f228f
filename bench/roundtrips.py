"""Counting the SQL round trips of one request, from the wire (PostgreSQL) or the cursor (SQLite).

On PostgreSQL every new pool connection gets a libpq protocol trace; a round trip is one
frontend ``Query`` or ``Sync`` message, so BEGIN, COMMIT, ROLLBACK and the pool's pre-ping are
counted as well as the statements. On SQLite there is no wire: the executed statements are
listed instead.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

_RECORD = re.compile(r"^[FB]\t\d+\t")
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE)\s+\"?(\w+)", re.IGNORECASE)


def _label(sql: str) -> str:
    """'SELECT api_keys', 'INSERT redemptions', 'BEGIN' … from a statement's text."""
    sql = sql.strip().strip('"').strip()
    if sql in {"", ";"}:
        return "ping"  # the pool's pre-ping: an empty statement
    verb = sql.split(None, 1)[0].upper() if sql else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table and verb not in {"BEGIN", "COMMIT"} else verb


class _WireLog:
    """Collects the round trips of every traced libpq connection, in order."""

    def __init__(self, file: IO[str]) -> None:
        self.file = file
        self.mark = 0

    def attach(self, dbapi_connection: Any, _record: Any) -> None:
        pgconn = getattr(dbapi_connection, "pgconn", None)
        if pgconn is None:
            return
        from psycopg import pq

        pgconn.trace(self.file.fileno())
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)

    def take(self) -> list[str]:
        """The round trips since the previous call."""
        self.file.flush()
        self.file.seek(self.mark)
        records: list[str] = []
        for line in self.file.read().splitlines():
            if _RECORD.match(line) or not records:
                records.append(line)
            else:  # a statement's text spans lines
                records[-1] += " " + line
        self.mark = self.file.tell()
        trips: list[str] = []
        pending = "?"
        for record in records:
            parts = record.split("\t", 3)
            if parts[0] != "F" or len(parts) < 3:
                continue
            kind, rest = parts[2], parts[3] if len(parts) > 3 else ""
            if kind == "Query":
                trips.append(_label(rest.strip().strip('"')))
            elif kind == "Parse":
                pending = _label(rest.strip().split('" "', 1)[-1])
            elif kind == "Sync":
                trips.append(pending)
                pending = "(prepared statement)"
        return trips


class _StatementLog:
    """Collects the statements executed on any engine, in order (SQLite has no wire)."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def on_execute(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        self.statements.append(_label(statement))

    def take(self) -> list[str]:
        taken, self.statements = self.statements, []
        return taken


@contextmanager
def counting(dialect: str) -> Iterator[Callable[[], list[str]]]:
    """Inside the block, ``take()`` returns the round trips (or statements) since the last take.

    Only connections opened inside the block are traced: dispose the engines' pools first.
    """
    if dialect == "postgresql":
        with tempfile.TemporaryFile(mode="w+") as trace:
            wire = _WireLog(trace)
            event.listen(Pool, "connect", wire.attach)
            try:
                yield wire.take
            finally:
                event.remove(Pool, "connect", wire.attach)
    else:
        log = _StatementLog()
        event.listen(Engine, "before_cursor_execute", log.on_execute)
        try:
            yield log.take
        finally:
            event.remove(Engine, "before_cursor_execute", log.on_execute)
