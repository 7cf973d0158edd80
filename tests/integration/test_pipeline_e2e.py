"""The demo organisation end to end through Dagster, and the CLI a user types."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from pipelines.demo.generator import OrgShape, org_config, team_trends


def test_demo_runs_through_dagster(demo_run) -> None:
    config = demo_run.config
    assert set(demo_run.seconds) >= {"ingest", "warehouse", "metrics"}
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        teams = {r[0] for r in conn.execute("SELECT DISTINCT team FROM team_metrics").fetchall()}
        expected = {t["name"] for t in org_config(OrgShape())["teams"]}
        assert expected <= teams
        weeks = conn.execute(
            "SELECT count(DISTINCT period_start) FROM team_metrics WHERE grain = 'week'"
        ).fetchone()[0]
        assert weeks >= 50  # 12 months of weekly rows, empty weeks included
        # The demo exercises every kind of outcome.
        reasons = {r[0] for r in conn.execute(
            "SELECT DISTINCT unnest(failure_reasons) FROM deployment_outcomes").fetchall()}
        assert reasons == {"incident", "rollback", "implicit_rollback", "fix"}
        # Properties that must hold for every period.
        bad = conn.execute(
            "SELECT count(*) FROM team_metrics WHERE change_failure_rate NOT BETWEEN 0 AND 1 "
            "OR failed_deployments > deployments OR slos_met > slos_total "
            "OR lead_time_p50_hours > lead_time_p90_hours OR deploy_days > deployments"
        ).fetchone()[0]
        assert bad == 0
        # org_metrics counts every team's records: sums match per period.
        mismatch = conn.execute(
            "SELECT count(*) FROM org_metrics o JOIN (SELECT grain, period_start, "
            "sum(deployments) AS d, sum(changes) AS c FROM team_metrics GROUP BY ALL) t "
            "USING (grain, period_start) WHERE o.deployments <> t.d OR o.changes <> t.c"
        ).fetchone()[0]
        assert mismatch == 0


def test_demo_trends_are_detectable(demo_run) -> None:
    """Teams the generator makes improve show a falling monthly lead time, and vice versa."""
    from metrics.stats import trend

    trends = team_trends(OrgShape())
    with duckdb.connect(str(demo_run.config.warehouse_path), read_only=True) as conn:
        for team, direction in trends.items():
            values = [r[0] for r in conn.execute(
                "SELECT lead_time_p50_hours FROM team_metrics WHERE team = ? AND grain = 'month'"
                " ORDER BY period_start", [team]).fetchall()]
            found = trend(values, lower_is_better=True).direction
            if direction == "improving":
                assert found == "improving", (team, values)
            elif direction == "worsening":
                assert found == "worsening", (team, values)


def test_cli_help_explains_every_command() -> None:
    exe = Path(sys.executable).with_name("dora-pipeline")
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    for command in ("demo", "run", "report", "check"):
        assert command in out.stdout
    out = subprocess.run([str(exe), "run", "--help"], capture_output=True, text=True, check=True)
    assert "--config" in out.stdout


def test_cli_bad_config_is_one_clear_message(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("dora-pipeline")
    config = tmp_path / "dora.yaml"
    config.write_text("teams: []\nwarehose: x.duckdb\n")
    out = subprocess.run([str(exe), "run", "--config", str(config)], capture_output=True,
                         text=True)
    assert out.returncode == 2
    assert "line 2" in out.stderr and "warehose" in out.stderr
    assert "Traceback" not in out.stderr


def test_dg_check_defs() -> None:
    dg = Path(sys.executable).with_name("dg")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([str(dg), "check", "defs"], capture_output=True, text=True, cwd=root,
                         env={**os.environ, "DORA_CONFIG": "demo/dora.yaml"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "All definitions loaded successfully" in out.stdout + out.stderr
