"""Reading the reports' SQL (`sql/report_*.sql`) from the warehouse into polars."""

from __future__ import annotations

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


def has_relation(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    """True when the warehouse has a table or view called `name`."""
    found = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                         [name]).fetchall()  # fetchall: no result left open on the connection
    return bool(found and found[0][0])
