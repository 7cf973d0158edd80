"""Ingest: local git clones, GitOps config repos and operator history into the landing."""


from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl

from pipelines.config import DoraConfig
from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import LandingRoot, landing_run, read_entity, write_batch
from pipelines.sources.base import Tally, source_name
from pipelines.sources.files import FilesResult
from pipelines.sources.git import read_git
from pipelines.sources.gitops import read_gitops
from pipelines.sources.operators import read_operator

OPERATOR_KINDS = ("argocd", "flux", "rollouts")


def land(root: LandingRoot, kind: str, name: str, result: FilesResult) -> int:
    """Write a source's frames and quarantine rows as landing batches; returns how many were new."""
    frames = {**result.frames, "quarantine": result.quarantine}
    return sum(write_batch(root, kind, name, entity, frame) is not None
               for entity, frame in frames.items())


def ingest(context: dg.AssetExecutionContext, config: DoraConfig, kinds: tuple[str, ...],
           read: Callable[[Any, DoraConfig, str], FilesResult]) -> dg.MaterializeResult:
    """Read and land every configured source of `kinds`: kind by kind in the order of `kinds`,
    and in config order within a kind."""
    tally, batches = Tally(), 0
    chosen = [(i, s) for i, s in enumerate(config.sources) if s.kind in kinds]
    for index, source in sorted(chosen, key=lambda pair: kinds.index(pair[1].kind)):
        name = source_name(source, index)
        context.log.info(f"reading {name}: {config.resolve(source.path)}")
        result = read(source, config, name)
        with landing_run(context.run.run_id):
            batches += land(config.landing_root, source.kind, name, result)
        tally.add(result.tally)
    return with_landing_version(dg.MaterializeResult(
        metadata={**tally.as_metadata(), "new_batches": batches, "reconciles": tally.reconciles}
    ), config.landing_root, kinds)


@dg.asset(group_name="ingest", kinds={"git", "parquet"})
def git_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Commits (with parents, UTC author and committer times) of every `kind: git` clone, and
    its release tags as production deployments of the configured service."""
    return ingest(context, dora.load(), ("git",), read_git)


@dg.asset(group_name="ingest", kinds={"git", "parquet"})
def gitops_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Deployments from every `kind: gitops` config repo: each change of a service's image tag
    on the branch, resolved to the app commit; reverts and edits back are rollbacks."""
    return ingest(context, dora.load(), ("gitops",), read_gitops)


@dg.asset(group_name="ingest", kinds={"kubernetes", "parquet"}, deps=[git_landing, gitops_landing])
def operator_landing(context: dg.AssetExecutionContext,
                     dora: DoraResource) -> dg.MaterializeResult:
    """Deployments from Argo CD, Flux and Argo Rollouts objects saved as JSON.

    Runs after the git and gitops landings: a Rollouts abort names the deployment it rolls back,
    which those sources (or Argo CD / Flux, read first here) recorded.
    """
    config = dora.load()
    produced: list[pl.DataFrame] = []

    def read(source: Any, config: DoraConfig, name: str) -> FilesResult:
        known = None
        if source.kind == "rollouts":
            landed = read_entity(config.landing_root, "deployments").sort("_batch")
            known = pl.concat([landed.drop("_batch"), *produced]).unique(
                "id", keep="last", maintain_order=True)
        result = read_operator(source, config, name, known)
        produced.append(result.frames["deployments"])
        return result

    # OPERATOR_KINDS puts rollouts last, so they also find this run's Argo CD / Flux records.
    return ingest(context, config, OPERATOR_KINDS, read)
