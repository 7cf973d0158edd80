"""Ingest many GitHub repositories in one run, one step per repository (see docs/deployment.md).

`github_sync` plans the repositories to sync and maps one `github_sync_repos` step over each (or
over groups of `repos_per_step`). The run's executor places the steps: Dagster's multiprocess
executor runs them in parallel processes on one machine (`max_concurrent`), the
`k8s_job_executor` gives each its own pod. Every step is in the `github_api` pool, so the
instance's pool limit caps how many repositories are synced at once across all runs; and each
records a materialisation of the `github_landing` partition it synced, so the asset's partitions
show the same history whichever way they were synced.

Which repositories: the run's partition or partition range (`dg launch --job github_sync
--partition-range acme/a...acme/k`, in the order partitions were added), else the op config's
`repos`, else every repository the config lists.
"""

import hashlib
import re

import dagster as dg

from pipelines.defs.ingest.github import (
    GITHUB_RETRY,
    add_repo_partitions,
    config_errors_fail,
    configured_repos,
    github_landing,
    github_repos,
    is_transient,
    sync_partition,
)
from pipelines.defs.resources import DoraResource


class SyncPlan(dg.Config):
    """Which repositories `github_sync` syncs when the run has no partition (default: all), and
    how many each step syncs one after the other (more per step: fewer processes or pods to
    start, at the price of coarser parallelism and retries)."""

    repos: list[str] = []
    repos_per_step: int = 1


def mapping_key(repo: str) -> str:
    """A step-name-safe key for `repo` (letters, digits, `_`), unique by a short hash."""
    digest = hashlib.sha256(repo.encode("utf-8")).hexdigest()[:6]
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', repo)[:60]}_{digest}"


@dg.op(out=dg.DynamicOut(list[str]), tags={"dora/stage": "ingest"})
def github_plan(context: dg.OpExecutionContext, config: SyncPlan, dora: DoraResource):
    """Adds missing repository partitions, then emits the repositories, `repos_per_step` to a
    step."""
    settings = dora.load()
    add_repo_partitions(context.instance, settings)
    if context.has_partition_key or context.has_partition_key_range:
        repos = list(context.partition_keys)
    else:
        repos = config.repos or configured_repos(settings)
    repos = list(dict.fromkeys(repos))
    size = max(config.repos_per_step, 1)
    context.log.info(f"syncing {len(repos)} repositories, {size} per step")
    for start in range(0, len(repos), size):
        chunk = repos[start:start + size]
        yield dg.DynamicOutput(chunk, mapping_key=mapping_key(chunk[0]))


@dg.op(pool="github_api", tags={"dora/stage": "ingest"}, retry_policy=GITHUB_RETRY)
def github_sync_repos(context: dg.OpExecutionContext, repos: list[str],
                      dora: DoraResource) -> dict[str, int]:
    """Syncs each repository into the landing and records its `github_landing` partition; a
    failed repository does not stop the others, and fails the step at the end (retried later
    only when every failure was transient)."""
    with config_errors_fail():
        config = dora.load()
    requests: dict[str, int] = {}
    failures: list[str] = []
    for repo in repos:
        try:
            metadata = sync_partition(config, repo, context.log.info, context.run.run_id)
        except dg.Failure as exc:
            failures.append(exc.description or repo)
            context.log.error(exc.description or repo)
            continue
        requests[repo] = int(metadata.get("requests_used") or 0)
        context.log_event(dg.AssetMaterialization(asset_key=github_landing.key, partition=repo,
                                                  metadata=metadata))
    if failures:
        raise dg.Failure(description=f"{len(failures)} of {len(repos)} repositories failed:\n"
                                     + "\n".join(failures),
                         allow_retries=all(is_transient(f) for f in failures))
    return requests


@dg.job(partitions_def=github_repos, tags={"dora/stage": "ingest"},
        description="Sync many GitHub repositories in one run, each step (a process or a pod) "
                    "syncing one (or `repos_per_step`) of them.")
def github_sync() -> None:
    """One `github_sync_repos` step per planned repository (or group of repositories)."""
    github_plan().map(github_sync_repos)
