"""A full sync of a small hand-worked repository: every canonical value, and what it cost."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from fake_github.helpers import FIXED_NOW, settings, write_config
from fake_github.model import FakeRepo
from fake_github.scenarios import H, M, T, small_repo
from fake_github.server import FakeGithub

from pipelines.landing import read_entity
from pipelines.sources.github import read_cursors, sync_repo

pytest_plugins = ["fake_github.fixtures"]
UTC = dt.UTC


def _sync(config, repo: str = "acme/app", wait_log: list[float] | None = None, **kw):
    source = config.sources[0]
    return sync_repo(config, source, "github-0", repo, settings=settings(wait_log or [], **kw),
                     log=lambda _m: None, now=FIXED_NOW)


def _rows(config, entity: str) -> dict:
    frame = read_entity(config.landing_path, entity)
    key = {"pull_requests": "number", "commits": "sha"}.get(entity, "id")
    return {row[key]: row for row in frame.iter_rows(named=True)}


@pytest.fixture
def small(fake_github: FakeGithub):
    scenario = small_repo()
    fake_github.add_repo(scenario.repo)
    return scenario


def test_first_sync_costs_one_request_per_entity(small, fake_github, tmp_path: Path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    result = _sync(config)
    assert fake_github.labels() == [
        "POST /api/graphql Overview",
        f"GET /api/v3/repos/acme/app/commits?per_page=100&sha={small.squash2}",
        "POST /api/graphql PullRequests",
        "POST /api/graphql Deployments",
        "POST /api/graphql Releases",
        "POST /api/graphql Incidents",
    ]
    # The client counts what the server saw: six requests, no retries.
    assert (result.requests, result.retries) == (6, 0)
    # The fake's budget is 5000 per resource: 1 REST request, 5 GraphQL queries.
    assert result.rate_limit_remaining == {"core": 4999, "graphql": 4995}


def test_pull_requests_are_mapped_as_sources_md_says(small, fake_github, tmp_path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    _sync(config)
    prs = _rows(config, "pull_requests")
    assert sorted(prs) == [1, 2, 3]
    one, two, three = prs[1], prs[2], prs[3]
    assert (one["repo"], one["title"], one["author"], one["author_is_bot"]) == (
        "acme/app", "Add ledger", "alice", False)
    assert (one["created_at"], one["merged_at"], one["closed_at"]) == (T, T + 2 * H, T + 2 * H)
    assert (one["base_branch"], one["merge_commit_sha"]) == ("main", small.merge1)
    assert one["commit_shas"] == small.pr1.commit_shas
    # carol's pending review has no submission time: it is not a review yet.
    assert one["reviews"] == [{"author": "bob", "submitted_at": T + H, "state": "APPROVED"}]
    # GraphQL names bots without the suffix; the canonical login carries it, as REST and git do.
    assert (two["author"], two["author_is_bot"], two["labels"]) == (
        "dependabot[bot]", True, ["dependencies"])
    assert two["reviews"][0]["author"] == "copilot[bot]"
    assert two["merge_commit_sha"] == small.squash2
    assert (three["merged_at"], three["closed_at"], three["merge_commit_sha"]) == (None, None, None)
    assert all(p["source"] == "github-0" for p in prs.values())


def test_commits_come_in_utc_from_both_rest_and_pull_requests(small, fake_github,
                                                             tmp_path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    _sync(config)
    commits = _rows(config, "commits")
    # 5 on main (initial, PR #1's two, its merge, #2's squash) + #2's and #3's branch commits.
    assert len(commits) == 7
    first = commits[small.pr1.commit_shas[0]]
    # Authored at 10:40+02:00, i.e. 08:40 UTC; stored in UTC.
    assert first["authored_at"] == dt.datetime(2025, 2, 3, 8, 40, tzinfo=UTC)
    assert first["author"] == "alice"
    merge = commits[small.merge1]
    assert merge["parents"] == [small.repo.commits[small.merge1].parents[0],
                                small.pr1.commit_shas[1]]
    assert merge["committed_at"] == T + 2 * H
    assert commits[small.pr3.commit_shas[0]]["parents"] == [small.squash2]
    assert all(c["files"] is None for c in commits.values())


def test_deployments_and_releases(small, fake_github, tmp_path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    result = _sync(config)
    deployments = _rows(config, "deployments")
    d1 = deployments[f"gh-acme/app-{small.d1.database_id}"]
    # Finished at its SUCCESS, not at the later INACTIVE that GitHub adds when d2 replaces it.
    assert (d1["status"], d1["started_at"], d1["finished_at"]) == (
        "success", T + 2 * H + 30 * M, T + 2 * H + 40 * M)
    assert (d1["service"], d1["environment"], d1["revision"]) == ("app", "production",
                                                                  small.merge1)
    d3 = deployments[f"gh-acme/app-{small.d3.database_id}"]
    assert (d3["status"], d3["environment"], d3["finished_at"]) == (
        "in_progress", "staging", T + 4 * H + 35 * M)
    release = deployments[f"gh-acme/app-release-{small.v10.database_id}"]
    assert (release["environment"], release["revision"], release["status"]) == (
        "production", small.merge1, "success")
    assert (release["started_at"], release["finished_at"]) == (T + 3 * H, T + 3 * H)
    # The draft and the pre-release are not deployments (yet).
    assert len(deployments) == 4
    assert result.skipped["releases"] == 2


def test_incidents_and_quarantine(small, fake_github, tmp_path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    result = _sync(config)
    incidents = _rows(config, "incidents")
    assert list(incidents) == ["gh-acme/app-issue-4"]  # #5 is a bug, #6 is quarantined
    four = incidents["gh-acme/app-issue-4"]
    assert (four["opened_at"], four["resolved_at"]) == (T + 5 * H, T + 6 * H)
    assert (four["cause"], four["severity"], four["service"], four["title"]) == (
        "change", "high", "app", "Ledger down")
    quarantine = read_entity(config.landing_path, "quarantine").row(0, named=True)
    assert (quarantine["entity"], quarantine["record_key"], quarantine["field"]) == (
        "incidents", "gh-acme/app-issue-6", "cause")
    assert quarantine["reason"].startswith("unknown cause 'aliens'")
    assert quarantine["file"] == "graphql Incidents acme/app after=start"
    assert quarantine["line"] == 1  # second issue of the page (oldest update first)
    assert json.loads(quarantine["raw"])["number"] == 6
    assert result.tally.quarantined["incidents"] == 1 and result.tally.reconciles


def test_a_repository_without_a_service_lands_under_its_own_name(fake_github, tmp_path) -> None:
    other = FakeRepo("other", "tool", database_id=9)
    sha = other.commit("init", T)
    other.deploy(sha, "production", T + H)
    fake_github.add_repo(other)
    config = write_config(tmp_path, fake_github.base_url, ["other/tool"])
    _sync(config, "other/tool")
    (deployment,) = _rows(config, "deployments").values()
    assert deployment["service"] == "other/tool"  # the warehouse puts it under `unassigned`


def test_cursors_and_raw_payloads_are_kept(small, fake_github, tmp_path) -> None:
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    _sync(config)
    cursors = read_cursors(config.landing_path)
    assert cursors.columns == ["repo", "entity", "cursor", "updated_at"]
    assert cursors.schema["updated_at"] == pl.Datetime("us", "UTC")
    by_entity = {r["entity"]: json.loads(r["cursor"]) for r in cursors.iter_rows(named=True)}
    assert set(by_entity) == {"commits", "pull_requests", "deployments", "releases", "incidents"}
    assert by_entity["commits"] == {"branch": "main", "head": small.squash2}
    assert by_entity["pull_requests"] == {"mark": "2025-02-03T14:00:00Z"}  # PR #3, T+5h
    assert by_entity["incidents"] == {"mark": "2025-02-03T16:00:00Z"}  # issue #6, T+7h
    # d3 (unfinished) and the v1.1 draft are the ones to fetch again on the next run.
    deployments = by_entity["deployments"]
    assert deployments["mark"] == small.d3.database_id
    assert list(deployments["unsettled"]) == [small.d3.node_id]
    assert deployments["unsettled"][small.d3.node_id]["created_at"] == "2025-02-03T13:35:00Z"
    assert list(by_entity["releases"]["unsettled"]) == [small.v11.node_id]
    assert set(cursors["repo"]) == {"acme/app"}
    raw = sorted(p.parent.name for p in (config.landing_path / "github_raw").rglob("*.jsonl.gz"))
    assert raw == ["commits", "deployments", "incidents", "pull_requests", "releases"]


def test_no_token_variable_is_one_clear_error(small, fake_github, tmp_path, monkeypatch) -> None:
    from pipelines.sources.github import GithubSyncError

    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    monkeypatch.delenv("DORA_TEST_GITHUB_TOKEN")
    with pytest.raises(GithubSyncError, match=r"acme/app: environment variable "
                                              r"\$DORA_TEST_GITHUB_TOKEN is not set"):
        _sync(config)
    assert fake_github.request_count == 0
