"""Reading the reports' SQL (`sql/report_*.sql`) from the warehouse into polars."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

import duckdb
import polars as pl

from metrics.compute import sql_text


def query(conn: duckdb.DuckDBPyConnection, name: str, **params: object) -> pl.DataFrame:
    """Run `sql/<name>.sql` with named parameters; a polars frame."""
    return frame_of(conn.sql(sql_text(name), params=params or None))


def frame_of(relation: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    """The rows of `relation` as a polars frame, read through the Arrow C stream interface
    (`__arrow_c_stream__`): the same frame `relation.pl()` gives, without pyarrow, which a
    report run would otherwise import (a few tenths of a second) only to hand the rows over."""
    return pl.DataFrame(relation)


T = TypeVar("T")


class OwnCursor:
    """A cursor of its own on `conn`, for one read that another thread may stop: `run` reads
    and closes the cursor, `interrupt` stops the read if it is still going (DuckDB's
    `interrupt`), and does nothing once the cursor is closed."""

    def __init__(self, conn: duckdb.DuckDBPyConnection) -> None:
        self._cursor = conn.cursor()
        self._closing = threading.Lock()  # never interrupted while, or after, it is closed

    def run(self, read: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """`read(cursor)`, then the cursor closed (the read raises if it was interrupted)."""
        try:
            return read(self._cursor)
        finally:
            with self._closing:
                self._cursor.close()

    def interrupt(self) -> None:
        """Stop the read in progress. One that has not started yet starts uninterrupted
        (DuckDB clears the flag as a query starts): call again until it has ended."""
        with self._closing, suppress(duckdb.ConnectionException):  # closed: nothing to stop
            self._cursor.interrupt()


def has_relation(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when the warehouse has a table or view called `name`."""
    found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                         [name]).fetchall()  # fetchall: no result left open on the connection
    return bool(found and found[0][0])
