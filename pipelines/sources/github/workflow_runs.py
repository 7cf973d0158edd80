"""Workflow runs as deployments (`deployments_from: [workflow_runs]`), through REST.

GitHub's run listings stop at 1,000 results once filtered (`created` is a filter), so runs are
listed per time window: a window whose `total_count` reaches 1,000 is split in two until each
half fits. Windows go oldest first and the cursor (``{"until": {workflow: time}}``) moves past a
window only once all its pages are stored. Runs still going are kept in `pending` and fetched
again one by one until they complete.

Which workflows: the config's `workflows` (file names like `deploy.yml`, ids, or names); without
it, every workflow whose name or file mentions "deploy".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pipelines.sources.github.context import SyncContext, iso, parse_time
from pipelines.sources.github.normalise import run_outcome
from pipelines.sources.github.sweeps import SETTLE_DAYS

LISTING_CAP = 1000  # GitHub returns at most this many runs for a filtered listing
OVERLAP = dt.timedelta(minutes=10)  # runs created just before the last sync ended


def sync_workflow_runs(ctx: SyncContext, repo_created: str | None) -> None:
    """List new runs of the deployment workflows and revisit the unfinished ones."""
    state = ctx.cursors.get("workflow_runs")
    until: dict[str, str] = dict(state.get("until") or {})
    pending: dict[str, str] = dict(state.get("pending") or {})
    seen: set[str] = set()
    for workflow in _workflows(ctx):
        start = (parse_time(until[workflow]) - OVERLAP if workflow in until
                 else ctx.since or parse_time(repo_created) or ctx.now)
        _window(ctx, workflow, start, ctx.now, until, pending, seen)
    oldest = ctx.now - dt.timedelta(days=SETTLE_DAYS)
    for run_id, created in list(pending.items()):
        if (parse_time(created) or ctx.now) < oldest:
            del pending[run_id]  # a run that never completes is not revisited for ever
    for run_id in sorted(set(pending) - seen):
        _headers, run = ctx.client.rest(f"/repos/{ctx.repo}/actions/runs/{run_id}")
        ctx.land("workflow_runs", "workflow_run", f"/repos/{ctx.repo}/actions/runs/{run_id}",
                 [run])
        _track(pending, run)
    ctx.cursors.put("workflow_runs", {"until": until, "pending": pending})


def _workflows(ctx: SyncContext) -> list[str]:
    """The workflow ids or file names to list runs of."""
    wanted = list(ctx.source.workflows or [])
    if wanted and all(w.endswith((".yml", ".yaml")) or w.isdigit() for w in wanted):
        return wanted  # usable in the URL as they are: no listing needed
    _headers, data = ctx.client.rest(f"/repos/{ctx.repo}/actions/workflows", {"per_page": 100})
    chosen = []
    for flow in data.get("workflows") or []:
        file = str(flow.get("path", "")).rsplit("/", 1)[-1]
        names = {str(flow.get("id")), str(flow.get("name")), file}
        if (wanted and names & set(wanted)) or (
            not wanted and "deploy" in f"{flow.get('name')} {file}".lower()
        ):
            chosen.append(str(flow["id"]))
    if not chosen:
        ctx.log(f"{ctx.repo}: no deployment workflow found (set `workflows` on the source)")
    return chosen


def _window(ctx: SyncContext, workflow: str, start: dt.datetime, end: dt.datetime,
            until: dict[str, str], pending: dict[str, str], seen: set[str]) -> None:
    """Store the runs created in [start, end], splitting the window when the cap would cut it."""
    path = f"/repos/{ctx.repo}/actions/workflows/{workflow}/runs"
    params = {"created": f"{iso(start)}..{iso(end)}", "per_page": ctx.page_size}
    listing = ctx.client.rest_pages(path, params)
    first = next(listing)
    if int(first.data.get("total_count") or 0) >= LISTING_CAP and end - start > dt.timedelta(
        seconds=1
    ):
        middle = start + (end - start) / 2
        middle = middle.replace(microsecond=0)
        _window(ctx, workflow, start, middle, until, pending, seen)
        _window(ctx, workflow, middle + dt.timedelta(seconds=1), end, until, pending, seen)
        return
    for page in [first, *listing]:
        runs = list(page.data.get("workflow_runs") or [])
        ctx.land("workflow_runs", "workflow_run", page.url, runs)
        for run in runs:
            seen.add(str(run["id"]))
            _track(pending, run)
    until[workflow] = iso(end)
    ctx.cursors.put("workflow_runs", {"until": until, "pending": pending})
    ctx.log(f"{ctx.repo}: workflow runs, {ctx.fetched['workflow_runs']} fetched")


def _track(pending: dict[str, str], run: dict[str, Any]) -> None:
    if run_outcome(run) == "in_progress":
        pending[str(run["id"])] = run.get("created_at") or ""
    else:
        pending.pop(str(run["id"]), None)
