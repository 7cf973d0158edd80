"""A rerun with nothing changed skips the metrics and reports it would only repeat, and leaves
the warehouse what a fresh build gives; any change to the inputs, the config or the reports
folder brings the work back (pipelines/unchanged.py)."""

from __future__ import annotations

import gc
import json
import os
import shutil
import time
from pathlib import Path

import duckdb
import known_answers as ka
import pytest
from eventkit import write_config, write_events
from faultkit import table_checksums

from pipelines.cli import main as cli
from pipelines.config import load_config
from pipelines.reports.run import report_stage
from pipelines.runner import run_pipeline

SKIPPED = "nothing changed since the last complete run; skipped"


def _run(config_path: Path) -> list[str]:
    said: list[str] = []
    run_pipeline(config_path, progress=said.append, extra_stages=[("reports", report_stage)])
    assert gc.get_freeze_count() == 0  # the run gave back what it froze (pipelines.collector)
    return said


def _skipped(said: list[str]) -> set[str]:
    return {line.split(":")[0] for line in said if line.endswith(SKIPPED)}


def _inputs(root: Path, incidents: list[dict]) -> Path:
    write_events(root / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=incidents)
    return write_config(root)


def test_a_rerun_with_nothing_new_skips_metrics_and_reports(tmp_path: Path) -> None:
    config_path = _inputs(tmp_path / "org", ka.INCIDENTS)
    assert _skipped(_run(config_path)) == set()
    warehouse = load_config(config_path).warehouse_path
    first = table_checksums(warehouse)

    assert _skipped(_run(config_path)) == {"metrics", "reports"}
    assert table_checksums(warehouse) == first

    # Edit one incident: the work comes back, and the result is a fresh build's.
    edited = [{**ka.INCIDENTS[0], "title": "edited"}, *ka.INCIDENTS[1:]]
    write_events(config_path.parent / "events", incidents=edited)
    assert _skipped(_run(config_path)) == set()
    fresh = _inputs(tmp_path / "fresh", edited)
    _run(fresh)
    edited_sums = table_checksums(warehouse)
    assert {t: s for t, s in edited_sums.items() if t != "landing_inputs"} == {
        t: s for t, s in table_checksums(load_config(fresh).warehouse_path).items()
        if t != "landing_inputs"}

    # A config setting the metrics read (not a table) is a change too.
    write_config(config_path.parent, min_sample=3)
    assert _skipped(_run(config_path)) == set()


def test_missing_reports_are_written_again(tmp_path: Path) -> None:
    config_path = _inputs(tmp_path, ka.INCIDENTS)
    _run(config_path)
    reports = load_config(config_path).reports_path
    (reports / "index.html").unlink()
    assert _skipped(_run(config_path)) == {"metrics"}
    assert (reports / "index.html").exists()
    shutil.rmtree(reports)
    assert _skipped(_run(config_path)) == {"metrics"}
    assert (reports / "index.html").exists()


# ---- `dora-pipeline run` with nothing changed on disk: no work at all --------------------------

WHOLE = "nothing changed since the last complete run (inputs, config, code, warehouse and reports)"
AN_HOUR_AGO = time.time() - 3600


def _settle(folder: Path, when: float = AN_HOUR_AGO) -> None:
    """Date every file of `folder` in the past, as inputs that have been there a while."""
    for path in folder.rglob("*"):
        os.utime(path, (when, when))


def _cli_run(config_path: Path, capfd: pytest.CaptureFixture[str]) -> str:
    capfd.readouterr()
    assert cli(["run", "--config", str(config_path)]) == 0
    return capfd.readouterr().err


def _deployments(config_path: Path) -> int:
    conn = duckdb.connect(str(load_config(config_path).warehouse_path), read_only=True)
    try:
        return conn.execute("SELECT count(*) FROM deployments").fetchone()[0]
    finally:
        conn.close()


def test_a_cli_run_with_nothing_changed_on_disk_does_no_work(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config_path = _inputs(tmp_path / "org", ka.INCIDENTS)
    events = config_path.parent / "events"
    _settle(events)
    assert WHOLE not in _cli_run(config_path, capfd)
    sums = table_checksums(load_config(config_path).warehouse_path)

    said = _cli_run(config_path, capfd)
    assert WHOLE in said and "ingest" not in said
    assert table_checksums(load_config(config_path).warehouse_path) == sums

    # One more deployment: the run does its work and loads it.
    before = _deployments(config_path)
    extra = {**ka.DEPLOYMENTS[-1], "id": "dep-added-later"}
    with (events / "deployments.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(extra) + "\n")
    _settle(events, AN_HOUR_AGO + 60)
    said = _cli_run(config_path, capfd)
    assert WHOLE not in said and "ingest" in said
    assert _deployments(config_path) == before + 1
    assert WHOLE in _cli_run(config_path, capfd)

    # The same size, another modification time: a change too.
    path = events / "incidents.jsonl"
    path.write_bytes(path.read_bytes().replace(b"INC-", b"INX-", 1))
    _settle(events, AN_HOUR_AGO + 120)
    assert WHOLE not in _cli_run(config_path, capfd)


def test_whole_run_skip_needs_settled_inputs_and_the_same_warehouse(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """An input modified within the last seconds could change again unseen by its stamp: that
    run records no stamps, so the next one works. A warehouse file replaced or removed since the
    last run brings the work back too."""
    config_path = _inputs(tmp_path / "org", ka.INCIDENTS)
    events = config_path.parent / "events"
    _settle(events, time.time() + 30)  # modified "just now" whatever the machine's speed
    _cli_run(config_path, capfd)
    assert WHOLE not in _cli_run(config_path, capfd)  # nothing was recorded to skip by
    _settle(events)
    assert WHOLE not in _cli_run(config_path, capfd)  # other stamps than the last run's
    assert WHOLE in _cli_run(config_path, capfd)

    warehouse = load_config(config_path).warehouse_path
    warehouse.unlink()
    said = _cli_run(config_path, capfd)
    assert WHOLE not in said and warehouse.exists()
    assert WHOLE in _cli_run(config_path, capfd)


def test_the_run_after_the_demo_skips_everything(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The demo dates the event files it wrote as settled, so its own run records the stamps,
    and `run` right after it (the README's next step) repeats nothing; an edit then counts."""
    folder = tmp_path / "demo"
    assert cli(["demo", "--dir", str(folder)]) == 0
    config_path = folder / "dora.yaml"
    said = _cli_run(config_path, capfd)
    assert WHOLE in said and "ingest" not in said

    incidents = folder / "events" / "incidents.jsonl"
    incidents.write_bytes(incidents.read_bytes().replace(b"INC-", b"INX-", 1))
    _settle(incidents.parent, time.time() - 10)  # an edit: dated now, yet settled
    assert WHOLE not in _cli_run(config_path, capfd)
