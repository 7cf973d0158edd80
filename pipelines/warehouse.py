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

The landing is the source of truth, and these files are rebuilt from it: a damaged working copy
(truncated, zeroed, unreadable) is removed when opened for writing and the run rebuilds it; a
damaged published file is never copied into a working copy, and a copy that does not read back
whole is never published (`verify`). Errors a user can act on are `UserError`s whose message
says what to do (`pipelines.errors`).

Nothing is downloaded at run time: extension auto-install and auto-load are off.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import tenacity

from pipelines.atomic import file_stamp, write_text_atomically
from pipelines.errors import DAMAGED_SIGNS, LOCK_SIGNS, UserError, notice

# No extension may be fetched at run time on these machines (and a pipeline should not need to).
_SETTINGS = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
WORKING_SUFFIX = ".working"
# A DuckDB file is its 3 headers of 4 KiB, then its blocks (see `_truncated`).
_HEADER_BYTES = 3 * 4096
# Faults of the machine, not of the file: opening fails, but the file is not damaged.
_NOT_DAMAGE = (*LOCK_SIGNS, "No space left", "Disk quota", "Permission denied",
               "Operation not permitted", "Read-only file system", "No such file",
               "Is a directory", "too long", "Out of Memory", "out of memory")


class WarehouseBusy(UserError, RuntimeError):
    """Another process holds the warehouse file for longer than we were willing to wait."""


class WarehouseMissing(UserError, FileNotFoundError):
    """The published warehouse does not exist yet (no run has published one)."""


class WarehouseDamaged(UserError, RuntimeError):
    """A warehouse file that DuckDB cannot read whole (truncated, zeroed, corrupt)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"the warehouse file {path} is damaged ({reason}): run "
                         "`dora-pipeline run` again; it rebuilds the warehouse from the landing")
        self.path, self.reason = path, reason

    def __reduce__(self) -> tuple:  # picklable, for processes that pass errors on
        return type(self), (self.path, self.reason)


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
      A damaged working copy (truncated, zeroed, unreadable) is removed and started again from
      the published file, or empty when that is damaged too; the run then rebuilds it from the
      landing, which is the source of truth. The user is told in one line (`notice`).
    - `read_only=True`: the published snapshot (what notebooks, reports and the CLI read).
      A missing or damaged file raises `WarehouseMissing` / `WarehouseDamaged`.
    - `read_only=True, latest=True`: the working copy read-only, for asset checks that must see
      the tables a run has just built, before they are published (the published file when there
      is no working copy yet).

    DuckDB allows one writing process (or several read-only ones) per file. When the file is
    locked we wait, with growing pauses, up to `wait_seconds` (default: env
    `DORA_WAREHOUSE_WAIT_SECONDS`, else 120) and then raise `WarehouseBusy`, whose message says
    what to do.
    """
    path = Path(path)
    if wait_seconds is None:
        wait_seconds = float(os.environ.get("DORA_WAREHOUSE_WAIT_SECONDS", "120"))
    deadline = time.monotonic() + wait_seconds
    if read_only:
        target = working_path(path) if latest and working_path(path).exists() else path
        if not target.exists():
            raise WarehouseMissing(f"the warehouse {path} does not exist yet: run "
                                   "`dora-pipeline run` first")
        return _open(target, True, deadline, wait_seconds, shown=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = working_path(path)
    if _damage_marker(target).exists():
        _discard_if_damaged(target, "a copy of it did not read back whole", shown=path)
    if not target.exists() and path.exists():
        _seed_working_copy(path, target, deadline, wait_seconds)
    try:
        return _open(target, False, deadline, wait_seconds, shown=path)
    except WarehouseDamaged as exc:
        _discard_if_damaged(target, exc.reason, shown=path)
    if not target.exists() and path.exists():
        _seed_working_copy(path, target, deadline, wait_seconds)
    return _open(target, False, deadline, wait_seconds, shown=path)


def _open(target: Path, read_only: bool, deadline: float, wait_seconds: float,
          shown: Path) -> duckdb.DuckDBPyConnection:
    """`duckdb.connect`, retrying while another process holds the file's lock; a file DuckDB
    cannot read (or shorter than its own header says) raises `WarehouseDamaged`."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_is_lock),
        # 0.05 s, 0.1 s, 0.2 s … at most 1 s between attempts, until the deadline.
        wait=tenacity.wait_exponential(multiplier=0.05, max=1.0),
        stop=lambda _state: time.monotonic() >= deadline,
        reraise=True,
    )
    try:
        conn = retrying(duckdb.connect, str(target), read_only=read_only,
                        config=dict(_SETTINGS))
    except duckdb.Error as exc:
        if _is_lock(exc):
            who = ("another run is building it" if target != shown
                   else "a run is writing it, or a reader such as a notebook has it open")
            raise WarehouseBusy(
                f"warehouse {shown} is in use by another process ({who}) and stayed busy "
                f"for {wait_seconds:.0f}s; wait for it to finish or close it, then run "
                "again (DORA_WAREHOUSE_WAIT_SECONDS sets how long to wait)"
            ) from None
        if _is_damage(exc):
            raise WarehouseDamaged(target, _reason(exc)) from exc
        raise
    try:
        short = _truncated(conn, target)
    except BaseException:
        conn.close()
        raise
    if short:
        conn.close()
        raise WarehouseDamaged(target, short)
    return conn


def _is_lock(exc: BaseException) -> bool:
    return isinstance(exc, duckdb.IOException) and any(s in str(exc) for s in LOCK_SIGNS)


def _is_damage(exc: BaseException) -> bool:
    text = str(exc)
    return not any(s in text for s in _NOT_DAMAGE) and (
        any(s in text for s in DAMAGED_SIGNS) or isinstance(
            exc, duckdb.IOException | duckdb.SerializationException | duckdb.InternalException
            | duckdb.FatalException))


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if "not a valid DuckDB database file" in text:
        return "not a DuckDB file"
    if "Could not read enough bytes" in text:
        return "truncated"
    if "checksum" in text:
        return "a block fails its checksum"
    return text.strip().splitlines()[0][:200] if text.strip() else type(exc).__name__


def _truncated(conn: duckdb.DuckDBPyConnection, target: Path) -> str | None:
    """Why the file is shorter than its header says (None when it is not): DuckDB reads a
    block only when a query needs it, so a file cut after its catalog still opens. The blocks
    in use must all be in the file (free ones at its end may have been cut off by DuckDB)."""
    rows = conn.execute("SELECT block_size, used_blocks FROM pragma_database_size() "
                        "WHERE database_name = current_database()").fetchall()
    if not rows or not rows[0][0]:
        return None
    expected = _HEADER_BYTES + int(rows[0][0]) * int(rows[0][1])
    size = target.stat().st_size
    return f"truncated: {size:,} of at least {expected:,} bytes" if size < expected else None


def verify(conn: duckdb.DuckDBPyConnection) -> None:
    """Read every block of every table (DuckDB checks each block's checksum as it reads it);
    raises `WarehouseDamaged` when one cannot be read. Costs one scan of the file."""
    path = database_file(conn) or Path(":memory:")
    try:
        tables = [r[0] for r in conn.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database()").fetchall()]
        for table in tables:  # names from the catalog, quoted
            sql = f'SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM "{table}"'  # noqa: S608
            conn.execute(sql).fetchall()
    except duckdb.Error as exc:
        if _is_damage(exc):
            raise WarehouseDamaged(path, _reason(exc)) from exc
        raise


def verified(path: Path) -> str | None:
    """Why the DuckDB file `path` is damaged (None: every block of every table reads)."""
    try:
        conn = _open(path, True, time.monotonic(), 0, shown=path)
        try:
            verify(conn)
        finally:
            conn.close()
    except WarehouseDamaged as exc:
        return exc.reason
    return None


def _damage_marker(working: Path) -> Path:
    return working.with_name(f".{working.name}.damaged")


@contextlib.contextmanager
def _repair_lock(working: Path) -> Iterator[None]:
    """One process at a time decides whether the working copy is damaged and removes it."""
    lock = working.with_name(f".{working.name}.repair.lock")
    with open(lock, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _discard_if_damaged(working: Path, reason: str, shown: Path) -> None:
    """Remove a damaged working copy (and its log), after checking again under a lock that it
    is still the damaged one: another process may have replaced it meanwhile."""
    with _repair_lock(working):
        marker = _damage_marker(working)
        if not working.exists():
            marker.unlink(missing_ok=True)
            return
        try:
            _open(working, False, time.monotonic(), 0, shown=shown).close()
            if not marker.exists():
                return  # whole again: another process has repaired it
            found = reason
        except WarehouseBusy:
            return  # a process is writing it (so it opened for them): not ours to remove now
        except WarehouseDamaged as exc:
            found = exc.reason
        for stale in (working, Path(f"{working}.wal")):
            stale.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        _fsync_dir(working.parent)
    notice(f"the warehouse working copy {working} was damaged ({found}); it was removed and "
           "this run rebuilds it from the landing")


def _seed_working_copy(published: Path, working: Path, deadline: float,
                       wait_seconds: float) -> None:
    """Start the working copy from the published warehouse (first run of this layout, or the
    working copy was deleted), so a single asset can be rebuilt without the others. A damaged
    published file is never copied: the working copy then starts empty."""
    if Path(f"{published}.wal").exists():
        # A warehouse written in place by an older version may hold a write-ahead log: fold it
        # into the file first, or the copy would miss the last committed changes.
        try:
            _open(published, False, deadline, wait_seconds, shown=published).close()
        except WarehouseDamaged as exc:
            _not_copied(published, exc.reason)
            return
    partial = working.with_name(f".{working.name}.seed-{os.getpid()}.partial")
    try:
        _copy(published, partial)
        damage = verified(partial)  # the copy, so a fault while copying shows too
        if damage is not None:
            _not_copied(published, damage)
            return
        # A hard link fails when the target exists: when two processes seed at once, the
        # second never replaces a working copy the first may already be writing.
        try:
            os.link(partial, working)
        except FileExistsError:
            pass
        except OSError:  # a filesystem without hard links: a rename, if still nobody has one
            if not working.exists():
                os.replace(partial, working)
    finally:
        partial.unlink(missing_ok=True)
    _fsync_dir(working.parent)


def _not_copied(published: Path, reason: str) -> None:
    notice(f"the published warehouse {published} is damaged ({reason}); it was not copied: "
           "this run rebuilds the warehouse from the landing and publishes a whole one")


# The copier run in a child process: prints the errno, its words and the file at fault when the
# copy fails. It copies in chunks and gives up (removing its half copy) as soon as the run that
# started it is gone: a killed run must not leave a process writing hundreds of MB behind it.
_COPIER = """import errno, os, sys
source, target, parent = sys.argv[1], sys.argv[2], int(sys.argv[3])
CHUNK = 1 << 24
REFUSED = (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP)
def in_kernel(src, dst):
    while os.copy_file_range(src.fileno(), dst.fileno(), CHUNK) > 0:
        yield
def chunks(src, dst):
    # In the kernel (no trip through this process) where it can; a pipe, another system or an
    # old kernel refuses at the first chunk, and then the bytes are read and written.
    if hasattr(os, "copy_file_range"):
        try:
            yield from in_kernel(src, dst)
            return
        except OSError as exc:
            if dst.tell() or exc.errno not in REFUSED:
                raise
    buffer = memoryview(bytearray(CHUNK))
    while (size := src.readinto(buffer)) > 0:
        dst.write(buffer[:size])
        yield
try:
    with open(source, "rb") as src, open(target, "wb") as dst:
        for _ in chunks(src, dst):
            if os.getppid() != parent:
                dst.close()
                os.unlink(target)
                sys.exit(4)
        dst.flush()
        os.fsync(dst.fileno())
except OSError as exc:
    print(exc.errno, exc.strerror, exc.filename or target, sep="\\n")
    sys.exit(3)
"""


def _copy(source: Path, target: Path) -> None:
    """Copy a file and flush it to disk, without opening `source` in this process.

    DuckDB locks its file with a POSIX record lock, and POSIX drops every such lock a process
    holds on a file as soon as that process closes *any* descriptor of it: copying the working
    copy here would free it for a second writer while this run still has it open. A child
    process's descriptors are its own, so the copy runs there. (Windows locks differently.)
    """
    if os.name != "posix":
        shutil.copyfile(source, target)
        with open(target, "rb+") as handle:
            os.fsync(handle.fileno())
        return
    done = subprocess.run([sys.executable, "-I", "-S", "-c", _COPIER, str(source), str(target),
                           str(os.getpid())], capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return
    lines = done.stdout.splitlines()
    if done.returncode == 3 and len(lines) >= 3 and lines[0].isdigit():
        raise OSError(int(lines[0]), lines[1], lines[2])  # names the file at fault
    raise OSError(f"copying {source} to {target} failed: "
                  f"{(done.stderr or done.stdout).strip()[-300:] or done.returncode}")


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
    rows = conn.execute("SELECT path FROM duckdb_databases() "
                        "WHERE database_name = current_database()").fetchall()
    return Path(rows[0][0]) if rows and rows[0][0] else None


def publish(conn: duckdb.DuckDBPyConnection) -> Path | None:
    """Publish the working copy `conn` writes as the warehouse readers open; returns its path.

    Call it with no transaction open, holding the working copy's write lock (as every writer
    does), so no other process changes the file while it is copied. Steps: checkpoint (fold the
    write-ahead log into the file), copy beside the published file, open the copy read-only and
    read every block of every table back (`verify`), `os.replace` it over the published file. A
    kill at any step leaves the previous snapshot in place (and a `.partial` file the next
    publish removes). A copy that does not read back whole is not published, and the working
    copy is marked for rebuilding (`WarehouseDamaged`).
    Returns None (and does nothing) when `conn` is not on a working copy.
    """
    working = database_file(conn)
    target = published_path(working) if working else None
    if target is None:
        return None
    conn.execute("CHECKPOINT")
    if _published_already(working, target):
        return target  # nothing was written since the last publish (a rerun that changed nothing)
    for stale in target.parent.glob(f".{target.name}.publish-*.partial"):
        if not _publishing(stale):
            stale.unlink(missing_ok=True)  # left by a publish that was killed
    partial = target.with_name(f".{target.name}.publish-{os.getpid()}.partial")
    try:
        copied = file_stamp(working)
        _copy(working, partial)
        damage = verified(partial)  # every block of every table reads back
        if damage is not None:
            # The working copy itself may be damaged where no query looked yet: the next
            # connect removes it and the run rebuilds it from the landing.
            _damage_marker(working).touch()
            raise WarehouseDamaged(working, f"{damage}; nothing was published")
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    _note_published(target, copied)
    return target


def _publishing(partial: Path) -> bool:
    """True when another live process is writing `partial` (`.<name>.publish-<pid>.partial`):
    it is not stale, and deleting it would fail that publish."""
    pid = partial.name.rsplit("-", 1)[-1].removesuffix(".partial")
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _publish_note(target: Path) -> Path:
    return target.with_name(f".{target.name}.published.json")


def _published_already(working: Path, target: Path) -> bool:
    """True when `target` is the copy the last publish made of `working` as it is now: a
    checkpoint with nothing to fold in leaves the working file untouched (same size,
    modification time and inode), and the published file is the one that publish wrote."""
    try:
        note = json.loads(_publish_note(target).read_text(encoding="utf-8"))
        return note == {"working": file_stamp(working), "published": file_stamp(target)}
    except (OSError, ValueError):
        return False


def _note_published(target: Path, copied: list[int]) -> None:
    """Remember what was published (written atomically; a missing note means publish again)."""
    with contextlib.suppress(OSError):  # without a note the next publish only copies again
        write_text_atomically(_publish_note(target),
                              json.dumps({"working": copied, "published": file_stamp(target)}))


def scalar(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> object:
    """The single value of a one-row, one-column query (the result is fully consumed)."""
    return conn.execute(sql, params or []).fetchall()[0][0]
