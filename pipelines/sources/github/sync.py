"""Sync one repository: the Overview query, then each entity that changed, then revisits.

The Overview query (one request) returns the default branch head and the newest item of every
entity, so a rerun with nothing new costs that one request (plus one per 100 unfinished
deployments or drafts, and the workflow-run listings when those are configured).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipelines.config import DoraConfig, GithubSource
from pipelines.sources.base import Tally
from pipelines.sources.github.client import ClientSettings, GithubClient
from pipelines.sources.github.commits import sync_commits
from pipelines.sources.github.context import SyncContext
from pipelines.sources.github.cursors import CursorStore
from pipelines.sources.github.errors import GithubSyncError, redact
from pipelines.sources.github.normalise import RepoInfo, service_for_repo
from pipelines.sources.github.raw import RawStore
from pipelines.sources.github.sweeps import (
    revisit_unsettled,
    sync_created_desc,
    sync_incidents,
    sync_pull_requests,
)
from pipelines.sources.github.workflow_runs import sync_workflow_runs

logger = logging.getLogger(__name__)


@dataclass
class RepoSyncResult:
    """What one repository's sync did and cost."""

    repo: str
    requests: int = 0
    retries: int = 0
    waited_seconds: float = 0.0
    rate_limit_remaining: dict[str, int] | None = None
    tally: Tally = field(default_factory=Tally)
    fetched: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    new_batches: int = 0
    messages: list[str] = field(default_factory=list)

    def as_metadata(self) -> dict[str, Any]:
        """Flat figures for Dagster metadata."""
        remaining = self.rate_limit_remaining
        return {
            "repo": self.repo,
            "requests_used": self.requests,
            "retries": self.retries,
            "waited_seconds": round(self.waited_seconds, 3),
            "rate_limit_remaining_core": None if remaining is None else remaining.get("core"),
            "rate_limit_remaining_graphql": None if remaining is None
            else remaining.get("graphql"),
            "rate_limit_reported": remaining is not None,
            "new_batches": self.new_batches,
            **{f"{k}_fetched": v for k, v in sorted(self.fetched.items())},
            **{f"{k}_skipped": v for k, v in sorted(self.skipped.items())},
            **self.tally.as_metadata(),
        }


def settings_for(source: GithubSource, **overrides: Any) -> ClientSettings:
    """Client settings from the source's config (its maximum wait), with `overrides`."""
    return ClientSettings(**{"max_wait": source.max_rate_limit_wait_seconds, **overrides})


def sync_repo(config: DoraConfig, source: GithubSource, source_name: str, repo: str, *,
              settings: ClientSettings | None = None, log: Callable[[str], None] | None = None,
              now: dt.datetime | None = None) -> RepoSyncResult:
    """Fetch what changed in `repo` since the last sync and land it (module doc).

    `now` is the sync's idea of the present (default: the clock): how old an unfinished
    deployment may get before it stops being revisited, where workflow-run windows end.

    Raises `GithubSyncError` (one clear message naming the repository) when it cannot go on;
    its `partial` holds what was done before, and the cursors let the next run resume.
    """
    log = log or logger.info
    _check_repo_name(repo)
    token = os.environ.get(source.token_env, "").strip()
    if not token:
        raise GithubSyncError(
            f"{repo}: environment variable ${source.token_env} is not set; it must hold a GitHub "
            "token (the config names the variable, never the token)"
        )
    settings = settings or settings_for(source)
    client = GithubClient(source.base_url, token, repo, source.token_env, settings)
    ctx = SyncContext(
        client=client, source=source,
        info=RepoInfo(repo=repo, source=source_name, service=service_for_repo(config, repo)),
        landing_root=config.landing_path, cursors=CursorStore(config.landing_path, repo),
        raw=RawStore(config.landing_path, repo), log=log, now=now or settings.clock(),
    )
    try:
        _run(ctx)
    except GithubSyncError as exc:
        exc.partial = _result(ctx)
        raise
    except Exception as exc:  # noqa: BLE001 - anything else still must not leak the token
        error = GithubSyncError(redact(f"{repo}: sync failed ({type(exc).__name__}: {exc})",
                                       token))
        error.partial = _result(ctx)
        raise error from None
    finally:
        client.close()
    return _result(ctx)


def _run(ctx: SyncContext) -> None:
    repo, source = ctx.repo, ctx.source
    data = ctx.client.graphql(
        "Overview", {**ctx.owner_name, "incidentLabels": list(source.incident_labels)}
    )
    overview = data.get("repository")
    if overview is None:
        raise GithubSyncError(f"{repo}: repository not found at {source.base_url}")
    if ctx.client.rate_limit_remaining() is None:
        ctx.log(f"{repo}: {source.base_url} reports no rate limit (GitHub Enterprise with rate "
                "limiting off); syncing without rate-limit figures")
    branch = overview.get("defaultBranchRef") or {}
    head = (branch.get("target") or {}).get("oid")
    sync_commits(ctx, branch.get("name"), head)
    sync_pull_requests(ctx, _top(overview, "pullRequests", "updatedAt"))
    revisit = []
    if "deployments" in source.deployments_from:
        sync_created_desc(ctx, "deployments", "Deployments", "deployment",
                          _top(overview, "deployments", "databaseId"))
        revisit.append("deployments")
    if "releases" in source.deployments_from:
        sync_created_desc(ctx, "releases", "Releases", "release",
                          _top(overview, "releases", "databaseId"),
                          count=(overview.get("releases") or {}).get("totalCount"))
        revisit.append("releases")
    sync_incidents(ctx, _top(overview, "issues", "updatedAt"))
    if "workflow_runs" in source.deployments_from:
        sync_workflow_runs(ctx, overview.get("createdAt"))
    revisit_unsettled(ctx, revisit)
    ctx.log(f"{repo}: done, {ctx.client.stats.requests} requests")


def _top(overview: dict[str, Any], connection: str, key: str) -> Any:
    nodes = (overview.get(connection) or {}).get("nodes") or []
    return nodes[0].get(key) if nodes and nodes[0] else None


def _result(ctx: SyncContext) -> RepoSyncResult:
    stats = ctx.client.stats
    return RepoSyncResult(
        repo=ctx.repo, requests=stats.requests, retries=stats.retries,
        waited_seconds=stats.waited_seconds,
        rate_limit_remaining=ctx.client.rate_limit_remaining(), tally=ctx.tally,
        fetched=Counter(ctx.fetched), skipped=Counter(ctx.skipped), new_batches=ctx.new_batches,
    )


def _check_repo_name(repo: str) -> None:
    owner, _, name = repo.partition("/")
    if not owner or not name or "/" in name:
        raise GithubSyncError(f"{repo!r}: a repository must be written owner/name")
