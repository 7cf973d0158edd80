"""Commits of the default branch, through REST (a page of 100 costs what GraphQL would).

The cursor is the branch head already synced (``{"head": sha}``). A first sync lists the history
from the head (`GET /commits?sha=`, following `Link`); later syncs ask `compare/{old}...{new}`
for exactly the commits the branch gained, which also catches commits merged in with old dates
(a `since` date would miss them). A sync in progress keeps its fixed target sha and the next page
in `sweep`, so an interrupted run resumes at the page it had not stored.
"""

from __future__ import annotations

from typing import Any

from pipelines.sources.github.context import SyncContext, iso
from pipelines.sources.github.errors import GithubNotFound


def sync_commits(ctx: SyncContext, branch: str | None, target: str | None) -> None:
    """Bring the commits of `branch` up to `target` (its current head)."""
    if not branch or not target:
        return  # an empty repository has no default branch yet
    state = ctx.cursors.get("commits")
    while True:
        sweep = state.get("sweep")
        if sweep is None:
            if state.get("head") == target:
                return
            base = state.get("head")
            sweep = {"target": target, "base": base, "next": None, "page": 1,
                     "mode": "compare" if base else "list"}
        if sweep["mode"] == "compare":
            try:
                _compare(ctx, state, sweep)
            except GithubNotFound:
                # The old head is gone (force push): list the history from the new head instead.
                ctx.log(f"{ctx.repo}: synced head {sweep['base']} no longer exists; relisting")
                sweep = {**sweep, "mode": "list", "base": None, "next": None}
                _list(ctx, state, sweep)
        else:
            _list(ctx, state, sweep)
        state = {"head": sweep["target"], "branch": branch}
        ctx.cursors.put("commits", state)


def _list(ctx: SyncContext, state: dict[str, Any], sweep: dict[str, Any]) -> None:
    params: dict[str, Any] = {"sha": sweep["target"], "per_page": ctx.page_size}
    if ctx.since:
        params["since"] = iso(ctx.since)
    path = f"/repos/{ctx.repo}/commits"
    for page in ctx.client.rest_pages(path, params, start_url=sweep.get("next")):
        ctx.land("commits", "commit", page.url, list(page.data))
        ctx.log(f"{ctx.repo}: commits, {ctx.fetched['commits']} fetched")
        if page.next_url is None:
            return
        sweep["next"] = page.next_url
        ctx.cursors.put("commits", {**state, "sweep": sweep})


def _compare(ctx: SyncContext, state: dict[str, Any], sweep: dict[str, Any]) -> None:
    path = f"/repos/{ctx.repo}/compare/{sweep['base']}...{sweep['target']}"
    while True:
        params = {"per_page": ctx.page_size, "page": sweep["page"]}
        _headers, data = ctx.client.rest(path, params)
        commits = list(data.get("commits") or [])
        ctx.land("commits", "commit", f"{path}?page={sweep['page']}", commits)
        ctx.log(f"{ctx.repo}: commits, {ctx.fetched['commits']} new on the default branch")
        total = int(data.get("total_commits") or 0)
        if not commits or sweep["page"] * ctx.page_size >= total:
            return
        sweep["page"] += 1
        ctx.cursors.put("commits", {**state, "sweep": sweep})
