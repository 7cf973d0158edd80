"""Opening the DuckDB warehouse: one writer, many read-only readers, nothing downloaded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import duckdb

# No extension may be fetched at run time on these machines (and a pipeline should not need to).
_SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file for longer than we were willing to wait."""


def connect(path: Path, read_only: bool = False,
            wait_seconds: float | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse file; a writer creates its folder first.

    DuckDB allows one writing process (or several read-only ones) per file. When the file is
    locked we wait, polling, up to `wait_seconds` (default: env `DORA_WAREHOUSE_WAIT_SECONDS`,
    else 120) and then fail with a message that says what to do.
    """
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run the pipeline first")
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("DORA_WAREHOUSE_WAIT_SECONDS", "120"))
    deadline = time.monotonic() + wait_seconds
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only, config=dict(_SETTINGS))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"warehouse {path} is in use by another process (a run writing it, or a "
                    f"reader such as a notebook) and stayed busy for {wait_seconds:.0f}s; wait "
                    "for it to finish or close it, then run again"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    """The single value of a one-row, one-column query (the result is fully consumed)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
