"""A rerun with nothing changed skips the metrics and reports it would only repeat, and leaves
the warehouse what a fresh build gives; any change to the inputs, the config or the reports
folder brings the work back (pipelines/unchanged.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import known_answers as ka
from eventkit import write_config, write_events
from faultkit import table_checksums

from pipelines.config import load_config
from pipelines.reports.run import report_stage
from pipelines.runner import run_pipeline

SKIPPED = "nothing changed since the last complete run; skipped"


def _run(config_path: Path) -> list[str]:
    said: list[str] = []
    run_pipeline(config_path, progress=said.append, extra_stages=[("reports", report_stage)])
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
