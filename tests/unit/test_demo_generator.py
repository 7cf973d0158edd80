"""The demo organisation: deterministic, internally consistent, and with trends that show.

Most checks run on the default demo (`OrgShape()`), generated once per module. The graph checks
walk `parents` the way the metrics do: a deployed revision sits on `main`'s first-parent chain,
and on that chain "is an ancestor of" is "comes earlier".
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml
from scipy import stats

from pipelines.demo import OrgShape, generate_org, org_config, team_trends, write_demo

SHAPE = OrgShape()
UTC_TS = pl.Datetime("us", "UTC")
PROD = ("production", "prod")
OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
FIELDS = {
    "commits": [
        "repo", "sha", "parents", "authored_at", "committed_at", "author", "message", "files",
    ],
    "pull_requests": [
        "repo", "number", "title", "author", "author_is_bot", "created_at", "merged_at",
        "closed_at", "base_branch", "merge_commit_sha", "commit_shas", "reviews", "labels",
    ],
    "deployments": [
        "id", "service", "environment", "revision", "started_at", "finished_at", "status",
        "rollback_of", "fix_for", "labels",
    ],
    "incidents": [
        "id", "service", "title", "opened_at", "resolved_at", "severity", "cause",
        "deployment_id", "commit_sha",
    ],
    "sli": ["slo", "window_start", "window_end", "good", "total"],
}  # fmt: skip
KEYS = {
    "commits": ["repo", "sha"],
    "pull_requests": ["repo", "number"],
    "deployments": ["id"],
    "incidents": ["id"],
    "sli": ["slo", "window_start"],
}


@pytest.fixture(scope="module")
def org() -> dict[str, pl.DataFrame]:
    return generate_org(SHAPE)


@pytest.fixture(scope="module")
def config() -> dict:
    return org_config(SHAPE)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_demo(tmp_path_factory.mktemp("demo"), SHAPE)


@pytest.fixture(scope="module")
def repo_of(config: dict) -> dict[str, str]:
    return {s["name"]: s["repo"] for s in config["services"]}


@pytest.fixture(scope="module")
def graph(org: dict[str, pl.DataFrame]) -> dict[tuple[str, str], list[str]]:
    commits = org["commits"]
    keys = zip(commits["repo"].to_list(), commits["sha"].to_list(), strict=True)
    return dict(zip(keys, commits["parents"].to_list(), strict=True))


@pytest.fixture(scope="module")
def depth(org: dict[str, pl.DataFrame], graph: dict, repo_of: dict) -> dict[tuple[str, str], int]:
    """First-parent depth of every deployed revision (its position on `main`)."""
    deps = org["deployments"]
    out: dict[tuple[str, str], int] = {}
    for service, revision in zip(deps["service"], deps["revision"], strict=True):
        _first_parent_depth(graph, (repo_of[service], revision), out)
    return out


@pytest.fixture(scope="module")
def main_line(org: dict[str, pl.DataFrame], depth: dict, repo_of: dict) -> dict[str, list[str]]:
    """Per repo, `main` from the root to the most advanced deployed revision."""
    tips: dict[str, tuple[str, str]] = {}
    for key, d in depth.items():
        if key[0] not in tips or d > depth[tips[key[0]]]:
            tips[key[0]] = key
    commits = org["commits"]
    keys = zip(commits["repo"], commits["sha"], strict=True)
    graph = dict(zip(keys, commits["parents"], strict=True))
    chains = {}
    for repo, key in tips.items():
        chain, sha = [], key[1]
        while sha is not None:
            chain.append(sha)
            parents = graph[(repo, sha)]
            sha = parents[0] if len(parents) else None
        chains[repo] = chain[::-1]
    return chains


def _first_parent_depth(graph: dict, key: tuple[str, str], memo: dict) -> int:
    path, node = [], key
    while node is not None and node not in memo:
        path.append(node)
        parents = graph[node]
        node = (node[0], parents[0]) if parents else None
    d = memo[node] if node is not None else -1
    for n in reversed(path):
        d += 1
        memo[n] = d
    return memo[key]


def _prod_success(org: dict[str, pl.DataFrame]) -> pl.DataFrame:
    deps = org["deployments"]
    ok = pl.col("environment").is_in(PROD) & (pl.col("status") == "success")
    return deps.filter(ok).sort("service", "finished_at", "id")


# ------------------------------------------------------------------------------------------
# determinism and shape


def test_same_shape_writes_byte_identical_files(written: Path, tmp_path: Path) -> None:
    again = write_demo(tmp_path / "again", SHAPE)
    first = sorted(p.relative_to(written.parent) for p in written.parent.rglob("*") if p.is_file())
    second = sorted(p.relative_to(again.parent) for p in again.parent.rglob("*") if p.is_file())
    assert first == second
    assert len(first) == 6
    for rel in first:
        assert (written.parent / rel).read_bytes() == (again.parent / rel).read_bytes(), rel


def test_another_seed_gives_another_organisation() -> None:
    a = generate_org(OrgShape(teams=2, services=3, months=2, seed=1))
    b = generate_org(OrgShape(teams=2, services=3, months=2, seed=2))
    assert set(a["commits"]["sha"]).isdisjoint(set(b["commits"]["sha"]))
    assert a["deployments"].height != b["deployments"].height or not a["deployments"].equals(
        b["deployments"]
    )


def test_columns_are_the_event_file_fields(org: dict[str, pl.DataFrame]) -> None:
    assert set(org) == set(FIELDS)
    for name, fields in FIELDS.items():
        frame = org[name]
        assert frame.columns == fields, name
        for column, dtype in frame.schema.items():
            if column.endswith("_at") or column.startswith("window_"):
                assert dtype == UTC_TS, (name, column)
    for name, column in [
        ("commits", "parents"), ("commits", "files"), ("pull_requests", "commit_shas"),
        ("pull_requests", "labels"), ("deployments", "labels"),
    ]:  # fmt: skip
        assert org[name].schema[column] == pl.List(pl.String), (name, column)
    review = pl.Struct({"author": pl.String, "submitted_at": UTC_TS, "state": pl.String})
    assert org["pull_requests"].schema["reviews"] == pl.List(review)


def test_keys_are_unique(org: dict[str, pl.DataFrame]) -> None:
    for name, key in KEYS.items():
        assert not org[name].select(key).is_duplicated().any(), name


def test_counts_are_in_plausible_ranges(org: dict[str, pl.DataFrame]) -> None:
    prs = org["pull_requests"]
    prod = _prod_success(org)
    assert 15_000 <= org["commits"].height <= 30_000
    assert 2_000 <= prs["merged_at"].is_not_null().sum() <= 4_000
    assert 1_000 <= prod.height <= 4_000
    assert 100 <= org["incidents"].height <= 800
    # Every SLO reports daily: ~365 rows each, fewer for those introduced mid-year.
    slos = org["sli"]["slo"].n_unique()
    assert 15 <= slos <= 30
    assert 300 * slos <= org["sli"].height <= 366 * slos


def test_events_fall_inside_the_window(org: dict[str, pl.DataFrame]) -> None:
    """Twelve months ending (exclusive) on 2026-11-23; only repo history predates them."""
    start, end = datetime(2025, 11, 23, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    for name, frame in org.items():
        for column, dtype in frame.schema.items():
            if dtype == UTC_TS:
                assert frame[column].max() <= end, (name, column)
    for name, column in [("deployments", "started_at"), ("incidents", "opened_at"),
                         ("sli", "window_start"), ("pull_requests", "merged_at")]:  # fmt: skip
        assert org[name][column].min() >= start, (name, column)
    assert org["commits"]["committed_at"].min() < start  # each repo has earlier history


def test_prs_per_service_week_scales_the_organisation() -> None:
    small = OrgShape(teams=2, services=4, months=3, seed=5)
    double = OrgShape(teams=2, services=4, months=3, seed=5, prs_per_service_week=6.0)
    base, more = generate_org(small), generate_org(double)
    merged = [f["pull_requests"]["merged_at"].is_not_null().sum() for f in (base, more)]
    assert 1.6 <= merged[1] / merged[0] <= 2.4
    assert 1.5 <= more["commits"].height / base["commits"].height <= 2.5


def test_larger_shapes_get_unique_human_names() -> None:
    shape = OrgShape(teams=40, services=90, months=1)
    cfg = org_config(shape)
    teams = [t["name"] for t in cfg["teams"]]
    services = [s for t in cfg["teams"] for s in t["services"]]
    assert len(set(teams)) == 40 and len(set(services)) == 90
    assert all(t["services"] for t in cfg["teams"])
    assert set(team_trends(shape).values()) == {"improving", "flat", "worsening"}


# ------------------------------------------------------------------------------------------
# the commit graph


def test_parents_are_commits_of_the_same_repo(org: dict[str, pl.DataFrame]) -> None:
    commits = org["commits"]
    edges = commits.select("repo", "committed_at", parent="parents").explode("parent").drop_nulls()
    parents = commits.select("repo", parent="sha", parent_committed_at="committed_at")
    joined = edges.join(parents, on=["repo", "parent"], how="left")
    assert joined["parent_committed_at"].null_count() == 0
    # A commit is never committed before its parent.
    assert (joined["parent_committed_at"] <= joined["committed_at"]).all()
    roots = commits.filter(pl.col("parents").list.len() == 0)
    assert roots.group_by("repo").len()["len"].to_list() == [1] * commits["repo"].n_unique()


def test_authored_before_committed(org: dict[str, pl.DataFrame]) -> None:
    commits = org["commits"]
    assert (commits["authored_at"] <= commits["committed_at"]).all()
    # Some commits were authored well before they were committed (rebases, slow pushes).
    late = commits["committed_at"] - commits["authored_at"] > timedelta(hours=3)
    assert late.sum() > 500


def test_merge_commits_exist_and_carry_the_pr_branch(org: dict[str, pl.DataFrame]) -> None:
    prs = org["pull_requests"]
    commits = org["commits"].select("repo", "sha", "parents")
    merged = prs.filter(pl.col("merged_at").is_not_null())
    assert merged["merge_commit_sha"].null_count() == 0
    assert prs.filter(pl.col("merged_at").is_null())["merge_commit_sha"].null_count() == (
        prs["merged_at"].null_count()
    )
    rows = merged.join(commits, left_on=["repo", "merge_commit_sha"], right_on=["repo", "sha"])
    assert rows.height == merged.height
    two = rows.filter(pl.col("parents").list.len() == 2)
    one = rows.filter(pl.col("parents").list.len() == 1)
    assert two.height + one.height == rows.height
    assert two.height > 300 and one.height > 300  # both merge styles are well represented
    # A true merge's second parent is the PR's last commit.
    assert (two["parents"].list.get(1) == two["commit_shas"].list.last()).all()
    # Every PR commit, merged or not, is in the commits data.
    shas = prs.select("repo", sha="commit_shas").explode("sha")
    assert shas.join(commits, on=["repo", "sha"], how="anti").height == 0


def test_pr_commits_are_on_main_only_for_true_merges(
    org: dict[str, pl.DataFrame], main_line: dict[str, list[str]], graph: dict
) -> None:
    """Squashed PR commits are not ancestors of `main`; merged-with-a-merge-commit ones are."""
    prs = org["pull_requests"].filter(pl.col("merged_at").is_not_null())
    on_main = {repo: set(chain) for repo, chain in main_line.items()}
    ancestors = {repo: _ancestors(graph, repo, chain[-1]) for repo, chain in main_line.items()}
    checked = {"merge": 0, "squash": 0}
    for repo, merge_sha, shas in prs.select("repo", "merge_commit_sha", "commit_shas").iter_rows():
        if merge_sha not in on_main[repo]:
            continue  # merged after the last deploy
        style = "merge" if len(graph[(repo, merge_sha)]) == 2 else "squash"
        checked[style] += 1
        reachable = [s in ancestors[repo] for s in shas]
        assert all(reachable) if style == "merge" else not any(reachable), (repo, merge_sha)
    assert checked["merge"] > 300 and checked["squash"] > 300


def _ancestors(graph: dict, repo: str, tip: str) -> set[str]:
    seen, stack = set(), [tip]
    while stack:
        sha = stack.pop()
        if sha not in seen:
            seen.add(sha)
            stack.extend(graph[(repo, sha)])
    return seen


def test_pr_branches_start_from_main_before_the_merge(
    org: dict[str, pl.DataFrame], main_line: dict[str, list[str]], graph: dict
) -> None:
    prs = org["pull_requests"].filter(pl.col("merged_at").is_not_null())
    position = {repo: {s: i for i, s in enumerate(chain)} for repo, chain in main_line.items()}
    checked = 0
    for repo, merge_sha, shas in prs.select("repo", "merge_commit_sha", "commit_shas").iter_rows():
        if merge_sha not in position[repo]:
            continue
        branch_point = graph[(repo, shas[0])][0]
        assert branch_point in position[repo]
        assert position[repo][branch_point] < position[repo][merge_sha]
        # Later commits of the PR chain onto the previous one.
        for prev, sha in zip(shas, shas[1:], strict=False):
            assert graph[(repo, sha)] == [prev]
        checked += 1
    assert checked > 2_000


def test_direct_pushes_to_main_exist(
    org: dict[str, pl.DataFrame], main_line: dict[str, list[str]], graph: dict
) -> None:
    merges = set(org["pull_requests"]["merge_commit_sha"].drop_nulls())
    start = datetime(2025, 11, 23, tzinfo=UTC)
    committed = dict(zip(org["commits"]["sha"], org["commits"]["committed_at"], strict=True))
    bare = [s for chain in main_line.values() for s in chain
            if s not in merges and committed[s] >= start]  # fmt: skip
    assert 50 <= len(bare) <= 600


# ------------------------------------------------------------------------------------------
# pull requests


def test_pull_request_timelines_and_reviews(org: dict[str, pl.DataFrame]) -> None:
    prs = org["pull_requests"]
    merged = prs.filter(pl.col("merged_at").is_not_null())
    assert (merged["created_at"] <= merged["merged_at"]).all()
    assert (merged["closed_at"] == merged["merged_at"]).all()
    closed = prs.filter(pl.col("merged_at").is_null() & pl.col("closed_at").is_not_null())
    assert closed.height > 100
    assert (closed["closed_at"] >= closed["created_at"]).all()
    reviews = merged.select("author", "created_at", "merged_at", "reviews").explode("reviews")
    reviews = reviews.unnest("reviews", separator="_").rename({"reviews_author": "reviewer"})
    assert reviews["reviewer"].null_count() == 0  # every merged PR was reviewed
    assert (reviews["reviews_submitted_at"] >= reviews["created_at"]).all()
    assert (reviews["reviews_submitted_at"] <= reviews["merged_at"]).all()
    approvals = reviews.filter(pl.col("reviews_state") == "APPROVED")
    assert (approvals["reviewer"] != approvals["author"]).all()
    assert set(reviews["reviews_state"]) == {"APPROVED", "COMMENTED", "CHANGES_REQUESTED"}
    # Noise a pickup-time calculation must skip: CI bots and the author commenting first.
    assert reviews.filter(pl.col("reviewer").str.ends_with("[bot]")).height > 300
    assert reviews.filter(pl.col("reviewer") == pl.col("author")).height > 50
    # The last review of every merged PR is an approval.
    last = merged["reviews"].list.last().struct.field("state")
    assert (last == "APPROVED").all()


def test_bot_prs_are_flagged(org: dict[str, pl.DataFrame]) -> None:
    prs = org["pull_requests"]
    named_bot = prs["author"].str.ends_with("[bot]")
    assert (prs["author_is_bot"] == named_bot).all()
    bots = prs.filter(pl.col("author_is_bot"))
    assert bots.height > 50
    assert bots["labels"].list.contains("dependencies").all()


def test_pr_commits_sometimes_predate_the_pr(org: dict[str, pl.DataFrame]) -> None:
    prs = org["pull_requests"].filter(pl.col("merged_at").is_not_null())
    commits = org["commits"].select("repo", "sha", "authored_at")
    first = (
        prs.select("repo", "number", "created_at", sha="commit_shas")
        .explode("sha")
        .join(commits, on=["repo", "sha"])
        .group_by("repo", "number", "created_at")
        .agg(pl.col("authored_at").min())
    )
    coding = first["created_at"] - first["authored_at"]
    assert (coding >= timedelta(0)).all()
    assert (coding > timedelta(hours=24)).mean() > 0.1
    assert (coding < timedelta(hours=1)).mean() > 0.02


# ------------------------------------------------------------------------------------------
# deployments


def test_deployment_revisions_are_commits_of_the_service_repo(
    org: dict[str, pl.DataFrame], repo_of: dict[str, str]
) -> None:
    deps = org["deployments"].with_columns(repo=pl.col("service").replace_strict(repo_of))
    commits = org["commits"].select("repo", revision="sha")
    assert deps.join(commits, on=["repo", "revision"], how="anti").height == 0


def test_deployment_statuses_environments_and_times(org: dict[str, pl.DataFrame]) -> None:
    deps = org["deployments"]
    status = deps["status"].value_counts().to_dict(as_series=False)
    counts = dict(zip(status["status"], status["count"], strict=True))
    assert set(counts) <= {"success", "failure", "error", "cancelled", "in_progress"}
    assert counts["success"] / deps.height > 0.85
    assert counts["failure"] > 20 and counts["cancelled"] > 10
    assert set(deps["environment"]) == {"production", "prod", "staging"}
    started = deps.filter(pl.col("started_at").is_not_null())
    assert (started["finished_at"] > started["started_at"]).all()
    assert 0 < deps["started_at"].null_count() < 0.05 * deps.height


def test_explicit_rollbacks_go_back_to_an_earlier_deployed_revision(
    org: dict[str, pl.DataFrame], depth: dict, repo_of: dict[str, str]
) -> None:
    deps = org["deployments"]
    by_id = {row["id"]: row for row in deps.iter_rows(named=True)}
    prod = _prod_success(org)
    rollbacks = deps.filter(pl.col("rollback_of").is_not_null())
    assert rollbacks.height >= 20
    for row in rollbacks.iter_rows(named=True):
        bad = by_id[row["rollback_of"]]
        repo = repo_of[row["service"]]
        assert bad["service"] == row["service"]
        assert bad["finished_at"] < (row["started_at"] or row["finished_at"])
        earlier = prod.filter(
            (pl.col("service") == row["service"]) & (pl.col("finished_at") < bad["finished_at"])
        )
        assert row["revision"] in set(earlier["revision"])
        assert depth[(repo, row["revision"])] < depth[(repo, bad["revision"])]


def test_implicit_rollbacks_and_same_revision_redeploys_exist(
    org: dict[str, pl.DataFrame], depth: dict, repo_of: dict[str, str]
) -> None:
    prod = _prod_success(org).with_columns(
        pos=pl.struct("service", "revision").map_elements(
            lambda r: depth[(repo_of[r["service"]], r["revision"])], return_dtype=pl.Int64
        )
    )
    prev = pl.col("pos").shift(1).over("service")
    steps = prod.with_columns(prev=prev).filter(pl.col("prev").is_not_null())
    backwards = steps.filter(pl.col("pos") < pl.col("prev"))
    implicit = backwards.filter(pl.col("rollback_of").is_null())
    assert implicit.height >= 10
    assert backwards.height - implicit.height >= 20  # the explicit ones
    assert steps.filter(pl.col("pos") == pl.col("prev")).height >= 10
    # A failed attempt is retried with the same revision.
    deps = org["deployments"].filter(pl.col("environment").is_in(PROD))
    deps = deps.sort("service", "finished_at", "id")
    after_failure = deps.with_columns(
        prev_status=pl.col("status").shift(1).over("service"),
        prev_revision=pl.col("revision").shift(1).over("service"),
    ).filter(pl.col("prev_status").is_in(["failure", "error", "cancelled"]))
    assert (after_failure["revision"] == after_failure["prev_revision"]).mean() > 0.9


def test_hotfixes_refer_to_earlier_deployments_of_the_service(
    org: dict[str, pl.DataFrame],
) -> None:
    deps = org["deployments"]
    by_id = {row["id"]: row for row in deps.iter_rows(named=True)}
    fixes = deps.filter(pl.col("fix_for").is_not_null())
    labelled = deps["labels"].list.contains("hotfix")
    assert fixes.height >= 20
    assert (labelled & deps["fix_for"].is_null()).sum() >= 5
    assert (labelled & deps["fix_for"].is_not_null()).sum() >= 5
    assert (~labelled & deps["fix_for"].is_not_null()).sum() >= 5
    for row in fixes.iter_rows(named=True):
        bad = by_id[row["fix_for"]]
        assert bad["service"] == row["service"]
        assert bad["finished_at"] < row["finished_at"]
        assert bad["status"] == "success"


# ------------------------------------------------------------------------------------------
# incidents and SLIs


def test_incidents_cover_every_cause_and_link(
    org: dict[str, pl.DataFrame], repo_of: dict[str, str]
) -> None:
    incidents = org["incidents"]
    causes = set(incidents["cause"].to_list())
    assert causes == {"change", "infrastructure", "external", "unknown", None}
    assert set(incidents["severity"].drop_nulls()) == {"sev1", "sev2", "sev3"}
    resolved = incidents.filter(pl.col("resolved_at").is_not_null())
    assert (resolved["resolved_at"] >= resolved["opened_at"]).all()
    assert 1 <= incidents["resolved_at"].null_count() <= 0.2 * incidents.height
    by_deploy = incidents.filter(pl.col("deployment_id").is_not_null())
    by_commit = incidents.filter(pl.col("commit_sha").is_not_null())
    neither = incidents.filter(
        pl.col("deployment_id").is_null()
        & pl.col("commit_sha").is_null()
        & pl.col("cause").is_in(["change", "unknown"])
    )
    assert by_deploy.height >= 20 and by_commit.height >= 10 and neither.height >= 20
    deps = org["deployments"].select(
        deployment_id="id", dep_service="service", dep_finished="finished_at"
    )
    linked = by_deploy.join(deps, on="deployment_id", how="left")
    assert (linked["dep_service"] == linked["service"]).all()
    assert (linked["dep_finished"] < linked["opened_at"]).all()
    commits = org["commits"].select("repo", commit_sha="sha")
    named = by_commit.with_columns(repo=pl.col("service").replace_strict(repo_of))
    assert named.join(commits, on=["repo", "commit_sha"], how="anti").height == 0


def test_sli_windows_and_objectives(org: dict[str, pl.DataFrame], config: dict) -> None:
    sli = org["sli"]
    assert (sli["good"] <= sli["total"]).all() and (sli["total"] > 0).all()
    assert ((sli["window_end"] - sli["window_start"]) == timedelta(days=1)).all()
    objective = {s["name"]: s["objective"] for s in config["slos"]}
    assert set(sli["slo"]) == set(objective)
    weekly = (
        sli.group_by("slo", week=pl.col("window_start").dt.truncate("1w"))
        .agg(pl.col("good").sum() / pl.col("total").sum())
        .with_columns(objective=pl.col("slo").replace_strict(objective, return_dtype=pl.Float64))
    )
    missed = (weekly["good"] < weekly["objective"]).mean()
    assert 0.02 < missed < 0.4


# ------------------------------------------------------------------------------------------
# config and files


def test_config_describes_the_organisation(
    config: dict, written: Path, org: dict[str, pl.DataFrame]
) -> None:
    assert yaml.safe_load(written.read_text()) == config
    assert config["sources"] == [{"kind": "files", "path": "events"}]
    assert config["warehouse"] == "data/dora.duckdb" and config["reports_dir"] == "reports"
    owned = [s for t in config["teams"] for s in t["services"]]
    names = [s["name"] for s in config["services"]]
    assert sorted(owned) == sorted(names) and len(set(names)) == 15
    assert len(config["teams"]) == 6
    assert all(s["repo"] == f"acme/{s['name']}" for s in config["services"])
    assert all(s["service"] in names and 0 < s["objective"] < 1 for s in config["slos"])
    assert set(org["deployments"]["service"]) == set(names)
    assert set(org["commits"]["repo"]) == {s["repo"] for s in config["services"]}


def test_written_files_parse_and_keep_instants(written: Path, org: dict[str, pl.DataFrame]) -> None:
    events = written.parent / "events"
    offsets: set[str] = set()
    for name in ("commits", "pull_requests", "deployments", "incidents"):
        lines = (events / f"{name}.jsonl").read_text().splitlines()
        assert len(lines) == org[name].height
        records = [json.loads(line) for line in lines]
        assert list(records[0]) == FIELDS[name]
        for column in FIELDS[name]:
            if not column.endswith("_at"):
                continue
            values = [r[column] for r in records]
            stamps = [v for v in values if v is not None]
            assert all(OFFSET.match(v) for v in stamps), (name, column)
            offsets.update(OFFSET.match(v).group(1) for v in stamps)
            parsed = [datetime.fromisoformat(v) if v else None for v in values]
            assert parsed == org[name][column].to_list(), (name, column)
    assert {"Z", "+00:00", "+02:00", "-07:00"} <= offsets
    sli = (events / "sli.csv").read_text().splitlines()
    assert sli[0] == "slo,window_start,window_end,good,total"
    assert len(sli) == org["sli"].height + 1
    first = sli[1].split(",")
    assert OFFSET.match(first[1]) and int(first[3]) <= int(first[4])


# ------------------------------------------------------------------------------------------
# trends


def _lead_times(
    org: dict[str, pl.DataFrame], config: dict, depth: dict, graph: dict
) -> pl.DataFrame:
    """(team, delivered week, hours) per change, following the docs/metrics.md rules on `main`."""
    repo_of = {s["name"]: s["repo"] for s in config["services"]}
    team_of = {s: t["name"] for t in config["teams"] for s in t["services"]}
    commits = org["commits"]
    keys = zip(commits["repo"], commits["sha"], strict=True)
    authored = dict(zip(keys, commits["authored_at"], strict=True))
    merged = org["pull_requests"].filter(pl.col("merged_at").is_not_null())
    starts: dict[tuple[str, str], datetime] = {}
    for repo, merge_sha, shas in merged.select(
        "repo", "merge_commit_sha", "commit_shas"
    ).iter_rows():
        starts[(repo, merge_sha)] = min(authored[(repo, s)] for s in shas)
    rows = []
    for (service,), deps in _prod_success(org).group_by("service", maintain_order=True):
        repo = repo_of[service]
        positions = [depth[(repo, r)] for r in deps["revision"]]
        reach = np.maximum.accumulate(positions)
        finished = deps["finished_at"].to_list()
        chain, sha = [], deps["revision"][int(np.argmax(positions))]
        while sha is not None:
            chain.append(sha)
            sha = graph[(repo, sha)][0] if graph[(repo, sha)] else None
        for pos, sha in enumerate(reversed(chain)):
            if pos <= positions[0]:
                continue  # the baseline: live before the first deployment
            start = starts.get((repo, sha))
            if start is None and len(graph[(repo, sha)]) == 1:
                start = authored[(repo, sha)]  # a direct push
            k = int(np.searchsorted(reach, pos))
            hours = (finished[k] - start).total_seconds() / 3600
            rows.append((team_of[service], finished[k], hours))
    frame = pl.DataFrame(rows, schema=["team", "delivered", "hours"], orient="row")
    return frame.with_columns(week=pl.col("delivered").dt.truncate("1w"))


def test_lead_time_trends_show_over_the_last_twelve_weeks(
    org: dict[str, pl.DataFrame], config: dict, depth: dict, graph: dict
) -> None:
    lead = _lead_times(org, config, depth, graph)
    assert (lead["hours"] > 0).all()
    weekly = lead.group_by("team", "week").agg(pl.col("hours").median()).sort("team", "week")
    trends = team_trends(SHAPE)
    assert list(trends.values()).count("improving") >= 2
    assert list(trends.values()).count("worsening") >= 1
    for (team,), rows in weekly.group_by("team", maintain_order=True):
        last = rows.tail(12)["hours"].to_numpy()
        tau, p = stats.kendalltau(np.arange(last.size), last)
        if trends[team] == "improving":
            assert tau < 0 and p < 0.05, (team, tau, p)
        elif trends[team] == "worsening":
            assert tau > 0 and p < 0.05, (team, tau, p)
        else:  # flat teams stay within a factor of two of their first quarter
            first = rows.head(12)["hours"].median()
            assert 0.5 < float(np.median(last)) / first < 2, team


def test_failure_rates_follow_the_trends(org: dict[str, pl.DataFrame], config: dict) -> None:
    team_of = {s: t["name"] for t in config["teams"] for s in t["services"]}
    deps = org["deployments"]
    linked = set(deps["rollback_of"].drop_nulls()) | set(deps["fix_for"].drop_nulls())
    linked |= set(org["incidents"]["deployment_id"].drop_nulls())
    prod = _prod_success(org).with_columns(
        team=pl.col("service").replace_strict(team_of),
        failed=pl.col("id").is_in(list(linked)),
        quarter=pl.col("finished_at").dt.truncate("1q"),
    )
    rate = prod.group_by("team").agg(
        first=pl.col("failed").filter(pl.col("finished_at") < pl.col("finished_at").min()
                                      + timedelta(days=120)).mean(),
        last=pl.col("failed").filter(pl.col("finished_at") > pl.col("finished_at").max()
                                     - timedelta(days=120)).mean(),
    )  # fmt: skip
    trends = team_trends(SHAPE)
    for team, first, last in rate.iter_rows():
        if trends[team] == "improving":
            assert last < first / 2, team
        elif trends[team] == "worsening":
            assert last > first * 2, team


# ------------------------------------------------------------------------------------------
# helpers used above


def test_first_parent_depth_helper() -> None:
    graph = {("r", "a"): [], ("r", "b"): ["a"], ("r", "c"): ["b", "x"], ("r", "x"): ["a"]}
    memo: dict = {}
    assert _first_parent_depth(graph, ("r", "c"), memo) == 2
    assert _first_parent_depth(graph, ("r", "x"), memo) == 1
