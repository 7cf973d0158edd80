"""DORA metrics computed from a GitHub sync: the small repository of fake_github/scenarios.py,
synced, built into the warehouse by the lead's build, and checked against values worked by hand.

Worked by hand (T = Mon 2025-02-03 09:00 UTC; service `app` of team `payments`):
- production deployments that count (success): d1 (merge of #1, T+2h40), release v1.0 (merge of
  #1, T+3h), d2 (squash of #2, T+4h40). d3 is staging and unfinished.
- d1 is the service's first deployment: PR #1 and the initial commit are the baseline.
- PR #2 is delivered by d2: start = its commit's author time T+2h50, so lead time = 1h50 =
  1.8333 h; coding = created T+3h − T+2h50 = 10 min; deploy = T+4h40 − merged T+4h = 40 min;
  pickup is NULL (its only review is by a bot). PR #3 is open: not a change.
- incident #4 (cause change, opened T+5h) is attributed to d2, the last production deployment
  before it: d2 failed, restored when #4 closed at T+6h → 1h20 = 1.3333 h. Time to restore 1 h.
- week of 2025-02-03: 3 deployments on 1 day, 1 change, CFR 1/3.
"""

from __future__ import annotations

import duckdb
import pytest
from fake_github.helpers import FIXED_NOW, settings, write_config
from fake_github.scenarios import H, M, T, small_repo
from fake_github.server import FakeGithub

from pipelines.build import build_warehouse, compute_metrics
from pipelines.sources.github import sync_repo

pytest_plugins = ["fake_github.fixtures"]


@pytest.fixture
def warehouse(fake_github: FakeGithub, tmp_path):
    scenario = small_repo()
    fake_github.add_repo(scenario.repo)
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    sync_repo(config, config.sources[0], "github-0", "acme/app", settings=settings([]),
              log=lambda _m: None, now=FIXED_NOW)
    build_warehouse(config)
    compute_metrics(config)
    conn = duckdb.connect(str(config.warehouse_path), read_only=True,
                          config={"autoinstall_known_extensions": False})
    yield scenario, conn
    conn.close()


def test_lead_time_of_the_delivered_pull_request(warehouse):
    s, conn = warehouse
    rows = conn.sql("SELECT change_id, deployment_id, delivered_at, lead_time_hours, "
                    "coding_hours, pickup_hours, deploy_hours FROM changes").fetchall()
    assert len(rows) == 1
    change_id, deployment_id, delivered_at, lead, coding, pickup, deploy = rows[0]
    assert change_id == "acme/app#2"
    assert deployment_id == f"gh-acme/app-{s.d2.database_id}"
    assert delivered_at == T + 4 * H + 40 * M
    assert lead == pytest.approx(1 + 50 / 60)
    assert coding == pytest.approx(10 / 60)
    assert pickup is None
    assert deploy == pytest.approx(40 / 60)


def test_failed_deployment_and_recovery(warehouse):
    s, conn = warehouse
    failed = conn.sql("SELECT id, restored_at FROM deployment_outcomes WHERE failed").fetchall()
    assert failed == [(f"gh-acme/app-{s.d2.database_id}", T + 6 * H)]


def test_weekly_team_metrics(warehouse):
    _s, conn = warehouse
    row = conn.sql(
        "SELECT deployments, deploy_days, changes, lead_time_p50_hours, failed_deployments, "
        "change_failure_rate, fdrt_p50_hours, incidents_opened, incidents_resolved, "
        "time_to_restore_p50_hours, rework_deployments FROM team_metrics "
        "WHERE team = 'payments' AND grain = 'week' AND period_start = DATE '2025-02-03'"
    ).fetchall()
    ((deployments, days, changes, lead, failed, cfr, fdrt, opened, resolved, ttr, rework),) = row
    assert (deployments, days, changes, failed, opened, resolved, rework) == (3, 1, 1, 1, 1, 1, 0)
    assert lead == pytest.approx(1 + 50 / 60)
    assert cfr == pytest.approx(1 / 3)
    assert fdrt == pytest.approx(1 + 20 / 60)
    assert ttr == pytest.approx(1.0)


def test_quarantined_incident_is_in_the_warehouse(warehouse):
    _s, conn = warehouse
    rows = conn.sql("SELECT entity, record_key, field FROM quarantine").fetchall()
    assert rows == [("incidents", "gh-acme/app-issue-6", "cause")]
