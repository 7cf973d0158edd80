"""`dora-pipeline explain`: a number of team_metrics and its records, on the known answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events

from pipelines.cli import main


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    write_events(root / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS, sli=ka.SLI)
    path = write_config(root, slos=ka.SLOS)
    load_and_build(path)
    return path


def _explain(capsys: pytest.CaptureFixture, config: Path, *args: str) -> tuple[int, str, str]:
    code = main(["explain", "--config", str(config), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_the_documented_shape(config_path: Path, capsys) -> None:
    """Week of 2026-01-05: 5 of 8 deployments failed (tests/known_answers.py)."""
    code, out, _ = _explain(capsys, config_path, "--team", "payments", "--metric",
                            "change_failure_rate", "--period", "2026-01-05", "--format", "json")
    assert code == 0
    answer = json.loads(out)
    assert list(answer) == ["team", "grain", "period_start", "metric", "value", "sample_size",
                            "records"]
    assert (answer["team"], answer["grain"], answer["period_start"], answer["metric"]) == (
        "payments", "week", "2026-01-05", "change_failure_rate")
    assert (answer["value"], answer["sample_size"]) == (0.625, 8)
    assert [list(r) for r in answer["records"]] == [["kind", "id", "value_hours", "detail"]] * 8
    failed = {r["id"]: r["detail"] for r in answer["records"] if r["detail"]}
    assert failed == {"D3": "incident I1", "D4": "implicitly rolled back by D5",
                      "D6": "incident I3; implicitly rolled back by D7; rolled back by D7",
                      "D7": "fixed by D8", "D8": "incident I2"}


def test_a_median_and_its_sample(config_path: Path, capsys) -> None:
    """Recovery times 2, 4, 19, 20 h → median 11.5 h over 4 recovered failures."""
    code, out, _ = _explain(capsys, config_path, "--team", "payments", "--metric",
                            "fdrt_p50_hours", "--period", "2026-01-07", "--format", "json")
    answer = json.loads(out)
    assert code == 0 and answer["period_start"] == "2026-01-05"  # a date inside the week
    assert (answer["value"], answer["sample_size"]) == (11.5, 4)
    assert [(r["id"], r["value_hours"]) for r in answer["records"]] == [
        ("D6", 2.0), ("D3", 4.0), ("D7", 19.0), ("D4", 20.0)]


def test_month_grain_and_the_organisation(config_path: Path, capsys) -> None:
    """February has D9 only; the organisation's January has the 8 deployments of payments."""
    code, out, _ = _explain(capsys, config_path, "--team", "payments", "--metric",
                            "deployments", "--period", "2026-02-01", "--grain", "month",
                            "--format", "json")
    assert code == 0 and json.loads(out)["value"] == 1
    assert [r["id"] for r in json.loads(out)["records"]] == ["D9"]
    code, out, _ = _explain(capsys, config_path, "--team", "all teams", "--metric",
                            "deployments", "--period", "2026-01-01", "--grain", "month",
                            "--format", "json")
    assert code == 0 and json.loads(out)["value"] == 8


def test_text_names_the_value_and_each_record(config_path: Path, capsys) -> None:
    code, out, _ = _explain(capsys, config_path, "--team", "payments", "--metric",
                            "time_to_restore_p50_hours", "--period", "2026-01-05")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == ("payments · week of 2026-01-05 · time to restore "
                        "(time_to_restore_p50_hours) = 2.000 hours; sample size 3")
    assert lines[1:] == ["3 records:",
                         "  incident I5  1.00 h  service api, cause infrastructure",
                         "  incident I3  2.00 h  service api, cause unknown",
                         "  incident I1  3.50 h  service api, cause change"]


@pytest.mark.parametrize(("args", "needle"), [
    (["--team", "nobody", "--metric", "deployments", "--period", "2026-01-05"],
     "unknown team 'nobody'; known teams: payments, unassigned, all teams"),
    (["--team", "payments", "--metric", "recovery_hours", "--period", "2026-01-05"],
     "unknown metric 'recovery_hours'; known metrics: deployments, deploy_days"),
    (["--team", "payments", "--metric", "deployments", "--period", "2025-06-02"],
     "no week starting 2025-06-02 for team 'payments'; its weeks run from 2026-01-05 to "
     "2026-01-26"),
])
def test_unknown_input_is_one_clear_line(config_path: Path, capsys, args: list[str],
                                         needle: str) -> None:
    code, out, err = _explain(capsys, config_path, *args)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and needle in " ".join(err.split())


def test_text_of_a_rate(config_path: Path, capsys) -> None:
    code, out, _ = _explain(capsys, config_path, "--team", "payments", "--metric",
                            "rework_rate", "--period", "2026-01-05")
    assert code == 0 and out.splitlines()[:3] == [
        "payments · week of 2026-01-05 · rework rate (rework_rate) = 0.375 (37.5%); "
        "sample size 8", "3 records:", "  deployment D5  implicitly rolls back D4"]


def test_the_installed_command_runs(config_path: Path) -> None:
    """The console script's module entry point, in its own process."""
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "explain", "--config", str(config_path),
         "--team", "payments", "--metric", "rework_rate", "--period", "2026-01-05",
         "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert (answer["value"], answer["sample_size"]) == (0.375, 8)
    assert [r["id"] for r in answer["records"]] == ["D5", "D7", "D8"]
