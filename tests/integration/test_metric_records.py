"""On the demo organisation: every number of team_metrics and org_metrics comes back from its
records in metric_records (tests/recordkit.py says how, per metric)."""

from __future__ import annotations

import duckdb
import pytest
from recordkit import REPRODUCE, mismatches

from metrics.registry import BY_COLUMN


@pytest.fixture(scope="module")
def demo(demo_run):
    conn = duckdb.connect(str(demo_run.config.warehouse_path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


@pytest.mark.slow
def test_every_number_is_reproduced_from_its_records(demo) -> None:
    assert set(REPRODUCE) == set(BY_COLUMN)
    assert mismatches(demo) == []


@pytest.mark.slow
def test_every_metric_has_records_for_teams_and_the_organisation(demo) -> None:
    """The demo has deployments, changes, failures, incidents and SLOs: no metric is empty."""
    found = demo.execute("SELECT metric, count(*) FILTER (team = 'all teams') > 0, "
                         "count(*) FILTER (team <> 'all teams') > 0 FROM metric_records "
                         "GROUP BY metric").fetchall()
    assert {m: (org, teams) for m, org, teams in found} == {
        m: (True, True) for m in BY_COLUMN}
