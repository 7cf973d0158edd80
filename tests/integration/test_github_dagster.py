"""The GitHub ingest in Dagster: a partition per repository, the `github_api` pool, the schedule,
the sensor that adds partitions, and run metadata (requests used, rate limit left, counts)."""

from __future__ import annotations

import dagster as dg
import pytest
from fake_github.helpers import TOKEN_ENV, write_config
from fake_github.scenarios import small_repo
from fake_github.server import FakeGithub

from pipelines.defs.ingest.github import (
    add_repo_partitions,
    github_daily,
    github_landing,
    github_repo_partitions,
    github_repos,
)
from pipelines.defs.resources import DoraResource

pytest_plugins = ["fake_github.fixtures"]


@pytest.fixture
def setup(fake_github: FakeGithub, tmp_path):
    fake_github.add_repo(small_repo().repo)
    config = write_config(tmp_path, fake_github.base_url, ["acme/app"])
    resource = DoraResource(config_path=str(tmp_path / "dora.yaml"))
    instance = dg.DagsterInstance.ephemeral()
    return config, resource, instance


def _materialize(resource, instance, key="acme/app", raise_on_error=True):
    return dg.materialize([github_landing], partition_key=key, resources={"dora": resource},
                          instance=instance, raise_on_error=raise_on_error)


def test_asset_is_partitioned_per_repository_in_the_github_api_pool() -> None:
    assert github_landing.partitions_def == github_repos
    assert github_repos.name == "github_repos"
    assert github_landing.op.pool == "github_api"
    assert github_landing.group_names_by_key[github_landing.key] == "ingest"


def test_a_run_reports_requests_rate_limit_and_counts(setup, fake_github):
    config, resource, instance = setup
    assert add_repo_partitions(instance, config) == ["acme/app"]
    assert add_repo_partitions(instance, config) == []  # already there
    result = _materialize(resource, instance)
    (materialization,) = result.asset_materializations_for_node("github_landing")
    meta = {k: v.value for k, v in materialization.metadata.items()}
    assert meta["requests_used"] == 6 == fake_github.request_count
    assert meta["rate_limit_remaining_graphql"] == 4995
    assert meta["rate_limit_remaining_core"] == 4999
    assert (meta["pull_requests_loaded"], meta["incidents_quarantined"]) == (3, 1)
    assert meta["deployments_loaded"] == 4 and meta["reconciles"] is True
    messages = [e.message for e in instance.all_logs(result.run_id) if e.message]
    assert any("acme/app: pull requests, 3 fetched" in m for m in messages)  # progress


def test_a_failed_sync_fails_the_run_with_the_clear_message(setup, monkeypatch):
    _config, resource, instance = setup
    instance.add_dynamic_partitions("github_repos", ["acme/app"])
    monkeypatch.setenv(TOKEN_ENV, "ghp_notTheRightOne")
    result = _materialize(resource, instance, raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.event_specific_data.error.message)
    assert "acme/app: GitHub at" in text and "(401 Bad credentials)" in text


def test_a_partition_no_source_lists_fails_clearly(setup):
    _config, resource, instance = setup
    instance.add_dynamic_partitions("github_repos", ["acme/elsewhere"])
    result = _materialize(resource, instance, key="acme/elsewhere", raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert "acme/elsewhere: no `kind: github` source" in failure.event_specific_data.error.message


def test_sensor_adds_partitions_and_asks_for_a_first_sync(setup):
    _config, resource, instance = setup
    context = dg.build_sensor_context(instance=instance, resources={"dora": resource})
    result = github_repo_partitions(context)
    assert [r.partition_key for r in result.run_requests] == ["acme/app"]
    (request,) = result.dynamic_partitions_requests
    assert (request.partitions_def_name, list(request.partition_keys)) == (
        "github_repos", ["acme/app"])


def test_daily_schedule_syncs_every_known_repository(setup):
    config, resource, _instance = setup
    with dg.instance_for_test() as instance:  # a schedule context needs a persistent instance
        add_repo_partitions(instance, config)
        context = dg.build_schedule_context(instance=instance, resources={"dora": resource})
        requests = github_daily(context)
    assert [r.partition_key for r in requests] == ["acme/app"]
    assert github_daily.cron_schedule == "17 3 * * *"
