"""Ingest: the `github` sources, one partition per repository (see docs/github.md).

- `github_landing`: syncs one repository (the partition key, `owner/name`) for every `kind: github`
  source that lists it, in the `github_api` pool (limit it in dagster.yaml to stay polite);
- `github_repo_partitions`: a sensor that adds a partition for each configured repository (and
  asks for its first sync);
- `github_daily`: a schedule that syncs every repository once a day.
"""


import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg

from pipelines.config import ConfigError, DoraConfig
from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import landing_run, staged_landing
from pipelines.sources.base import source_name
from pipelines.sources.github import GithubSyncError, RepoSyncResult, settings_for, sync_repo
from pipelines.sources.github.cursors import cursor_path

github_repos = dg.DynamicPartitionsDefinition(name="github_repos")

# A sync that stopped on the network, a 5xx or a rate limit says "run again (later) to resume":
# those are retried by Dagster, with backoff, after the client's own retries gave up. A bad
# token, a missing repository or a config error fails at once (a retry would fail the same way).
TRANSIENT_HINTS = ("run again to resume", "run again later to resume")
_SERVER_ERROR = re.compile(r"GitHub answered 5\d\d ")
GITHUB_RETRY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL,
                              jitter=dg.Jitter.PLUS_MINUS)


def is_transient(message: str) -> bool:
    """True when a sync failure is worth retrying later (network, 5xx, rate limit)."""
    return any(hint in message for hint in TRANSIENT_HINTS) or bool(_SERVER_ERROR.search(message))


@contextmanager
def config_errors_fail() -> Iterator[None]:
    """A config error fails the step without retries (the file will not change by itself)."""
    try:
        yield
    except ConfigError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def configured_repos(config: DoraConfig) -> list[str]:
    """Every repository of every `kind: github` source, in config order, once."""
    repos: list[str] = []
    for source in config.sources_of("github"):
        repos.extend(r for r in source.repos if r not in repos)
    return repos


def add_repo_partitions(instance: dg.DagsterInstance, config: DoraConfig) -> list[str]:
    """Add the partitions the config's repositories lack; returns the ones added."""
    known = set(instance.get_dynamic_partitions(github_repos.name))
    missing = [r for r in configured_repos(config) if r not in known]
    if missing:
        instance.add_dynamic_partitions(github_repos.name, missing)
    return missing


@dg.asset(
    group_name="ingest",
    kinds={"python", "github", "parquet"},
    partitions_def=github_repos,
    pool="github_api",
    retry_policy=GITHUB_RETRY,
)
def github_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Syncs one GitHub repository into the landing: commits, pull requests with commits and
    reviews, deployments, releases, workflow runs and incident issues, incrementally.

    Metadata: requests used, rate limit left (core and GraphQL), records per entity.
    """
    with config_errors_fail():
        config = dora.load()
    result = dg.MaterializeResult(
        metadata=sync_partition(config, context.partition_key, context.log.info,
                                context.run.run_id))
    return with_landing_version(result, config.landing_root, [("github", context.partition_key)])


def sync_partition(config: DoraConfig, repo: str, log: Callable[[str], None],
                   run_id: str | None = None) -> dict[str, Any]:
    """Sync `repo` for every `kind: github` source that lists it; returns the run metadata.

    With an object-store landing, the sync lands into a local scratch folder (holding the
    repository's cursor) that is published to the store afterwards, even after a failure, so the
    next run resumes where this one stopped. Raises `dg.Failure` with one clear message.
    """
    sources = [(i, s) for i, s in enumerate(config.sources)
               if s.kind == "github" and repo in s.repos]
    if not sources:
        raise dg.Failure(description=f"{repo}: no `kind: github` source of the config lists this "
                                     "repository (remove the partition, or add it to `repos`)",
                         allow_retries=False)
    metadata: dict[str, Any] = {}
    cursor = cursor_path(Path(), repo).as_posix()
    with landing_run(run_id), staged_landing(config.landing_root, [cursor]) as local:
        local_config = config.model_copy(update={"landing_dir": local})
        for index, source in sources:
            name = source_name(source, index)
            try:
                result = sync_repo(local_config, source, name, repo,
                                   settings=settings_for(source), log=log)
            except GithubSyncError as exc:
                partial = exc.partial if isinstance(exc.partial, RepoSyncResult) else None
                raise dg.Failure(description=str(exc),
                                 metadata=_metadata(partial) if partial else None,
                                 allow_retries=is_transient(str(exc))) from None
            _merge(metadata, _metadata(result))
    return metadata


def _metadata(result: RepoSyncResult) -> dict[str, Any]:
    return {**result.as_metadata(), "reconciles": result.tally.reconciles}


def _merge(total: dict[str, Any], more: dict[str, Any]) -> None:
    # Several sources may list the same repository: add their counts up.
    for key, value in more.items():
        if isinstance(value, int | float) and not isinstance(value, bool) and key in total \
                and not key.startswith("rate_limit"):
            total[key] += value
        else:
            total[key] = value


@dg.sensor(
    target=dg.AssetSelection.assets("github_landing"),
    minimum_interval_seconds=300,
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def github_repo_partitions(context: dg.SensorEvaluationContext,
                           dora: DoraResource) -> dg.SensorResult:
    """Adds a partition for every configured repository and requests its first sync."""
    known = set(context.instance.get_dynamic_partitions(github_repos.name))
    missing = [r for r in configured_repos(dora.load()) if r not in known]
    return dg.SensorResult(
        run_requests=[dg.RunRequest(partition_key=r, run_key=f"github-first-sync-{r}")
                      for r in missing],
        dynamic_partitions_requests=[github_repos.build_add_request(missing)] if missing else [],
    )


@dg.schedule(
    target=dg.AssetSelection.assets("github_landing"),
    cron_schedule="17 3 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
def github_daily(context: dg.ScheduleEvaluationContext, dora: DoraResource) -> list[dg.RunRequest]:
    """Syncs every configured repository that has a partition, once a day (03:17 UTC)."""
    known = set(context.instance.get_dynamic_partitions(github_repos.name))
    return [dg.RunRequest(partition_key=r) for r in configured_repos(dora.load()) if r in known]
