"""Two runs at once, a busy warehouse, and notebooks reading while a run writes.

The warehouse is a working copy that runs build and a published snapshot that readers open
(pipelines.warehouse). Runs queue for the working copy's lock; readers never wait for a run and
never make one wait; a reader sees one whole snapshot, never a mix of two.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import pytest
from faultkit import (
    copy_inputs,
    start_run,
    table_checksums,
    wait_for,
    warehouse_file,
)

from pipelines.cli import main as cli
from pipelines.warehouse import working_path

if TYPE_CHECKING:
    from faultkit_fixtures import Reference

pytest_plugins = ["faultkit_fixtures"]

# What a reader checks in one snapshot: the counted deployments (docs/metrics.md: success, to
# production), their outcomes, and the deployments team_metrics and org_metrics count must all
# agree. A reader that saw new deployments beside old metrics would find them apart.
SNAPSHOT_SQL = """
SELECT (SELECT count(*) FROM deployments WHERE status = 'success'
          AND lower(environment) IN ('production', 'prod'))::BIGINT,
       (SELECT count(*) FROM deployment_outcomes)::BIGINT,
       (SELECT sum(deployments) FROM team_metrics WHERE grain = 'month')::BIGINT,
       (SELECT sum(deployments) FROM org_metrics WHERE grain = 'week')::BIGINT,
       (SELECT count(*) FROM quarantine)::BIGINT
"""

# A notebook in another process. `poll`: connect, read one snapshot, disconnect, again and again
# until the stop file appears. `hold`: connect once and keep that connection, reading through it
# at the start and when the stop file appears. Every snapshot (or error) is a JSON line.
READER = textwrap.dedent("""
    import json, sys, time
    import duckdb
    mode, path, out, stop, sql = sys.argv[1:6]
    settings = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}

    def snapshot(conn):
        return list(conn.execute(sql).fetchone())

    with open(out, "w") as log:
        def record(**item):
            log.write(json.dumps(item) + "\\n")
            log.flush()
        if mode == "hold":
            conn = duckdb.connect(path, read_only=True, config=settings)
            record(seen=snapshot(conn))
            while not __import__("os").path.exists(stop):
                time.sleep(0.05)
            record(seen=snapshot(conn))
        else:
            while not __import__("os").path.exists(stop):
                try:
                    conn = duckdb.connect(path, read_only=True, config=settings)
                    try:
                        record(seen=snapshot(conn))
                    finally:
                        conn.close()
                except Exception as exc:
                    record(error=f"{type(exc).__name__}: {exc}")
                time.sleep(0.03)
""")

NEW_DEPLOYMENTS = [
    {"id": "N1", "service": "api", "environment": "production", "revision": "c9",
     "finished_at": "2026-02-02T10:00:00Z", "status": "success"},
    {"id": "N2", "service": "api", "environment": "prod", "revision": "c9",
     "finished_at": "2026-02-03T10:00:00Z", "status": "success"},
]


def _reader(mode: str, warehouse: Path, folder: Path) -> tuple[subprocess.Popen, Path]:
    out = folder / f"{mode}.jsonl"
    process = subprocess.Popen([sys.executable, "-c", READER, mode, str(warehouse), str(out),
                                str(folder / "stop"), SNAPSHOT_SQL])
    return process, out


def _seen(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def _snapshot(warehouse: Path) -> list[int]:
    conn = duckdb.connect(str(warehouse), read_only=True)
    try:
        return list(conn.execute(SNAPSHOT_SQL).fetchone())
    finally:
        conn.close()


def test_readers_see_whole_snapshots_and_never_block_a_run(reference: Reference,
                                                           tmp_path: Path) -> None:
    """Snapshot A is published; a run builds B. A notebook holding a connection keeps seeing A;
    one reconnecting sees A until B is published whole, then B, and never anything between.
    The run, told to wait at most 5 s for a lock, never has to: readers do not hold it."""
    org = tmp_path / "org" / "dora.yaml"
    shutil.copytree(reference.run, org.parent)  # inputs, landing, working copy, snapshot A
    warehouse = warehouse_file(org)
    assert table_checksums(warehouse) == reference.checksums
    a = _snapshot(warehouse)
    assert a[0] == a[1] == a[2] == a[3] > 0

    with (org.parent / "events" / "deployments.jsonl").open("a", encoding="utf-8") as handle:
        handle.writelines(json.dumps(d) + "\n" for d in NEW_DEPLOYMENTS)
        handle.write("{not json\n")
    holder, held = _reader("hold", warehouse, tmp_path)
    poller, polled = _reader("poll", warehouse, tmp_path)
    try:
        wait_for(lambda: held.exists() and held.stat().st_size > 0, 60, "the holding reader")
        wait_for(lambda: polled.exists() and polled.stat().st_size > 0, 60, "the polling reader")
        env = {"DORA_WAREHOUSE_WAIT_SECONDS": "5"}
        # The run, held inside a metric asset's transaction: B's canonical tables are
        # committed in the working copy, its metrics half written. Readers still see all of A.
        run = start_run(org, pause="outcomes", env=env)
        assert run.reached() == "outcomes"
        time.sleep(0.3)
        assert _snapshot(warehouse) == a
        run.release()
        assert run.wait() == 0, run.error
        b = _snapshot(warehouse)
        wait_for(lambda: _seen(polled)[-1].get("seen") == b, 30, "the poller to see B")
    finally:
        (tmp_path / "stop").touch()
        holder.wait(30)
        poller.wait(30)

    assert b != a and b[0] == b[1] == b[2] == b[3] == a[0] + len(NEW_DEPLOYMENTS)
    assert b[4] == a[4] + 1  # the bad line is quarantined, not lost
    assert [item["seen"] for item in _seen(held)] == [a, a]  # a held connection: one snapshot
    polled_items = _seen(polled)
    assert [item for item in polled_items if "error" in item] == []
    states = [item["seen"] for item in polled_items]
    assert set(map(tuple, states)) == {tuple(a), tuple(b)}
    # Once B appeared, A never came back: snapshots only move forward.
    assert states == sorted(states, key=lambda s: s != a)


def test_two_runs_at_once_queue_and_give_the_same_warehouse(reference: Reference,
                                                            tmp_path: Path) -> None:
    """Both runs start together on a fresh folder: they land the same batches and take turns
    with the working copy. Both succeed, and the warehouse is what one run alone gives."""
    org = copy_inputs(reference.template, tmp_path / "org")
    first, second = start_run(org), start_run(org)
    assert (first.wait(), second.wait()) == (0, 0), first.error + second.error
    assert table_checksums(warehouse_file(org)) == reference.checksums


def test_a_busy_warehouse_fails_the_run_with_a_clear_message(
        reference: Reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Another process holds the working copy (a run that hangs, say) longer than the run will
    wait: the CLI says so in one line, exits 1, and the published warehouse is untouched."""
    org = copy_inputs(reference.template, tmp_path / "org")
    warehouse = warehouse_file(org)
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from pipelines.warehouse import connect
        conn = connect(Path(sys.argv[1]))  # read-write: the working copy's lock
        Path(sys.argv[2]).touch()
        time.sleep(120)
    """), str(warehouse), str(tmp_path / "holding")])
    try:
        wait_for((tmp_path / "holding").exists, 60, "the holder to take the lock")
        assert working_path(warehouse).exists() and not warehouse.exists()
        monkeypatch.setenv("DORA_WAREHOUSE_WAIT_SECONDS", "1")
        started = time.monotonic()
        code = cli(["run", "--config", str(org)])
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait(30)
    # The console wraps long lines (even inside a path): compare without whitespace.
    err = "".join(capsys.readouterr().err.split())
    assert code == 1
    for sentence in (f"run failed: warehouse {warehouse} is in use by another process",
                     "wait for it to finish or close it, then run again"):
        assert "".join(sentence.split()) in err
    assert waited < 60
    assert not warehouse.exists()  # nothing half-built was published
