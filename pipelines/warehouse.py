"""Opening the DuckDB warehouse: one writer, many read-only readers, nothing downloaded."""

from __future__ import annotations

from pathlib import Path

import duckdb

# No extension may be fetched at run time on these machines (and a pipeline should not need to).
_SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a writer creates its folder first."""
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run the pipeline first")
    try:
        return duckdb.connect(str(path), read_only=read_only, config=dict(_SETTINGS))
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise RuntimeError(
                f"warehouse {path} is in use by another writing process; wait for that run to "
                "finish (only one run may write the warehouse at a time)"
            ) from None
        raise


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    """The single value of a one-row, one-column query (the result is fully consumed)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
