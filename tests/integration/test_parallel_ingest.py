"""Parallel ingestion on Dagster's multiprocess executor: `dg launch --job github_sync` over a
partition range syncs each repository in its own process, at most `github_api`-pool-limit at a
time, and records every `github_landing` partition; grouped repositories and failures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
from fake_github.helpers import TOKEN_ENV, write_config
from fake_github.scenarios import small_repo
from slow_github import SlowGithub, many_repos

from pipelines.build import build_warehouse
from pipelines.defs.ingest.github import add_repo_partitions
from pipelines.defs.ingest.github_fanout import github_sync, mapping_key
from pipelines.defs.resources import DoraResource
from pipelines.landing import batch_files

pytest_plugins = ["fake_github.fixtures"]

ROOT = Path(__file__).resolve().parents[2]
DG = Path(sys.executable).parent / "dg"
REPOS = 4
POOL_LIMIT = 2
RUN_CONFIG = ROOT / "deploy" / "github_sync.run_config.yaml"  # the documented one: 4 processes


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals],
                   key=lambda e: (e[0], e[1]))
    open_now = peak = 0
    for _, change in edges:
        open_now += change
        peak = max(peak, open_now)
    return peak


def step_intervals(instance: dg.DagsterInstance, run_id: str, prefix: str
                   ) -> dict[str, tuple[float, float]]:
    """(start, end) timestamps of every step of `run_id` whose key starts with `prefix`."""
    starts: dict[str, float] = {}
    ends: dict[str, float] = {}
    for event in instance.all_logs(run_id):
        key = event.step_key or ""
        if not key.startswith(prefix):
            continue
        if event.dagster_event_type == dg.DagsterEventType.STEP_START:
            starts[key] = event.timestamp
        elif event.dagster_event_type in (dg.DagsterEventType.STEP_SUCCESS,
                                          dg.DagsterEventType.STEP_FAILURE):
            ends[key] = event.timestamp
    return {key: (starts[key], ends[key]) for key in starts}


def dagster_home(tmp_path: Path) -> Path:
    """A persistent instance folder with the project's dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def test_dg_launch_syncs_a_partition_range_in_parallel_within_the_pool(tmp_path: Path) -> None:
    repos = many_repos(REPOS)
    names = [r.full_name for r in repos]
    with SlowGithub(latency=0.25) as server:
        for repo in repos:
            server.add_repo(repo)
        config = write_config(tmp_path, server.base_url, names)
        home = dagster_home(tmp_path)
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert add_repo_partitions(instance, config) == names
            instance.event_log_storage.set_concurrency_slots("github_api", POOL_LIMIT)
        env = {**os.environ, "DAGSTER_HOME": str(home), TOKEN_ENV: server.token,
               "DORA_CONFIG": str(tmp_path / "dora.yaml"), "DAGSTER_DISABLE_TELEMETRY": "1"}
        launched = subprocess.run(
            [str(DG), "launch", "--job", "github_sync",
             "--partition-range", f"{names[0]}...{names[-1]}",
             "--config", str(RUN_CONFIG)],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
        assert launched.returncode == 0, launched.stderr[-3000:]
        requests = server.request_count

    with dg.DagsterInstance.from_config(str(home)) as instance:
        (run,) = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.SUCCESS
        intervals = step_intervals(instance, run.run_id, "github_sync_repos")
        assert len(intervals) == REPOS
        # Never more repositories at one moment than the pool allows. Whether two steps did
        # overlap depends on how busy the machine is, so that is not asserted.
        assert max_overlap(list(intervals.values())) <= POOL_LIMIT
        materialized = instance.get_materialized_partitions(dg.AssetKey("github_landing"))
        assert materialized == set(names)

    # One batch per entity and repository, each named after the run that wrote it.
    prs = batch_files(config.landing_root, "pull_requests")
    assert len(prs) == REPOS
    assert all(run.run_id in Path(p).name for p in prs)
    counts = build_warehouse(config)
    assert counts["pull_requests"] == REPOS * 4
    assert requests >= REPOS * 5


def test_github_sync_groups_repositories_and_a_failure_spares_the_others(fake_github,
                                                                          tmp_path: Path) -> None:
    fake_github.add_repo(small_repo().repo)  # acme/app; acme/gone does not exist
    write_config(tmp_path, fake_github.base_url, ["acme/app", "acme/gone"])
    instance = dg.DagsterInstance.ephemeral()
    result = github_sync.execute_in_process(
        run_config={"ops": {"github_plan": {"config": {"repos_per_step": 2}}}},
        resources={"dora": DoraResource(config_path=str(tmp_path / "dora.yaml"))},
        instance=instance, raise_on_error=False)
    assert not result.success
    steps = {e.step_key for e in result.all_events if e.step_key}
    assert steps == {"github_plan", f"github_sync_repos[{mapping_key('acme/app')}]"}
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    message = failure.event_specific_data.error.message
    assert "1 of 2 repositories failed" in message and "acme/gone" in message
    # acme/app was synced and recorded although its step-mate failed.
    assert instance.get_materialized_partitions(dg.AssetKey("github_landing")) == {"acme/app"}
