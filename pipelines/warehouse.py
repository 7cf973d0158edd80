"""Opening the DuckDB warehouse: writers build a working copy, readers see published snapshots.

DuckDB lets one process open a file read-write *or* several open it read-only, never both. A
notebook holding the warehouse open would then stall every run, and a reader opening it between
two assets of a run would see new canonical tables beside old metrics. So the warehouse is two
files:

- ``<warehouse>.working``: what the assets build, asset by asset (`connect(path)`, read-write).
  Writers queue for it: the DuckDB file lock, waited for by `connect`.
- ``<warehouse>`` (the configured path): the published snapshot that notebooks, reports and the
  CLI open read-only (`connect(path, read_only=True)`). It is replaced whole, by an atomic
  `os.replace` of a verified copy of the working file (`publish`), and only when the build
  functions say the working file is consistent (`pipelines.build`). A reader keeps the snapshot
  it opened until it reconnects (the old file stays readable under its open handle), and never
  blocks a writer.

Nothing is downloaded at run time: extension auto-install and auto-load are off.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb

# No extension may be fetched at run time on these machines (and a pipeline should not need to).
_SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
WORKING_SUFFIX = ".working"


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file for longer than we were willing to wait."""


def working_path(path: Path) -> Path:
    """The working copy the writers build in, beside the published warehouse `path`."""
    return path.with_name(path.name + WORKING_SUFFIX)


def published_path(working: Path) -> Path | None:
    """The published warehouse of a working copy (None when `working` is not one)."""
    if not working.name.endswith(WORKING_SUFFIX):
        return None
    return working.with_name(working.name.removesuffix(WORKING_SUFFIX))


def connect(path: Path, read_only: bool = False, wait_seconds: float | None = None, *,
            latest: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse whose published file is `path`.

    - read-write (the default): the working copy, created from the published file when missing
      (its folder too). Only the build functions should write; they publish when consistent.
    - `read_only=True`: the published snapshot (what notebooks, reports and the CLI read).
    - `read_only=True, latest=True`: the working copy read-only, for asset checks that must see
      the tables a run has just built, before they are published (the published file when there
      is no working copy yet).

    DuckDB allows one writing process (or several read-only ones) per file. When the file is
    locked we wait, polling, up to `wait_seconds` (default: env `DORA_WAREHOUSE_WAIT_SECONDS`,
    else 120) and then fail with a message that says what to do.
    """
    path = Path(path)
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("DORA_WAREHOUSE_WAIT_SECONDS", "120"))
    deadline = time.monotonic() + wait_seconds
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
        target = working_path(path)
        if not target.exists() and path.exists():
            _seed_working_copy(path, target, deadline, wait_seconds)
    else:
        target = working_path(path) if latest and working_path(path).exists() else path
        if not target.exists():
            raise FileNotFoundError(f"warehouse {path} does not exist yet: run the pipeline first")
    return _open(target, read_only, deadline, wait_seconds, shown=path)


def _open(target: Path, read_only: bool, deadline: float, wait_seconds: float,
          shown: Path) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, retrying while another process holds the file's lock."""
    delay = 0.05
    while True:
        try:
            return duckdb.connect(str(target), read_only=read_only, config=dict(_SETTINGS))
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                who = ("another run is building it" if target != shown
                       else "a run is writing it, or a reader such as a notebook has it open")
                raise WarehouseBusy(
                    f"warehouse {shown} is in use by another process ({who}) and stayed busy "
                    f"for {wait_seconds:.0f}s; wait for it to finish or close it, then run "
                    "again (DORA_WAREHOUSE_WAIT_SECONDS sets how long to wait)"
                ) from None
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _seed_working_copy(published: Path, working: Path, deadline: float,
                       wait_seconds: float) -> None:
    """Start the working copy from the published warehouse (first run of this layout, or the
    working copy was deleted), so a single asset can be rebuilt without the others."""
    if Path(f"{published}.wal").exists():
        # A warehouse written in place by an older version may hold a write-ahead log: fold it
        # into the file first, or the copy would miss the last committed changes.
        _open(published, False, deadline, wait_seconds, shown=published).close()
    partial = working.with_name(f".{working.name}.seed-{os.getpid()}.partial")
    try:
        _copy(published, partial)
        # A hard link fails when the target exists: when two processes seed at once, the
        # second never replaces a working copy the first may already be writing.
        os.link(partial, working)
    except FileExistsError:
        pass
    except OSError:  # a filesystem without hard links: a rename, if still nobody else has
        if not working.exists():
            os.replace(partial, working)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_dir(working.parent)


def _copy(source: Path, target: Path) -> None:
    """Copy a file and flush it to disk."""
    shutil.copyfile(source, target)
    with open(target, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def database_file(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """The file of the connection's current database (None in memory)."""
    row = conn.execute("SELECT path FROM duckdb_databases() "
                       "WHERE database_name = current_database()").fetchone()
    return Path(row[0]) if row and row[0] else None


def publish(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """Publish the working copy `conn` writes as the warehouse readers open; returns its path.

    Call it with no transaction open, holding the working copy's write lock (as every writer
    does), so no other process changes the file while it is copied. Steps: checkpoint (fold the
    write-ahead log into the file), copy beside the published file, open the copy read-only to
    prove it is a whole warehouse, `os.replace` it over the published file. A kill at any step
    leaves the previous snapshot in place (and a `.partial` file the next publish removes).
    Returns None (and does nothing) when `conn` is not on a working copy.
    """
    working = database_file(conn)
    target = published_path(working) if working else None
    if target is None:
        return None
    conn.execute("CHECKPOINT")
    for stale in target.parent.glob(f".{target.name}.publish-*.partial"):
        stale.unlink(missing_ok=True)  # left by a publish that was killed
    partial = target.with_name(f".{target.name}.publish-{os.getpid()}.partial")
    try:
        _copy(working, partial)
        check = duckdb.connect(str(partial), read_only=True, config=dict(_SETTINGS))
        try:
            check.execute("SELECT count(*) FROM duckdb_tables()").fetchall()
        finally:
            check.close()
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return target


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    """The single value of a one-row, one-column query (the result is fully consumed)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
