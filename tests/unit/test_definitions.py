"""Every rule of docs/metrics.md against hand-worked numbers (see tests/known_answers.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events
from recordkit import REPRODUCE, mismatches

from metrics.compute import sql_text
from metrics.registry import BY_COLUMN
from pipelines.cli import SUMMARY_COLUMNS

WEEK1 = dt.date(2026, 1, 5)


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("known")
    write_events(root / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS, sli=ka.SLI)
    config = load_and_build(write_config(root, slos=ka.SLOS))
    conn = duckdb.connect(str(config.warehouse_path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


def _row(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict:
    rel = conn.execute(sql, params or [])
    names = [d[0] for d in rel.description]
    row = rel.fetchone()
    assert row is not None, f"no row for {sql} {params}"
    return dict(zip(names, row, strict=True))


def week(conn: duckdb.DuckDBPyConnection, start: dt.date, team: str = "payments") -> dict:
    return _row(conn, "SELECT * FROM team_metrics WHERE team = ? AND grain = 'week' "
                      "AND period_start = ?", [team, start])


def test_changes_and_lead_times(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT change_id, change_type, deployment_id, lead_time_hours FROM changes "
        "ORDER BY delivered_at, change_id").fetchall()
    assert rows == [
        ("acme/api#1", "pull_request", "D2", 27.0),   # true merge, start = p1a's author time
        ("b1", "commit", "D2", 2.0),                   # bare commit; merge commit m1 is not
        ("acme/api#2", "pull_request", "D3", 6.0),    # squash merge via merge_commit_sha
        ("c6", "commit", "D6", 2.0),
        ("c8", "commit", "D8", 1.0),                   # c6 is not delivered again by D8
        ("c9", "commit", "D9", 0.5),                   # offsets -05:00 and -02:00
    ]


def test_baseline_is_not_counted(warehouse: duckdb.DuckDBPyConnection) -> None:
    assert warehouse.execute("SELECT count(*) FROM changes WHERE change_id = 'c0'").fetchone() \
        == (0,)
    assert warehouse.execute(
        "SELECT baseline FROM commit_deliveries WHERE sha = 'c0'").fetchone() == (True,)


def test_lead_time_breakdown(warehouse: duckdb.DuckDBPyConnection) -> None:
    pr1 = _row(warehouse, "SELECT * FROM changes WHERE change_id = 'acme/api#1'")
    assert (pr1["coding_hours"], pr1["pickup_hours"], pr1["review_hours"],
            pr1["deploy_hours"]) == (4.0, 2.0, 2.0, 19.0)
    pr2 = _row(warehouse, "SELECT * FROM changes WHERE change_id = 'acme/api#2'")
    assert pr2["pickup_hours"] == 2.0  # the bot's and the author's own reviews do not count


def test_outcomes(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT id, failed, failure_reasons, rework, rework_reasons, fdrt_hours "
        "FROM deployment_outcomes ORDER BY finished_at").fetchall()
    assert rows == [
        ("D1", False, [], False, [], None),
        ("D2", False, [], False, [], None),
        ("D3", True, ["incident"], False, [], 4.0),
        ("D4", True, ["implicit_rollback"], False, [], 20.0),
        ("D5", False, [], True, ["implicit_rollback"], None),
        ("D6", True, ["incident", "implicit_rollback", "rollback"], False, [], 2.0),
        ("D7", True, ["fix"], True, ["rollback", "implicit_rollback"], 19.0),
        ("D8", True, ["incident"], True, ["fix", "hotfix"], None),
        ("D9", False, [], False, [], None),
    ]


def test_incident_attribution(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = dict(warehouse.execute(
        "SELECT incident_id, deployment_id FROM incident_attributions").fetchall())
    assert rows == {"I1": "D3", "I2": "D8", "I3": "D6", "I4": None, "I5": None, "I6": None}


def test_first_week(warehouse: duckdb.DuckDBPyConnection) -> None:
    w = week(warehouse, WEEK1)
    assert (w["deployments"], w["deploy_days"], w["changes"]) == (8, 5, 5)
    assert (w["lead_time_p50_hours"], w["lead_time_p90_hours"]) == (2.0, pytest.approx(18.6))
    assert (w["failed_deployments"], w["change_failure_rate"]) == (5, 0.625)
    assert (w["rework_deployments"], w["rework_rate"]) == (3, 0.375)
    assert (w["fdrt_p50_hours"], w["unrecovered_failures"]) == (11.5, 1)
    assert (w["incidents_opened"], w["incidents_resolved"]) == (4, 3)
    assert w["time_to_restore_p50_hours"] == 2.0
    assert (w["slos_total"], w["slos_met"], w["slo_met_ratio"]) == (1, 1, 1.0)


def test_empty_and_later_weeks(warehouse: duckdb.DuckDBPyConnection) -> None:
    w2 = week(warehouse, dt.date(2026, 1, 12))
    assert (w2["deployments"], w2["changes"], w2["change_failure_rate"]) == (0, 0, None)
    # No deployments: no rate and no interval for it.
    assert (w2["change_failure_rate_ci_low"], w2["change_failure_rate_ci_high"]) == (None, None)
    assert (w2["slos_total"], w2["slos_met"]) == (1, 0)
    w3 = week(warehouse, dt.date(2026, 1, 19))
    assert (w3["deployments"], w3["changes"], w3["incidents_opened"], w3["slos_total"]) == (
        0, 0, 0, 0)
    assert (w3["lead_time_p50_hours"], w3["slo_met_ratio"]) == (None, None)
    w4 = week(warehouse, dt.date(2026, 1, 26))
    assert (w4["deployments"], w4["changes"], w4["lead_time_p50_hours"]) == (1, 1, 0.5)
    assert (w4["incidents_resolved"], w4["time_to_restore_p50_hours"]) == (1, 2.0)


def test_month_boundary_in_utc(warehouse: duckdb.DuckDBPyConnection) -> None:
    months = warehouse.execute(
        "SELECT period_start, deployments FROM team_metrics WHERE team = 'payments' "
        "AND grain = 'month' ORDER BY period_start").fetchall()
    assert months == [(dt.date(2026, 1, 1), 8), (dt.date(2026, 2, 1), 1)]


def test_unassigned_service(warehouse: duckdb.DuckDBPyConnection) -> None:
    w = week(warehouse, dt.date(2026, 1, 19), team="unassigned")
    assert w["incidents_opened"] == 1


def test_slo_periods(warehouse: duckdb.DuckDBPyConnection) -> None:
    rows = warehouse.execute(
        "SELECT period_start, attainment, met, error_budget_remaining FROM slo_periods "
        "WHERE grain = 'week' ORDER BY period_start").fetchall()
    assert rows[0][0] == WEEK1 and rows[0][1] == pytest.approx(0.9925) and rows[0][2] is True
    assert rows[0][3] == pytest.approx(0.25)
    assert rows[1][1] == pytest.approx(0.98) and rows[1][2] is False
    assert rows[1][3] == pytest.approx(-1.0)


def test_honest_numbers(warehouse: duckdb.DuckDBPyConnection) -> None:
    w = week(warehouse, WEEK1)
    # 5 lead times: too few for a 95% order-statistic interval (needs n >= 6).
    assert (w["lead_time_samples"], w["lead_time_low_sample"]) == (5, False)
    assert w["lead_time_p50_ci_low_hours"] is None
    # Wilson 95% for 5/8, z² = 3.8416: centre (0.625 + z²/16) / (1 + z²/8) = 0.8651 / 1.4802
    # = 0.5845; half-width (1.96 / 1.4802)·sqrt(0.625·0.375/8 + z²/256) = 1.3241·0.21048
    # = 0.2787 → (0.3058, 0.8632).
    assert w["change_failure_rate_ci_low"] == pytest.approx(0.3058, abs=1e-3)
    assert w["change_failure_rate_ci_high"] == pytest.approx(0.8632, abs=1e-3)
    assert w["fdrt_low_sample"] is True  # 4 recoveries < min_sample 5


def test_org_metrics_are_computed_from_records(warehouse: duckdb.DuckDBPyConnection) -> None:
    org = _row(warehouse, "SELECT * FROM org_metrics WHERE grain = 'week' AND period_start = ?",
               [dt.date(2026, 1, 19)])
    assert org["incidents_opened"] == 1  # the unassigned incident counts for the organisation
    first = _row(warehouse, "SELECT * FROM org_metrics WHERE grain = 'week' "
                            "AND period_start = ?", [WEEK1])
    assert (first["deployments"], first["lead_time_p50_hours"]) == (8, 2.0)


def records(conn: duckdb.DuckDBPyConnection, metric: str, start: dt.date = WEEK1,
            team: str = "payments", grain: str = "week") -> list[tuple]:
    return conn.execute(
        "SELECT record_kind, record_id, value_hours, detail FROM metric_records "
        "WHERE team = ? AND grain = ? AND period_start = ? AND metric = ? "
        "ORDER BY value_hours NULLS LAST, record_id", [team, grain, start, metric]).fetchall()


def _ids(conn: duckdb.DuckDBPyConnection, metric: str, **kw: object) -> list[str]:
    return sorted(r[1] for r in records(conn, metric, **kw))


D1_D8 = [f"D{i}" for i in range(1, 9)]


def test_metric_records_has_the_documented_columns(warehouse: duckdb.DuckDBPyConnection) -> None:
    names = [d[0] for d in warehouse.execute("SELECT * FROM metric_records LIMIT 0").description]
    assert names == ["team", "grain", "period_start", "metric", "record_kind", "record_id",
                     "value_hours", "detail"]
    kinds = {r[0] for r in warehouse.execute("SELECT DISTINCT record_kind FROM metric_records")
             .fetchall()}
    assert kinds == {"deployment", "change", "incident", "slo"}


def test_records_of_deployments(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 1: D1–D8 (DF failed, DS staging: not counted); deploy_days = 5 distinct dates.
    The deployments' records are those of failed_deployments (reasons where failed)."""
    assert records(warehouse, "deployments") == records(warehouse, "failed_deployments")
    assert _ids(warehouse, "deployments") == D1_D8
    days = [r[3] for r in records(warehouse, "deploy_days")]
    assert sorted(set(days)) == ["2026-01-05", "2026-01-07", "2026-01-08", "2026-01-09",
                                 "2026-01-10"]
    assert _ids(warehouse, "deployments", start=dt.date(2026, 2, 1), grain="month") == ["D9"]


def test_records_of_changes_and_lead_time(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 2: id = repo@sha of the change (a PR's merge commit); values are the lead
    times 1, 2, 2, 6, 27 of the docstring → p50 2, p90 18.6."""
    expected = [
        ("change", "acme/api@c8", 1.0, 'commit c8 "c8 work" by alice, delivered to api by D8'),
        ("change", "acme/api@b1", 2.0, 'commit b1 "b1 work" by alice, delivered to api by D2'),
        ("change", "acme/api@c6", 2.0, 'commit c6 "c6 work" by alice, delivered to api by D6'),
        ("change", "acme/api@q2", 6.0,
         'PR acme/api#2 "Squashed fix" by alice, delivered to api by D3'),
        ("change", "acme/api@m1", 27.0,
         'PR acme/api#1 "Add refunds" by alice, delivered to api by D2'),
    ]
    for metric in ("changes", "lead_time_p50_hours", "lead_time_p90_hours"):
        assert records(warehouse, metric) == expected
    assert _ids(warehouse, "changes", start=dt.date(2026, 1, 26)) == ["acme/api@c9"]


def test_records_of_failures(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 3: every counted deployment; the 5 failed ones say why (5/8 = 0.625)."""
    expected = [
        ("deployment", "D1", None, None),
        ("deployment", "D2", None, None),
        ("deployment", "D3", None, "incident I1"),
        ("deployment", "D4", None, "implicitly rolled back by D5"),
        ("deployment", "D5", None, None),
        ("deployment", "D6", None,
         "incident I3; implicitly rolled back by D7; rolled back by D7"),
        ("deployment", "D7", None, "fixed by D8"),
        ("deployment", "D8", None, "incident I2"),
    ]
    assert records(warehouse, "failed_deployments") == expected
    assert records(warehouse, "change_failure_rate") == expected
    assert records(warehouse, "unrecovered_failures") == [
        ("deployment", "D8", None, "incident I2; not recovered yet")]


def test_records_of_recovery_time(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 4: recovered failures D6 2 h, D3 4 h, D7 19 h, D4 20 h → p50 (4+19)/2 = 11.5."""
    assert records(warehouse, "fdrt_p50_hours") == [
        ("deployment", "D6", 2.0, "incident I3; implicitly rolled back by D7; rolled back by "
                                  "D7; restored 2026-01-09 14:00 UTC"),
        ("deployment", "D3", 4.0, "incident I1; restored 2026-01-08 16:00 UTC"),
        ("deployment", "D7", 19.0, "fixed by D8; restored 2026-01-10 09:00 UTC"),
        ("deployment", "D4", 20.0, "implicitly rolled back by D5; restored 2026-01-09 09:00 UTC"),
    ]


def test_records_of_incidents(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 5: opened I1, I2, I3, I5; resolved I5 1 h, I3 2 h, I1 3.5 h → p50 2 h; the
    infrastructure incident I5 counts here (whatever its cause) though it fails no deployment."""
    resolved = [
        ("incident", "I5", 1.0, "service api, cause infrastructure"),
        ("incident", "I3", 2.0, "service api, cause unknown"),
        ("incident", "I1", 3.5, "service api, cause change"),
    ]
    assert records(warehouse, "incidents_resolved") == resolved
    assert records(warehouse, "time_to_restore_p50_hours") == resolved
    assert records(warehouse, "incidents_opened") == [
        *resolved, ("incident", "I2", None, "service api, cause unknown, unresolved")]
    assert _ids(warehouse, "incidents_opened", start=dt.date(2026, 1, 19),
                team="unassigned") == ["I6"]


def test_records_of_rework(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 6: D5, D7, D8 (3/8 = 0.375)."""
    expected = [
        ("deployment", "D5", None, "implicitly rolls back D4"),
        ("deployment", "D7", None, "rolls back D6; implicitly rolls back D6"),
        ("deployment", "D8", None, "fixes D7; label hotfix"),
    ]
    assert records(warehouse, "rework_deployments") == expected
    assert records(warehouse, "rework_rate") == expected


def test_records_of_slos(warehouse: duckdb.DuckDBPyConnection) -> None:
    """Section 7: 0.9925 ≥ 0.99 met in the first week; 0.98 missed in the second."""
    met = [("slo", "api-availability", None,
            "met: attainment 0.9925 against objective 0.9900")]
    assert records(warehouse, "slo_met_ratio") == met
    assert records(warehouse, "slos_met") == met
    assert records(warehouse, "slos_total") == met
    missed = [("slo", "api-availability", None,
               "missed: attainment 0.9800 against objective 0.9900")]
    assert records(warehouse, "slo_met_ratio", start=dt.date(2026, 1, 12)) == missed
    assert records(warehouse, "slos_met", start=dt.date(2026, 1, 12)) == []


def test_org_records_are_every_teams_records(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The organisation's week of 2026-01-19 has the unassigned incident I6."""
    assert _ids(warehouse, "incidents_opened", start=dt.date(2026, 1, 19),
                team="all teams") == ["I6"]


def test_every_number_is_reproduced_from_its_records(
        warehouse: duckdb.DuckDBPyConnection) -> None:
    assert set(REPRODUCE) == set(BY_COLUMN)  # a new metric needs its reproduction rule
    assert mismatches(warehouse) == []


def test_cli_summary_reads_team_metrics_and_records(
        warehouse: duckdb.DuckDBPyConnection) -> None:
    """The 12 weeks up to 2026-01-26 hold every record. payments: 9 deployments / 12 = 0.75
    → 0.8 per week; lead times 0.5, 1, 2, 2, 6, 27 → median 2; 5 failed / 9 = 0.556;
    recovery times 2, 4, 19, 20 → 11.5; 6 changes. unassigned has only an incident."""
    rows = warehouse.sql(sql_text("team_summary"), params={"weeks": 12}).fetchall()
    assert rows == [("payments", 0.8, 2.0, 0.556, 11.5, 6),
                    ("unassigned", 0.0, None, None, None, 0)]
    columns = warehouse.sql(sql_text("team_summary"), params={"weeks": 12}).columns
    assert tuple(columns) == ("team", *SUMMARY_COLUMNS)
    assert all(c in BY_COLUMN for c in SUMMARY_COLUMNS)


def test_time_mode(tmp_path: Path) -> None:
    """acme/web has no parents: delivery by time. E1 is the baseline (w1 committed 09:00 is
    before it); w2 (committed 10:00, authored 08:00) → E2 11:00 = 3 h; PR #7 merged 14:00,
    its commit w3 authored 12:00 → E3 15:00 = 3 h. w3 and w4 belong to the PR."""
    def commit(sha: str, authored: str, committed: str) -> dict:
        return {"repo": "acme/web", "sha": sha, "authored_at": authored, "committed_at": committed}

    write_events(
        tmp_path / "events",
        commits=[commit("w1", "2026-01-05T08:00:00Z", "2026-01-05T09:00:00Z"),
                 commit("w2", "2026-01-06T08:00:00Z", "2026-01-06T10:00:00Z"),
                 commit("w3", "2026-01-06T12:00:00Z", "2026-01-06T12:00:00Z"),
                 commit("w4", "2026-01-06T14:00:00Z", "2026-01-06T14:00:00Z")],
        pull_requests=[{"repo": "acme/web", "number": 7, "created_at": "2026-01-06T13:00:00Z",
                        "merged_at": "2026-01-06T14:00:00Z", "merge_commit_sha": "w4",
                        "commit_shas": ["w3"]}],
        deployments=[
            {"id": f"E{i}", "service": "web", "environment": "Prod", "revision": rev,
             "finished_at": at, "status": "success"}
            for i, (rev, at) in enumerate([("w1", "2026-01-05T12:00:00Z"),
                                           ("w2", "2026-01-06T11:00:00Z"),
                                           ("w4", "2026-01-06T15:00:00Z")], start=1)],
    )
    config = load_and_build(write_config(
        tmp_path, teams=[{"name": "web-team", "services": ["web"]}],
        services=[{"name": "web", "repo": "acme/web"}]))
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        rows = conn.execute("SELECT change_id, deployment_id, lead_time_hours FROM changes "
                            "ORDER BY change_id").fetchall()
    assert rows == [("acme/web#7", "E3", 3.0), ("w2", "E2", 3.0)]


def test_ownership_moves_on_a_date(tmp_path: Path) -> None:
    """`ledger` belongs to payments until 2026-01-08, then to core: D-a (Jan 7) counts for
    payments, D-b (Jan 8) and D-c (Jan 9) for core; history is not rewritten."""
    write_events(tmp_path / "events", deployments=[
        {"id": f"D-{x}", "service": "ledger", "environment": "production", "revision": x,
         "finished_at": f"2026-01-0{d}T12:00:00Z", "status": "success"}
        for x, d in (("a", 7), ("b", 8), ("c", 9))])
    config = load_and_build(write_config(
        tmp_path,
        teams=[{"name": "payments", "services": [{"name": "ledger", "until": "2026-01-08"}]},
               {"name": "core", "services": [{"name": "ledger", "from": "2026-01-08"}]}],
        services=[{"name": "ledger", "repo": "acme/mono"}]))
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        rows = conn.execute("SELECT team, deployments FROM team_metrics WHERE grain = 'week' "
                            "ORDER BY team").fetchall()
    assert rows == [("core", 2), ("payments", 1)]


def test_an_slo_that_changes_team_within_a_week_is_one_slo_of_the_organisation(
        tmp_path: Path) -> None:
    """`ledger` moves from payments to core on Thursday 2026-01-08. Its SLO has SLI windows on
    Monday (990/1000 = 0.99, met against 0.98) for payments and Friday (900/1000 = 0.9, missed)
    for core: each team has one SLO that week; the organisation has one SLO (not two), met
    because one of its parts met (as `count(DISTINCT slo)` always counted it); its records are
    both parts, and the numbers come back from them."""
    sli = [{"slo": "ledger-availability", "window_start": f"2026-01-0{d}T00:00:00Z",
            "window_end": f"2026-01-0{d}T01:00:00Z", "good": good, "total": 1000}
           for d, good in ((5, 990), (9, 900))]
    write_events(tmp_path / "events", sli=sli)
    config = load_and_build(write_config(
        tmp_path,
        teams=[{"name": "payments", "services": [{"name": "ledger", "until": "2026-01-08"}]},
               {"name": "core", "services": [{"name": "ledger", "from": "2026-01-08"}]}],
        services=[{"name": "ledger", "repo": "acme/mono"}],
        slos=[{"name": "ledger-availability", "service": "ledger", "objective": 0.98}]))
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        teams = conn.execute("SELECT team, slos_total, slos_met FROM team_metrics "
                             "WHERE grain = 'week' ORDER BY team").fetchall()
        org = conn.execute("SELECT slos_total, slos_met, slo_met_ratio FROM org_metrics "
                           "WHERE grain = 'week'").fetchall()
        parts = conn.execute("SELECT detail FROM metric_records WHERE team = 'all teams' "
                             "AND grain = 'week' AND metric = 'slo_met_ratio' ORDER BY detail"
                             ).fetchall()
        assert mismatches(conn) == []
    assert teams == [("core", 1, 0), ("payments", 1, 1)]
    assert org == [(1, 1, 1.0)]
    assert parts == [("met: attainment 0.9900 against objective 0.9800",),
                     ("missed: attainment 0.9000 against objective 0.9800",)]


def test_pr_files_place_a_pr_in_monorepo_services(tmp_path: Path) -> None:
    """acme/mono in time mode, with changed files on the PRs only (as GitHub gives them).

    PR #1 touches ledger and billing files, merged Jan 6 10:00, its commit x1 authored 08:00;
    PR #2 touches billing only, merged 11:00, commit x2 authored 09:00. Deployments: L1/B1 on
    Jan 5 (baselines), ledger L2 Jan 6 12:00, billing B2 Jan 6 13:00.
    ledger: PR #1 → L2, 12:00 − 08:00 = 4 h. billing: PR #1 → B2, 5 h; PR #2 → B2, 4 h.
    """
    def commit(sha: str, authored: str) -> dict:
        return {"repo": "acme/mono", "sha": sha, "authored_at": authored,
                "committed_at": authored}

    def deploy(id_: str, service: str, at: str) -> dict:
        return {"id": id_, "service": service, "environment": "production", "revision": "x",
                "finished_at": at, "status": "success"}

    write_events(
        tmp_path / "events",
        commits=[commit("x1", "2026-01-06T08:00:00Z"), commit("x2", "2026-01-06T09:00:00Z")],
        pull_requests=[
            {"repo": "acme/mono", "number": 1, "created_at": "2026-01-06T08:30:00Z",
             "merged_at": "2026-01-06T10:00:00Z", "commit_shas": ["x1"],
             "files": ["services/ledger/a.py", "services/billing/b.py"]},
            {"repo": "acme/mono", "number": 2, "created_at": "2026-01-06T09:30:00Z",
             "merged_at": "2026-01-06T11:00:00Z", "commit_shas": ["x2"],
             "files": ["services/billing/c.py"]}],
        deployments=[deploy("L1", "ledger", "2026-01-05T10:00:00Z"),
                     deploy("B1", "billing", "2026-01-05T10:00:00Z"),
                     deploy("L2", "ledger", "2026-01-06T12:00:00Z"),
                     deploy("B2", "billing", "2026-01-06T13:00:00Z")])
    config = load_and_build(write_config(
        tmp_path, teams=[{"name": "core", "services": ["ledger"]},
                         {"name": "money", "services": ["billing"]}],
        services=[{"name": "ledger", "repo": "acme/mono", "paths": ["services/ledger/**"]},
                  {"name": "billing", "repo": "acme/mono", "paths": ["services/billing/**"]}]))
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        rows = conn.execute("SELECT service, team, change_id, deployment_id, lead_time_hours "
                            "FROM changes ORDER BY service, change_id").fetchall()
    assert rows == [("billing", "money", "acme/mono#1", "B2", 5.0),
                    ("billing", "money", "acme/mono#2", "B2", 4.0),
                    ("ledger", "core", "acme/mono#1", "L2", 4.0)]
