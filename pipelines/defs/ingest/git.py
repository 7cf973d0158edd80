"""Ingest: local git clones, GitOps config repos and operator history into the landing."""


from collections.abc import Callable
from typing import Any

import dagster as dg
import polars as pl

from pipelines.build import landed, latest_by_key
from pipelines.config import DoraConfig
from pipelines.defs.resources import DoraResource
from pipelines.defs.versions import with_landing_version
from pipelines.landing import LandingRoot, landing_run
from pipelines.sources.base import Tally, shown_path, source_name
from pipelines.sources.files import FilesResult, land_folder, land_source
from pipelines.sources.git import git_fingerprint, read_git
from pipelines.sources.gitops import gitops_fingerprint, read_gitops
from pipelines.sources.operators import read_operator

OPERATOR_KINDS = ("argocd", "flux", "rollouts")
Fingerprint = Callable[[Any, DoraConfig, str], str]


def land(root: LandingRoot, kind: str, name: str, result: FilesResult) -> int:
    """Land a source's records as its snapshot; returns how many landing files were new."""
    return land_folder(root, name, result, kind)


def ingest(context: dg.AssetExecutionContext, config: DoraConfig, kinds: tuple[str, ...],
           read: Callable[[Any, DoraConfig, str], FilesResult],
           fingerprint: Fingerprint | None = None) -> dg.MaterializeResult:
    """Read and land every configured source of `kinds` as its snapshot: kind by kind in the
    order of `kinds`, and in config order within a kind. A source whose `fingerprint` is
    unchanged since the last run is not read again."""
    tally, batches = Tally(), 0
    chosen = [(i, s) for i, s in enumerate(config.sources) if s.kind in kinds]
    for index, source in sorted(chosen, key=lambda pair: kinds.index(pair[1].kind)):
        name = source_name(source, index)
        context.log.info(f"reading {name}: {shown_path(config.resolve(source.path))}")
        stamp = fingerprint(source, config, name) if fingerprint else ""
        with landing_run(context.run.run_id):
            read_tally, written = land_source(config.landing_root, source.kind, name, stamp,
                                              lambda s=source, n=name: read(s, config, n))
        batches += written
        tally.add(read_tally)
    return with_landing_version(dg.MaterializeResult(
        metadata={**tally.as_metadata(), "new_batches": batches, "reconciles": tally.reconciles}
    ), config.landing_root, kinds)


@dg.asset(group_name="ingest", kinds={"git", "parquet"})
def git_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Commits (with parents, UTC author and committer times) of every `kind: git` clone, and
    its release tags as production deployments of the configured service."""
    return ingest(context, dora.load(), ("git",), read_git, git_fingerprint)


@dg.asset(group_name="ingest", kinds={"git", "parquet"})
def gitops_landing(context: dg.AssetExecutionContext, dora: DoraResource) -> dg.MaterializeResult:
    """Deployments from every `kind: gitops` config repo: each change of a service's image tag
    on the branch, resolved to the app commit; reverts and edits back are rollbacks."""
    return ingest(context, dora.load(), ("gitops",), read_gitops, gitops_fingerprint)


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
            before = latest_by_key(landed(config, "deployments"), "deployments")
            known = pl.concat([before, *produced]).unique("id", keep="last",
                                                          maintain_order=True)
        result = read_operator(source, config, name, known)
        produced.append(result.frames["deployments"])
        return result

    # OPERATOR_KINDS puts rollouts last, so they also find this run's Argo CD / Flux records.
    return ingest(context, config, OPERATOR_KINDS, read)
