"""Publishing copies the working copy only when it changed since the last publish.

A rerun that changes nothing leaves the published file as it is (the same inode: not copied
again); a write to the working copy, or a published file changed behind our back, publishes
anew.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from pipelines.warehouse import _copy, connect, publish


def _publish(warehouse: Path, sql: str | None = None) -> int:
    """Open the working copy, run `sql`, publish; the published file's inode."""
    conn = connect(warehouse)
    try:
        if sql:
            conn.execute(sql)
        publish(conn)
    finally:
        conn.close()
    return warehouse.stat().st_ino


def test_nothing_written_means_nothing_copied(tmp_path: Path) -> None:
    warehouse = tmp_path / "dora.duckdb"
    first = _publish(warehouse, "CREATE TABLE t AS SELECT 1 AS x")
    assert _publish(warehouse) == first  # opened, checkpointed, nothing written: kept


def test_a_write_publishes_again(tmp_path: Path) -> None:
    warehouse = tmp_path / "dora.duckdb"
    first = _publish(warehouse, "CREATE TABLE t AS SELECT 1 AS x")
    assert _publish(warehouse, "INSERT INTO t VALUES (2)") != first
    conn = connect(warehouse, read_only=True)
    try:
        assert conn.execute("SELECT count(*) FROM t").fetchall() == [(2,)]
    finally:
        conn.close()


def test_a_published_file_changed_elsewhere_is_published_again(tmp_path: Path) -> None:
    warehouse = tmp_path / "dora.duckdb"
    first = _publish(warehouse, "CREATE TABLE t AS SELECT 1 AS x")
    with open(warehouse, "r+b") as handle:  # zeroed in place: same size, new mtime
        handle.seek(warehouse.stat().st_size - 4096)
        handle.write(bytes(4096))
    assert _publish(warehouse) != first
    conn = connect(warehouse, read_only=True)
    try:
        assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    finally:
        conn.close()


def test_a_partial_copy_of_a_live_publish_is_left_alone(tmp_path: Path) -> None:
    """Two runs can publish one after the other while the first is still copying: the stale
    copies a publish deletes are those of processes that are gone, never a live one's (that
    deleted the other run's copy under it, and its publish failed)."""
    warehouse = tmp_path / "dora.duckdb"
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        live = tmp_path / f".dora.duckdb.publish-{alive.pid}.partial"
        dead = tmp_path / f".dora.duckdb.publish-{gone.pid}.partial"
        live.write_bytes(b"being copied")
        dead.write_bytes(b"left by a kill")
        _publish(warehouse, "CREATE TABLE t AS SELECT 1 AS x")
        assert live.exists() and not dead.exists()
    finally:
        alive.kill()
        alive.wait()


def test_the_working_copy_stays_locked_through_a_publish(tmp_path: Path) -> None:
    """After publishing, the run still holds its working copy: a second writer is refused.

    DuckDB's lock is a POSIX record lock, which a process loses when it closes any descriptor
    of the file; a copy made by opening the working file in the run's own process freed it,
    and a second run could then open the file the first was still writing."""
    warehouse = tmp_path / "dora.duckdb"
    conn = connect(warehouse)
    try:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
        publish(conn)
        second = subprocess.run(
            [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1])",
             str(warehouse.with_name("dora.duckdb.working"))],
            capture_output=True, text=True, check=False)
        assert second.returncode != 0
        assert "lock" in second.stderr.lower()
    finally:
        conn.close()


def test_a_failed_copy_names_the_file_at_fault(tmp_path: Path) -> None:
    """The copy's error names the file that failed, not always the target."""
    missing = tmp_path / "gone.duckdb"
    try:
        _copy(missing, tmp_path / "copy.partial")
    except FileNotFoundError as exc:
        assert exc.filename == str(missing)
    else:
        raise AssertionError("copying a missing file did not fail")


def test_the_copier_stops_when_its_run_is_killed(tmp_path: Path) -> None:
    """A run killed while its copier child copies leaves no process writing behind it: the
    child notices its parent is gone and removes its half copy. The source is a FIFO, so the
    copy lasts exactly as long as this test feeds it."""
    source, target = tmp_path / "source", tmp_path / "copy.partial"
    os.mkfifo(source)
    run = subprocess.Popen([sys.executable, "-c", (
        "from pathlib import Path; from pipelines.warehouse import _copy; "
        f"_copy(Path({str(source)!r}), Path({str(target)!r}))")])
    with _writer(source) as feed:  # once the child has opened the FIFO
        run.kill()
        run.wait()
        chunk = b"x" * (1 << 24)  # the copier's buffer: each one is a check of its parent
        with contextlib.suppress(BrokenPipeError):
            for _ in range(4):
                feed.write(chunk)
        # The child exits at its next check; until then the FIFO has a reader.
        deadline = time.monotonic() + 120
        while target.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not target.exists()


@contextlib.contextmanager
def _writer(fifo: Path) -> Iterator[BinaryIO]:
    """The FIFO's write end, once a reader has opened it (an error, not a hang, when no reader
    comes within two minutes)."""
    deadline = time.monotonic() + 120
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as exc:  # ENXIO: no reader yet
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    os.set_blocking(fd, True)
    with open(fd, "wb", buffering=0) as handle:
        yield handle


def test_the_copy_is_whole_in_the_kernel_and_through_a_pipe(tmp_path: Path) -> None:
    """A file of several chunks and a ragged end copies byte for byte: a regular file in the
    kernel (copy_file_range), a FIFO (which the kernel copy refuses) read and written."""
    content = random.Random(7).randbytes(2 * (1 << 24) + 12_345)
    regular = tmp_path / "regular"
    regular.write_bytes(content)
    _copy(regular, tmp_path / "regular.copy")
    assert (tmp_path / "regular.copy").read_bytes() == content

    fifo, target = tmp_path / "fifo", tmp_path / "fifo.copy"
    os.mkfifo(fifo)
    with ThreadPoolExecutor(1) as pool:
        copying = pool.submit(_copy, fifo, target)
        with _writer(fifo) as feed:
            feed.write(content)
        copying.result(timeout=120)
    assert target.read_bytes() == content
