"""A real `dagster-daemon` keeps the reports fresh by itself (docs/operations.md).

With a temporary DAGSTER_HOME holding the project's dagster.yaml and the ingest cron set to every
minute, the daemon's automation sensor (RUNNING by default) ingests the event folder, rebuilds
the warehouse and the metrics and writes the team page; after a new event file arrives, it does
it again, and the page shows the new incident. Nobody launches anything. Polls with generous
timeouts; nothing about timing is asserted.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import dagster as dg
import known_answers as ka
import pytest
from eventkit import write_config, write_events
from processkit import stop_group

from pipelines.config import load_config
from pipelines.reports.page import page_name

ROOT = Path(__file__).resolve().parents[2]
TEAM = "payments"
NEW_INCIDENT = {"id": "INC-ARRIVED-42", "service": "api", "opened_at": "2026-01-28T10:00:00Z",
                "resolved_at": "2026-01-28T11:00:00Z", "cause": "change"}
T = TypeVar("T")


def _poll(what: str, probe: Callable[[], T | None], proc: subprocess.Popen, log: Path,
          timeout: float = 900) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        assert proc.poll() is None, f"the daemon exited:\n{log.read_text()[-3000:]}"
        time.sleep(3)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _latest_report(instance: dg.DagsterInstance) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("team_report"), asset_partitions=[TEAM]),
        limit=1).records
    return records[0] if records else None


@pytest.mark.slow
def test_the_daemon_refreshes_the_reports_when_new_event_files_arrive(tmp_path: Path) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    events = tmp_path / "events"
    write_events(events, commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS)
    config = load_config(write_config(tmp_path))
    page = config.reports_path / page_name(TEAM)
    env = {**os.environ, "DAGSTER_HOME": str(home), "DORA_CONFIG": str(tmp_path / "dora.yaml"),
           "DORA_INGEST_CRON": "* * * * *", "DAGSTER_DISABLE_TELEMETRY": "1"}
    # Create the instance's SQLite storage before anything else opens it: the daemon, its run
    # workers and this test starting on an empty folder at once would race to create it.
    with dg.DagsterInstance.from_config(str(home)):
        pass
    log = tmp_path / "daemon.log"
    daemon = Path(sys.executable).with_name("dagster-daemon")
    with log.open("w") as out:
        proc = subprocess.Popen([str(daemon), "run", "-m", "pipelines.definitions"],
                                cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            first = _poll("the first team page", lambda: _latest_report(instance)
                          if page.exists() else None, proc, log)
            assert "INC-ARRIVED-42" not in page.read_text(encoding="utf-8")

            # A new event file arrives; the next cron tick lands it, and the rest follows.
            write_events(events, incidents=[*ka.INCIDENTS, NEW_INCIDENT])

            def refreshed() -> dg.EventLogRecord | None:
                latest = _latest_report(instance)
                if latest is None or latest.storage_id <= first.storage_id:
                    return None
                return latest if "INC-ARRIVED-42" in page.read_text(encoding="utf-8") else None

            second = _poll("the refreshed team page", refreshed, proc, log)
            run = instance.get_run_by_id(second.run_id)
            assert run is not None
            # Launched by the automation, as one warehouse writer (the queue's tag limit).
            assert run.tags.get("dora/writer") == "warehouse"
            assert "dagster/from_automation_condition" in run.tags, run.tags
            incidents = instance.fetch_materializations(dg.AssetKey("incidents"), limit=10)
            assert len(incidents.records) >= 2  # the warehouse was rebuilt for the new file
    finally:
        stop_group(proc, timeout=60)
