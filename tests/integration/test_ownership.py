"""Monorepos, CODEOWNERS, reorganisations and the people view against hand-worked numbers.

The dataset and the working are in tests/ownership_answers.py; docs/ownership.md walks through
the same numbers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import ownership_answers as oa
import polars as pl
import pytest
import yaml
from eventkit import load_and_build, write_config, write_events
from gitrepo import GitRepo

from metrics.codeowners import code_owner_changes, parse_codeowners
from metrics.ownership import reorganisations
from metrics.people import MEMBER_SCHEMA, author_team_changes
from pipelines.build import build_all
from pipelines.config import ConfigError, load_config
from pipelines.landing import write_batch
from pipelines.reports.reorganisations import (
    load_reorganisations,
    reorganisation_shapes,
)
from pipelines.sources.git import read_git

W1, W2, W3 = dt.date(2026, 2, 2), dt.date(2026, 2, 9), dt.date(2026, 2, 16)
FEB = dt.date(2026, 2, 1)


@pytest.fixture(scope="module")
def mono(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("mono")
    (root / "owners").mkdir()
    (root / "owners" / "CODEOWNERS").write_text(oa.CODEOWNERS, encoding="utf-8")
    write_events(root / "events", commits=oa.COMMITS, pull_requests=oa.PULL_REQUESTS,
                 deployments=oa.DEPLOYMENTS, incidents=oa.INCIDENTS, sli=oa.SLI)
    config = load_and_build(write_config(
        root, teams=oa.TEAMS, services=oa.SERVICES, slos=oa.SLOS,
        codeowners=[{"repo": oa.R, "path": "owners/CODEOWNERS", "aliases": oa.ALIASES}]))
    conn = duckdb.connect(str(config.warehouse_path), read_only=True)
    conn.execute("SET TimeZone = 'UTC'")
    yield conn
    conn.close()


def rows(conn: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[tuple]:
    return conn.execute(sql, params or []).fetchall()


def metric_row(conn: duckdb.DuckDBPyConnection, table: str, team: str, grain: str,
               start: dt.date, columns: str) -> tuple:
    found = rows(conn, f"SELECT {columns} FROM {table} WHERE team = ? AND grain = ? "  # noqa: S608
                       "AND period_start = ?", [team, grain, start])
    assert len(found) == 1, f"{table} {team} {grain} {start}: {found}"
    return found[0]


# --- services by path ---------------------------------------------------------------------------

def test_a_change_counts_once_for_each_service_it_touches(mono) -> None:
    """PR #1 touched ledger and libs: a row for each service, each delivered by that service's
    own deployment (L2, S2) with its own lead time; PR #2 touched billing and libs."""
    assert rows(mono, "SELECT service, change_id, deployment_id, lead_time_hours, team "
                      "FROM changes ORDER BY delivered_at, service") == [
        ("ledger", "acme/mono#1", "L2", 5.0, "core"),
        ("shared-lib", "acme/mono#1", "S2", 29.0, "core"),
        ("shared-lib", "acme/mono#2", "S2", 30.0, "core"),
        ("billing", "acme/mono#2", "B2", 54.0, "payments"),
        ("billing", "c4", "B3", 27.0, "payments"),
        ("billing", "acme/mono#3", "B4", 4.0, "core"),
    ]


def test_a_deployment_of_one_service_does_not_deliver_another_services_commit(mono) -> None:
    """L2 (ledger) contains c2, L3 contains c4: both touched only billing (and libs), so ledger
    delivers neither; c3 (README.md) belongs to no service and is delivered by none."""
    assert rows(mono, "SELECT service, deployment_id FROM commit_deliveries "
                      "WHERE sha IN ('c2', 'c4') ORDER BY sha, service") == [
        ("billing", "B2"), ("shared-lib", "S2"), ("billing", "B3")]
    assert rows(mono, "SELECT count(*) FROM changes WHERE deployment_id = 'L3'") == [(0,)]
    assert rows(mono, "SELECT count(*) FROM commit_deliveries WHERE sha = 'c3'") == [(0,)]


# --- ownership over time ------------------------------------------------------------------------

def test_weekly_rows_before_during_and_after_the_move(mono) -> None:
    cols = "deployments, deploy_days, changes, lead_time_p50_hours, lead_time_p90_hours"
    assert metric_row(mono, "team_metrics", "core", "week", W1, cols) == (
        4, 3, 3, 29.0, pytest.approx(29.8))
    assert metric_row(mono, "team_metrics", "payments", "week", W1, cols) == (
        2, 2, 1, 54.0, 54.0)
    assert metric_row(mono, "team_metrics", "core", "week", W2, cols) == (0, 0, 0, None, None)
    assert metric_row(mono, "team_metrics", "payments", "week", W2, cols) == (
        0, 0, 0, None, None)
    # The week of the move: B3 (Tuesday) stays with payments, B4 (Thursday) is core's.
    assert metric_row(mono, "team_metrics", "payments", "week", W3, cols) == (
        1, 1, 1, 27.0, 27.0)
    assert metric_row(mono, "team_metrics", "core", "week", W3, cols) == (2, 2, 1, 4.0, 4.0)


def test_monthly_rows_keep_history_with_the_old_owner(mono) -> None:
    cols = "deployments, changes, lead_time_p50_hours, failed_deployments, change_failure_rate"
    assert metric_row(mono, "team_metrics", "core", "month", FEB, cols) == (6, 4, 17.0, 0, 0.0)
    assert metric_row(mono, "team_metrics", "payments", "month", FEB, cols) == (
        3, 2, 40.5, 1, pytest.approx(1 / 3))


def test_incidents_outcomes_and_slos_follow_their_own_time(mono) -> None:
    """I1 opened before the move (payments) and resolved after it: still payments'. B3 failed
    by I1, restored when I1 resolved (22 h). SLI windows split at the move."""
    cols = ("failed_deployments, fdrt_p50_hours, incidents_opened, incidents_resolved, "
            "time_to_restore_p50_hours, slos_total, slos_met")
    assert metric_row(mono, "team_metrics", "payments", "week", W3, cols) == (
        1, 22.0, 1, 1, 20.0, 1, 1)
    assert metric_row(mono, "team_metrics", "core", "week", W3, cols) == (
        0, None, 1, 1, 2.0, 1, 0)
    assert rows(mono, "SELECT team, attainment FROM slo_periods WHERE grain = 'week' "
                      "ORDER BY team") == [("core", 0.98), ("payments", 0.995)]


def test_reorganisations_table(mono) -> None:
    assert rows(mono, "SELECT team, service, date, kind, counterpart FROM reorganisations") == [
        ("core", "billing", dt.date(2026, 2, 18), "joined", "payments"),
        ("payments", "billing", dt.date(2026, 2, 18), "left", "core"),
    ]


def test_reorganisation_markers_for_the_reports(mono) -> None:
    import plotly.graph_objects as go

    shapes = reorganisation_shapes(load_reorganisations(mono, "payments"))
    assert [(s["x0"], s["label"]["text"]) for s in shapes] == [
        ("2026-02-18", "2026-02-18: handed billing to core")]
    core = reorganisation_shapes(load_reorganisations(mono, "core"))
    assert core[0]["label"]["text"] == "2026-02-18: took over billing from payments"
    go.Figure({"data": [], "layout": {"shapes": shapes + core}})  # valid Plotly


def test_splits_merges_and_retirements_as_reorganisations() -> None:
    """Team `web` splits: `search` goes to the new team `discovery` on 2026-04-01; teams
    `discovery` and `web` merge into `product` on 2026-07-01; `legacy` is retired."""
    ownership = pl.DataFrame([
        ("web", "site", None, dt.date(2026, 7, 1)),
        ("web", "search", None, dt.date(2026, 4, 1)),
        ("discovery", "search", dt.date(2026, 4, 1), dt.date(2026, 7, 1)),
        ("product", "site", dt.date(2026, 7, 1), None),
        ("product", "search", dt.date(2026, 7, 1), None),
        ("web", "legacy", None, dt.date(2026, 5, 1)),
    ], schema=["team", "service", "valid_from", "valid_until"], orient="row")
    assert reorganisations(ownership).rows() == [
        ("discovery", "search", dt.date(2026, 4, 1), "joined", "web"),
        ("web", "search", dt.date(2026, 4, 1), "left", "discovery"),
        ("web", "legacy", dt.date(2026, 5, 1), "left", None),
        ("product", "search", dt.date(2026, 7, 1), "joined", "discovery"),
        ("discovery", "search", dt.date(2026, 7, 1), "left", "product"),
        ("product", "site", dt.date(2026, 7, 1), "joined", "web"),
        ("web", "site", dt.date(2026, 7, 1), "left", "product"),
    ]


# --- the people view ----------------------------------------------------------------------------

def test_changes_by_author_team(mono) -> None:
    """`Alice` matches member alice (logins ignore case); bob's PR #2 was delivered before his
    move (payments), PR #3 after it (core). The bare commit c4 is not a PR."""
    assert rows(mono, "SELECT service, change_id, author_team, service_team "
                      "FROM changes_by_author_team ORDER BY delivered_at, service") == [
        ("ledger", "acme/mono#1", "payments", "core"),
        ("shared-lib", "acme/mono#1", "payments", "core"),
        ("shared-lib", "acme/mono#2", "payments", "core"),
        ("billing", "acme/mono#2", "payments", "payments"),
        ("billing", "acme/mono#3", "core", "core"),
    ]


def test_team_metrics_by_people(mono) -> None:
    cols = ("changes, lead_time_p50_hours, lead_time_p90_hours, coding_p50_hours, "
            "pickup_p50_hours, review_p50_hours, deploy_p50_hours, lead_time_low_sample")
    assert metric_row(mono, "team_metrics_by_people", "payments", "week", W1, cols) == (
        4, 29.5, pytest.approx(46.8), 1.75, 0.75, 0.5, 26.5, True)
    assert metric_row(mono, "team_metrics_by_people", "payments", "week", W2, cols)[0] == 0
    assert metric_row(mono, "team_metrics_by_people", "core", "week", W3, cols) == (
        1, 4.0, 4.0, 0.5, 0.5, 0.5, 2.5, True)
    # core has no PR of its people before week 3: its rows start there.
    assert rows(mono, "SELECT min(period_start) FROM team_metrics_by_people "
                      "WHERE team = 'core' AND grain = 'week'") == [(W3,)]
    assert metric_row(mono, "team_metrics_by_people", "payments", "month", FEB,
                      "changes, lead_time_p50_hours") == (4, 29.5)


def test_an_author_nobody_lists_is_unassigned_not_dropped() -> None:
    changes = pl.DataFrame({
        "change_type": ["pull_request", "pull_request", "commit"],
        "change_id": ["r#1", "r#2", "abc"], "author": ["zoe", None, "alice"],
        "team": ["core"] * 3,
        "delivered_at": [dt.datetime(2026, 2, 2, tzinfo=dt.UTC)] * 3,
    })
    members = pl.DataFrame([("core", "alice", None, None)], schema=MEMBER_SCHEMA, orient="row")
    out = author_team_changes(changes, members)
    assert out.select("change_id", "author_team").rows() == [
        ("r#1", "unassigned"), ("r#2", "unassigned")]


# --- the code-owner view ------------------------------------------------------------------------

def test_code_owner_rules_table(mono) -> None:
    assert rows(mono, "SELECT line, pattern, teams, error IS NOT NULL FROM code_owner_rules "
                      "ORDER BY line") == [
        (2, "*", ["core"], False),
        (3, "/services/ledger/", ["core"], False),
        (4, "/services/billing/", ["payments"], False),
        (5, "libs/", ["core"], False),
        (6, "*.md", ["docs"], False),
        (7, "/services/billing/vendor/", [], False),
        (8, "!services/ledger/legacy/   @acme/platform", None, True),
    ]


def test_changes_by_code_owner(mono) -> None:
    assert rows(mono, "SELECT service, change_id, service_team, code_owner_team, owned_files "
                      "FROM changes_by_code_owner "
                      "ORDER BY delivered_at, service, code_owner_team") == [
        ("ledger", "acme/mono#1", "core", "core", 1),
        ("shared-lib", "acme/mono#1", "core", "core", 1),
        ("shared-lib", "acme/mono#2", "core", "core", 1),
        ("billing", "acme/mono#2", "payments", "payments", 1),
        ("billing", "c4", "payments", "payments", 1),       # vendor/sdk.py is un-owned
        ("billing", "acme/mono#3", "core", "docs", 1),      # README.md: `*.md` wins
        ("billing", "acme/mono#3", "core", "payments", 1),  # api.py
    ]


def test_team_metrics_by_code_owner(mono) -> None:
    cols = "changes, lead_time_p50_hours"
    table = "team_metrics_by_code_owner"
    assert metric_row(mono, table, "core", "week", W1, cols) == (3, 29.0)
    assert metric_row(mono, table, "payments", "week", W1, cols) == (1, 54.0)
    assert metric_row(mono, table, "payments", "week", W3, cols) == (2, 15.5)
    assert metric_row(mono, table, "docs", "week", W3, cols) == (1, 4.0)


def test_a_change_without_file_data_is_unassigned_in_the_code_owner_view() -> None:
    changes = pl.DataFrame({
        "service": ["api"], "repo": ["r"], "change_type": ["commit"], "change_id": ["x1"],
        "pr_number": pl.Series([None], dtype=pl.Int64), "sha": ["x1"], "team": ["core"]})
    commits = pl.DataFrame({"repo": ["r"], "sha": ["x1"],
                            "files": pl.Series([None], dtype=pl.List(pl.String))})
    prs = pl.DataFrame(schema={"repo": pl.String, "number": pl.Int64,
                               "commit_shas": pl.List(pl.String),
                               "merge_commit_sha": pl.String})
    services = pl.DataFrame({"service": ["api"], "repo": ["r"],
                             "paths": pl.Series([None], dtype=pl.List(pl.String))})
    owners = {"r": (parse_codeowners("* @acme/core\n"), {})}
    out = code_owner_changes(changes, commits, prs, services, owners)
    assert out.select("change_id", "service_team", "code_owner_team", "owned_files").rows() == [
        ("x1", "core", "unassigned", 0)]


def test_views_are_empty_without_members_or_codeowners(tmp_path: Path) -> None:
    write_events(tmp_path / "events", commits=oa.COMMITS, pull_requests=oa.PULL_REQUESTS,
                 deployments=oa.DEPLOYMENTS)
    teams = [{k: v for k, v in t.items() if k != "members"} for t in oa.TEAMS]
    config = load_and_build(write_config(tmp_path, teams=teams, services=oa.SERVICES))
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        for table in ("team_members", "changes_by_author_team", "team_metrics_by_people",
                      "code_owner_rules", "changes_by_code_owner",
                      "team_metrics_by_code_owner"):
            assert rows(conn, f"SELECT count(*) FROM {table}") == [(0,)], table  # noqa: S608
        assert rows(conn, "SELECT count(*) FROM changes") == [(6,)]


# --- the config ---------------------------------------------------------------------------------

def _config_error(tmp_path: Path, **overrides: object) -> str:
    base = {"services": oa.SERVICES, "teams": oa.TEAMS}
    (tmp_path / "dora.yaml").write_text(yaml.safe_dump({**base, **overrides}), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(tmp_path / "dora.yaml")
    return str(err.value)


def test_config_errors_name_the_key(tmp_path: Path) -> None:
    assert "`codeowners` names repo `acme/other`, which no service" in _config_error(
        tmp_path, codeowners=[{"repo": "acme/other", "path": "CODEOWNERS"}])
    assert "give `path` (the CODEOWNERS file or a clone), or name a `kind: git` source" in \
        _config_error(tmp_path, codeowners=[{"repo": oa.R}])
    assert "`source` `nope` is not the name of a `kind: git` source" in _config_error(
        tmp_path, codeowners=[{"repo": oa.R, "source": "nope"}])
    assert "`codeowners.0.colour`: unknown key" in _config_error(
        tmp_path, codeowners=[{"repo": oa.R, "path": "C", "colour": "red"}])
    bad_member = [{"name": "core", "members": [{"name": "bob", "from": "2026-03-01",
                                                 "until": "2026-02-01"}]}]
    assert "`until` (2026-02-01) must be after `from` (2026-03-01)" in _config_error(
        tmp_path, teams=bad_member)


# --- the git source: a real monorepo ------------------------------------------------------------

def _land_git_sources_and_build(config_path: Path):
    config = load_config(config_path)
    for source in config.sources:
        result = read_git(source, config, source.name)
        for entity, frame in {**result.frames, "quarantine": result.quarantine}.items():
            write_batch(config.landing_root, "git", source.name, entity, frame)
    build_all(config)
    return config


def test_git_monorepo_with_tags_per_service_and_codeowners_from_the_clone(tmp_path) -> None:
    """One clone, two services released by their own tags. c1 touched only billing, c2 only
    ledger; ledger-1.1 (on c2, 03-03 12:00) contains both but delivers only c2 (2 h);
    billing-1.1 (on c2, 03-04 12:00) delivers c1 (03-04 12:00 − 03-03 09:00 = 27 h).
    CODEOWNERS is read from the clone's `.github/CODEOWNERS` on main."""
    repo = GitRepo.init(tmp_path / "mono")
    repo.commit("initial", {"services/ledger/api.py": "1", "services/billing/api.py": "1",
                            ".github/CODEOWNERS": "/services/ledger/ @acme/ledger-devs\n"
                                                  "/services/billing/ @acme/payments\n"},
                at="2026-03-02T09:00:00+01:00")
    repo.tag("ledger-1.0", message="ledger 1.0", at="2026-03-02T12:00:00+00:00")
    repo.tag("billing-1.0", message="billing 1.0", at="2026-03-02T12:00:00+00:00")
    c1 = repo.commit("billing work", {"services/billing/api.py": "2"},
                     at="2026-03-03T09:00:00+00:00")
    c2 = repo.commit("ledger work", {"services/ledger/api.py": "2"},
                     at="2026-03-03T10:00:00+00:00")
    repo.tag("ledger-1.1", message="ledger 1.1", at="2026-03-03T12:00:00+00:00")
    repo.tag("billing-1.1", message="billing 1.1", at="2026-03-04T12:00:00+00:00")
    config_path = tmp_path / "dora.yaml"
    config_path.write_text(yaml.safe_dump({
        "teams": [{"name": "core", "services": ["ledger"]},
                  {"name": "payments", "services": ["billing"]}],
        "services": [{"name": "ledger", "repo": "acme/mono", "paths": ["services/ledger/**"]},
                     {"name": "billing", "repo": "acme/mono", "paths": ["services/billing/**"]}],
        "sources": [{"kind": "git", "name": "mono-ledger", "path": "mono", "service": "ledger",
                     "release_tags": "ledger-*"},
                    {"kind": "git", "name": "mono-billing", "path": "mono",
                     "service": "billing", "release_tags": "billing-*"}],
        "codeowners": [{"repo": "acme/mono", "aliases": {"@acme/ledger-devs": "core"}}],
    }), encoding="utf-8")
    config = _land_git_sources_and_build(config_path)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        assert rows(conn, "SELECT files FROM commits WHERE sha = ?", [c1]) == [
            (["services/billing/api.py"],)]
        assert rows(conn, "SELECT service, change_id, deployment_id, lead_time_hours, team "
                          "FROM changes ORDER BY service") == [
            ("billing", c1, "git-billing-billing-1.1", 27.0, "payments"),
            ("ledger", c2, "git-ledger-ledger-1.1", 2.0, "core"),
        ]
        assert rows(conn, "SELECT change_id, code_owner_team FROM changes_by_code_owner "
                          "ORDER BY service") == [(c1, "payments"), (c2, "core")]
        origin = rows(conn, "SELECT DISTINCT origin FROM code_owner_rules")
        assert origin[0][0].startswith("mono-ledger:.github/CODEOWNERS@")


def test_git_source_reads_changed_files_for_a_repo_with_codeowners(tmp_path) -> None:
    """A single-service repo (no `paths`) still gets `files` when CODEOWNERS is configured."""
    repo = GitRepo.init(tmp_path / "app")
    sha = repo.commit("one", {"CODEOWNERS": "* @acme/app\n", "main.py": "x"},
                      at="2026-03-02T09:00:00+00:00")
    (tmp_path / "dora.yaml").write_text(yaml.safe_dump({
        "services": [{"name": "app", "repo": "acme/app"}],
        "sources": [{"kind": "git", "name": "app", "path": "app", "service": "app"}],
        "codeowners": [{"repo": "acme/app", "source": "app"}],
    }), encoding="utf-8")
    config = load_config(tmp_path / "dora.yaml")
    commits = read_git(config.sources[0], config, "app").frames["commits"]
    assert commits.filter(pl.col("sha") == sha)["files"].to_list() == [["CODEOWNERS", "main.py"]]
