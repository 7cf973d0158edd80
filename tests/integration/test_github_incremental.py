"""Incremental syncs: a rerun with nothing new, changes picked up, settling, force pushes,
and renormalising from the raw payloads without a request."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from fake_github.helpers import FIXED_NOW, settings, write_config
from fake_github.scenarios import H, T, small_repo
from fake_github.server import FakeGithub

from pipelines.build import latest_by_key
from pipelines.landing import read_entity
from pipelines.sources.github import read_cursors, renormalise, sync_repo

pytest_plugins = ["fake_github.fixtures"]
DAY = 24 * H


@pytest.fixture
def synced(fake_github: FakeGithub, tmp_path):
    """The small repository after its first sync; the server log is cleared."""
    scenario = small_repo()
    fake_github.add_repo(scenario.repo)
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    _sync(config)
    fake_github.reset_log()
    return scenario, config


def _sync(config):
    return sync_repo(config, config.sources[0], "github-0", "acme/app", settings=settings([]),
                     log=lambda _m: None, now=FIXED_NOW)


def _latest(config, entity: str) -> pl.DataFrame:
    return latest_by_key(read_entity(config.landing_path, entity), entity)


def _row(config, entity: str, column: str, value) -> dict:
    (row,) = _latest(config, entity).filter(pl.col(column) == value).iter_rows(named=True)
    return row


def test_rerun_with_nothing_new_costs_two_requests_and_stores_nothing(synced, fake_github):
    _scenario, config = synced
    result = _sync(config)
    # Overview shows nothing newer; the unfinished deployment and the draft are fetched again.
    assert fake_github.labels() == ["POST /api/graphql Overview", "POST /api/graphql Revisit"]
    assert result.requests == 2
    assert result.new_batches == 0  # they did not change: nothing is stored twice
    assert sum(result.fetched.values()) == 0


def test_changes_since_the_last_sync_are_picked_up(synced, fake_github):
    s, config = synced
    repo = s.repo
    repo.add_status(s.d3, "SUCCESS", T + DAY)  # the unfinished deployment finishes
    repo.publish(s.v11, T + DAY + H)  # the draft is published
    repo.review(s.pr3, "bob", T + DAY, "APPROVED")  # the open PR is reviewed and merged
    merge3 = repo.merge(s.pr3, T + DAY + 2 * H, "merge")
    repo.issue("Queue stuck", T + DAY + 3 * H, ["incident"])

    result = _sync(config)
    assert fake_github.labels() == [
        "POST /api/graphql Overview",
        f"GET /api/v3/repos/acme/app/compare/{s.squash2}...{merge3}?page=1&per_page=100",
        "POST /api/graphql PullRequests",
        "POST /api/graphql Incidents",
        "POST /api/graphql Revisit",
    ]
    assert result.requests == 5
    pr3 = _row(config, "pull_requests", "number", 3)
    assert (pr3["merged_at"], pr3["merge_commit_sha"]) == (T + DAY + 2 * H, merge3)
    assert [r["author"] for r in pr3["reviews"]] == ["bob"]
    d3 = _row(config, "deployments", "id", f"gh-acme/app-{s.d3.database_id}")
    assert (d3["status"], d3["finished_at"]) == ("success", T + DAY)
    v11 = _row(config, "deployments", "id", f"gh-acme/app-release-{s.v11.database_id}")
    assert (v11["finished_at"], v11["revision"]) == (T + DAY + H, s.squash2)
    merge = _row(config, "commits", "sha", merge3)
    assert merge["parents"] == [s.squash2, s.pr3.commit_shas[0]]
    assert _row(config, "incidents", "id", "gh-acme/app-issue-7")["resolved_at"] is None
    # Only the PR that changed was fetched again; the compare gave exactly two new commits.
    assert (result.fetched["pull_requests"], result.fetched["commits"]) == (1, 2)

    cursors = {r["entity"]: json.loads(r["cursor"])
               for r in read_cursors(config.landing_path).iter_rows(named=True)}
    assert cursors["commits"]["head"] == merge3
    assert cursors["deployments"]["unsettled"] == {}
    assert cursors["releases"]["unsettled"] == {}
    fake_github.reset_log()
    _sync(config)
    assert fake_github.labels() == ["POST /api/graphql Overview"]  # everything has settled


def test_only_new_deployments_are_fetched(synced, fake_github):
    s, config = synced
    s.repo.deploy(s.squash2, "production", T + DAY)
    s.repo.deploy(s.squash2, "production", T + DAY + H)
    result = _sync(config)
    assert "POST /api/graphql Deployments" in fake_github.labels()
    assert result.fetched["deployments"] == 2
    assert _latest(config, "deployments").height == 6  # d1-d3, v1.0 and the two new ones


def test_a_force_pushed_branch_is_listed_again(synced, fake_github):
    s, config = synced
    repo = s.repo
    initial = repo.commits[s.pr1.commit_shas[0]].parents[0]
    repo.branches["main"] = initial
    rewritten = repo.commit("Rewritten history", T + DAY)
    del repo.commits[s.squash2]  # the synced head is gone from GitHub
    _sync(config)
    labels = fake_github.labels()
    assert labels[1].startswith(f"GET /api/v3/repos/acme/app/compare/{s.squash2}...{rewritten}")
    assert labels[2] == f"GET /api/v3/repos/acme/app/commits?per_page=100&sha={rewritten}"
    assert _row(config, "commits", "sha", rewritten)["parents"] == [initial]


def test_renormalise_rebuilds_every_batch_without_a_request(synced, fake_github):
    _s, config = synced
    before = {e: _latest(config, e).sort(pl.all()) for e in
              ("commits", "pull_requests", "deployments", "incidents", "quarantine")}
    shutil.rmtree(config.landing_path / "github")
    tally, written = renormalise(config, "github-0", "acme/app")
    assert fake_github.request_count == 0
    assert written == 5  # one batch per entity, quarantine included
    for entity, frame in before.items():
        assert _latest(config, entity).sort(pl.all()).equals(frame), entity
    assert tally.loaded["pull_requests"] == 3 and tally.quarantined["incidents"] == 1
    assert renormalise(config, "github-0", "acme/app")[1] == 0  # same content: nothing new


def test_a_new_release_of_an_old_commit_is_found(synced, fake_github):
    s, config = synced
    # GitHub dates a release by its commit: this one sorts below v1.0 although it is new.
    late = s.repo.release("v0.9.1", s.merge1, T + H, T + DAY)
    result = _sync(config)
    assert "POST /api/graphql Releases" in fake_github.labels()
    row = _row(config, "deployments", "id", f"gh-acme/app-release-{late.database_id}")
    assert (row["finished_at"], row["revision"]) == (T + DAY, s.merge1)
    assert result.fetched["releases"] == 1  # only the new one is stored
    fake_github.reset_log()
    _sync(config)
    assert "POST /api/graphql Releases" not in fake_github.labels()  # counted: settled again
