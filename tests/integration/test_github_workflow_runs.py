"""Workflow runs as deployments: time windows under GitHub's 1,000-result cap, and revisits."""

from __future__ import annotations

import datetime as dt
import re

import polars as pl
import pytest
from fake_github.generate import build_repo
from fake_github.helpers import FIXED_NOW, settings, write_config
from fake_github.server import FakeGithub

from pipelines.landing import read_entity
from pipelines.sources.github import sync_repo

pytest_plugins = ["fake_github.fixtures"]
START = FIXED_NOW - dt.timedelta(days=3)


def _sync(config):
    return sync_repo(config, config.sources[0], "github-0", "acme/app", settings=settings([]),
                     log=lambda _m: None, now=FIXED_NOW)


def _runs(config) -> pl.DataFrame:
    return read_entity(config.landing_path, "deployments").filter(
        pl.col("id").str.contains("-run-"))


@pytest.fixture
def repo(fake_github: FakeGithub):
    # 2,500 deploy runs over 40 hours (and a CI workflow whose runs are not deployments).
    return fake_github.add_repo(build_repo(prs=20, deployments=0, incidents=0, releases=0,
                                           workflow_runs=2500, start=START))


def test_every_run_lands_once_although_listings_stop_at_1000(repo, fake_github, tmp_path):
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"],
                          deployments_from=["workflow_runs"])
    _sync(config)
    runs = _runs(config)
    assert runs.height == 2500 and runs["id"].n_unique() == 2500  # none lost, none twice
    assert runs.filter(pl.col("status") == "failure").height == 250  # every 10th
    assert set(runs["environment"]) == {"production"}
    pages = [int(m.group(1)) for label in fake_github.labels()
             if (m := re.search(r"/runs\?.*[?&]page=(\d+)", label))]
    assert max(pages) <= 10  # never asked beyond the 1,000th result of a window
    # Without `workflows`, the workflow list is read once and only "Deploy" is used.
    assert sum("/actions/workflows?" in label for label in fake_github.labels()) == 1


def test_rerun_lists_one_window_and_revisits_unfinished_runs(repo, fake_github, tmp_path):
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"],
                          deployments_from=["workflow_runs"], workflows=["deploy.yml"])
    flow = next(f for f in repo.workflows.values() if f.name == "Deploy")
    running = repo.run(flow, repo.head, START + dt.timedelta(hours=1), status="in_progress")
    _sync(config)
    first = _runs(config).filter(pl.col("id") == f"gh-acme/app-run-{running.id}")
    assert first["status"].to_list() == ["in_progress"]

    running.status, running.conclusion = "completed", "success"
    fake_github.reset_log()
    _sync(config)
    labels = fake_github.labels()
    # `deploy.yml` needs no workflow listing: Overview, one window since the last sync, the run.
    assert labels[0] == "POST /api/graphql Overview"
    assert labels[1].startswith("GET /api/v3/repos/acme/app/actions/workflows/deploy.yml/runs?")
    assert labels[2] == f"GET /api/v3/repos/acme/app/actions/runs/{running.id}"
    assert len(labels) == 3
    latest = _runs(config).filter(pl.col("id") == f"gh-acme/app-run-{running.id}")
    assert latest["status"].to_list() == ["in_progress", "success"]
