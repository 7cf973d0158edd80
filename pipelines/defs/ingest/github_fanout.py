"""Ingest many GitHub repositories in one run, one step per repository (see docs/deployment.md).

`github_sync` plans the repositories to sync and maps one `github_sync_repo` step over each. The
run's executor places the steps: Dagster's multiprocess executor runs them in parallel processes
on one machine (`max_concurrent`), the `k8s_job_executor` gives each its own pod. Every step is in
the `github_api` pool, so the instance's pool limit caps how many repositories are synced at once
across all runs, and records a materialisation of the `github_landing` partition it synced, so
the asset's partitions show the same history whichever way they were synced.

Which repositories: the run's partition or partition range (`dg launch --job github_sync
--partition-range acme/a...acme/k`, in the order partitions were added), else the op config's
`repos`, else every repository the config lists.
"""

import hashlib
import re
from typing import Any

import dagster as dg

from pipelines.defs.ingest.github import (
    add_repo_partitions,
    configured_repos,
    github_landing,
    github_repos,
    sync_partition,
)
from pipelines.defs.resources import DoraResource


class SyncPlan(dg.Config):
    """Which repositories `github_sync` syncs when the run has no partition (default: all)."""

    repos: list[str] = []


def mapping_key(repo: str) -> str:
    """A step-name-safe key for `repo` (letters, digits, `_`), unique by a short hash."""
    digest = hashlib.sha256(repo.encode("utf-8")).hexdigest()[:6]
    return f"{re.sub(r'[^A-Za-z0-9_]', '_', repo)[:60]}_{digest}"


@dg.op(out=dg.DynamicOut(str), tags={"dora/stage": "ingest"})
def github_plan(context: dg.OpExecutionContext, config: SyncPlan,
                dora: DoraResource):
    """Adds missing repository partitions, then emits one repository per step to run."""
    settings = dora.load()
    add_repo_partitions(context.instance, settings)
    if context.has_partition_key or context.has_partition_key_range:
        repos = list(context.partition_keys)
    else:
        repos = config.repos or configured_repos(settings)
    context.log.info(f"syncing {len(repos)} repositories, one step each")
    for repo in dict.fromkeys(repos):
        yield dg.DynamicOutput(repo, mapping_key=mapping_key(repo))


@dg.op(pool="github_api", tags={"dora/stage": "ingest"})
def github_sync_repo(context: dg.OpExecutionContext, repo: str,
                     dora: DoraResource) -> dict[str, Any]:
    """Syncs one repository into the landing and records the `github_landing` partition."""
    metadata = sync_partition(dora.load(), repo, context.log.info, context.run_id)
    context.log_event(dg.AssetMaterialization(asset_key=github_landing.key, partition=repo,
                                              metadata=metadata))
    return metadata


@dg.job(partitions_def=github_repos, tags={"dora/stage": "ingest"},
        description="Sync many GitHub repositories in one run, one step (process or pod) each.")
def github_sync() -> None:
    """One `github_sync_repo` step per planned repository."""
    github_plan().map(github_sync_repo)
