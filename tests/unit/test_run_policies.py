"""Retries only where they help, and one warehouse writer per run (issue 13).

- The project's instance (dagster.yaml) has no run retries and lets one run tagged
  `dora/writer=warehouse` run at a time; every run the automation launches, and the `refresh`
  job, carry that tag.
- Only the GitHub steps retry, and only failures whose message says they pass (network, 5xx,
  rate limit): the messages below are the client's own (`describe`), for real exceptions.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import requests
from github import BadCredentialsException, GithubException

from pipelines import asset_graph
from pipelines.defs.ingest.github import is_transient
from pipelines.sources.github.errors import RateLimitWaitTooLong, describe

ROOT = Path(__file__).resolve().parents[2]
WRITER = {"dora/writer": "warehouse"}


def _message(exc: BaseException) -> str:
    return describe(exc, "acme/app", "pull requests", "http://127.0.0.1:1", "GH_TOKEN", 60)


@pytest.mark.parametrize(("exc", "transient"), [
    (requests.exceptions.ConnectionError("refused"), True),
    (requests.exceptions.RetryError("too many 502"), True),
    (GithubException(502, {"message": "bad gateway"}, {}), True),
    (BadCredentialsException(401, {"message": "Bad credentials"}, {}), False),
    (GithubException(404, {"message": "Not Found"}, {}), False),
    (GithubException(403, {"message": "Resource not accessible"}, {}), False),
    (RateLimitWaitTooLong(3600), False),  # an hour's wait: the next night's run resumes
])
def test_only_passing_failures_are_retried(exc: BaseException, transient: bool) -> None:
    assert is_transient(_message(exc)) is transient


def test_only_the_github_steps_have_a_retry_policy() -> None:
    defs = asset_graph.definitions()
    graph = asset_graph.asset_graph()
    retried = {key.to_user_string() for key in graph.get_all_asset_keys()
               if graph.get(key).assets_def.op.retry_policy is not None}
    assert retried == {"github_landing"}
    sync = defs.resolve_job_def("github_sync")
    assert sync.graph.node_named("github_sync_repos").definition.retry_policy is not None
    assert sync.graph.node_named("github_plan").definition.retry_policy is None


def test_one_warehouse_writer_run_at_a_time(tmp_path: Path) -> None:
    shutil.copy(ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert not instance.run_retries_enabled
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
        assert {"key": "dora/writer", "value": "warehouse", "limit": 1} in limits
    defs = asset_graph.definitions()
    automation = defs.resolve_sensor_def("automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    assert WRITER.items() <= dict(automation.run_tags).items()
    assert WRITER.items() <= dict(defs.resolve_job_def("refresh").tags).items()
    assert defs.resolve_job_def("refresh").executor_def is dg.in_process_executor


def test_editing_the_config_launches_refresh(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The `config_changes` sensor: the first look remembers the content, the same content
    again launches nothing, new content launches one `refresh` (writer-tagged), once. The file
    is not parsed (this one is no valid config): the run it launches says what is wrong."""
    config = tmp_path / "dora.yaml"
    config.write_text("min_sample: 5\n", encoding="utf-8")
    monkeypatch.setenv("DORA_CONFIG", str(config))
    sensor = asset_graph.definitions().resolve_sensor_def("config_changes")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING

    def tick(cursor: str | None) -> dg.SensorExecutionData:
        with dg.build_sensor_context(cursor=cursor) as context:
            return sensor.evaluate_tick(context)

    first = tick(None)
    assert first.run_requests == [] and first.cursor
    assert tick(first.cursor).run_requests == []
    config.write_text("min_sample: 3\n", encoding="utf-8")
    edited = tick(first.cursor)
    assert len(edited.run_requests) == 1 and edited.cursor != first.cursor
    assert sensor.job_name == "refresh"
    assert WRITER.items() <= edited.run_requests[0].tags.items()
    assert tick(edited.cursor).run_requests == []
    config.unlink()
    assert tick(edited.cursor).run_requests == []  # unreadable: skipped, said why
