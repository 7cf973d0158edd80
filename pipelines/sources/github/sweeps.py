"""GraphQL entities: pull requests, deployments, releases, incident issues, and revisits.

Each entity keeps a cursor ``{"mark": ..., "sweep": {...}}``. `mark` is how far a completed sync
got (newest `updatedAt`, or newest `databaseId`); a `sweep` is a sync in progress, saved after
every landed page with the GraphQL `endCursor` to continue from. A failed run therefore resumes at
the first page it had not stored: nothing lost, nothing fetched twice.

Newest-first listings stop at the first item at or before `mark`, so a rerun costs no page when
the Overview query already shows nothing newer. Deployments that have not finished and draft
releases are kept as `unsettled` node ids and fetched again (100 per request) until they settle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from pipelines.sources.github.context import SyncContext, iso, parse_time
from pipelines.sources.github.normalise import deployment_outcome

SETTLE_DAYS = 30  # a deployment still unfinished after this is no longer revisited
NODES_PER_REQUEST = 100
CONNECTIONS = {"PullRequests": "pullRequests", "Deployments": "deployments",
               "Releases": "releases", "Incidents": "issues"}


def pages(ctx: SyncContext, operation: str, variables: dict[str, Any],
          after: str | None) -> Iterator[tuple[list[dict[str, Any]], str | None, bool, str]]:
    """(nodes, endCursor, hasNextPage, label) for each page of a repository connection."""
    while True:
        data = ctx.client.graphql(
            operation, {**ctx.owner_name, **variables, "first": ctx.page_size, "after": after}
        )
        connection = (data.get("repository") or {})[CONNECTIONS[operation]]
        info = connection["pageInfo"]
        label = f"graphql {operation} {ctx.repo} after={after or 'start'}"
        yield [n for n in connection["nodes"] if n], info["endCursor"], info["hasNextPage"], label
        if not info["hasNextPage"]:
            return
        after = info["endCursor"]


def sync_pull_requests(ctx: SyncContext, top: str | None) -> None:
    """Pull requests updated since the mark, newest update first, with commits and reviews."""
    state = ctx.cursors.get("pull_requests")
    mark, sweep = state.get("mark"), state.get("sweep")
    if sweep is None:
        if top is None or (mark and parse_time(top) <= parse_time(mark)):
            return
        since = iso(ctx.since) if ctx.since else None
        sweep = {"high": top, "stop": mark or since, "after": None}
    stop = parse_time(sweep["stop"])
    for nodes, end, has_next, label in pages(ctx, "PullRequests", {}, sweep["after"]):
        # `>=`: PRs updated in the mark's own second are fetched again rather than missed.
        fresh = [n for n in nodes if stop is None or parse_time(n["updatedAt"]) >= stop]
        for node in fresh:
            _complete_pull_request(ctx, node)
        ctx.land("pull_requests", "pull_request", label, fresh)
        sweep["high"] = max([sweep["high"], *(n["updatedAt"] for n in fresh)], key=parse_time)
        ctx.log(f"{ctx.repo}: pull requests, {ctx.fetched['pull_requests']} fetched")
        if len(fresh) < len(nodes) or not has_next:
            ctx.cursors.put("pull_requests", {"mark": sweep["high"]})
            return
        sweep["after"] = end
        ctx.cursors.put("pull_requests", {"mark": mark, "sweep": sweep})


def _complete_pull_request(ctx: SyncContext, node: dict[str, Any]) -> None:
    """Fetch the commits and reviews beyond the first 100 into `node` (rare, one query each)."""
    commits, reviews = node["commits"], node["reviews"]
    while commits["pageInfo"]["hasNextPage"] or reviews["pageInfo"]["hasNextPage"]:
        more_commits = commits["pageInfo"]["hasNextPage"]
        more_reviews = reviews["pageInfo"]["hasNextPage"]
        data = ctx.client.graphql("PullRequestMore", {
            "id": node["id"], "withCommits": more_commits, "withReviews": more_reviews,
            "commitsAfter": commits["pageInfo"]["endCursor"] if more_commits else None,
            "reviewsAfter": reviews["pageInfo"]["endCursor"] if more_reviews else None,
        })
        extra = data.get("node") or {}
        for key, target in (("commits", commits), ("reviews", reviews)):
            if key in extra:
                target["nodes"].extend(extra[key]["nodes"])
                target["pageInfo"] = extra[key]["pageInfo"]
        if not extra:
            break  # the PR vanished mid-sync: keep what we have


def sync_created_desc(ctx: SyncContext, entity: str, operation: str, kind: str,
                      top: int | None, count: int | None = None) -> None:
    """Deployments or releases created since the mark (newest first, by `databaseId`).

    Releases pass their `count`: a release's `createdAt` is its commit's date, so a new release
    of an old commit sorts below known ones. A changed count (with no newer top) means such a
    release exists somewhere: the listing then reads to the end instead of stopping early.
    """
    state = ctx.cursors.get(entity)
    mark, sweep = state.get("mark"), state.get("sweep")
    unsettled: dict[str, Any] = dict(state.get("unsettled") or {})
    if sweep is None:
        newer_top = top is not None and (mark is None or top > mark)
        recounted = count is not None and count != state.get("count", count)
        if not newer_top and not recounted:
            return
        sweep = {"high": max(top or 0, mark or 0), "stop": mark, "after": None,
                 "to_end": recounted}
    for nodes, end, has_next, label in pages(ctx, operation, {}, sweep["after"]):
        fresh = [n for n in nodes if _newer(ctx, n, sweep["stop"])]
        ctx.land(entity, kind, label, fresh)
        for node in fresh:
            _track(unsettled, node)
        sweep["high"] = max([sweep["high"], *(n["databaseId"] for n in fresh)])
        ctx.log(f"{ctx.repo}: {entity}, {ctx.fetched[entity]} fetched")
        stopped_early = len(fresh) < len(nodes) and not sweep.get("to_end")
        if stopped_early or not has_next:
            done = {"mark": sweep["high"], "unsettled": unsettled}
            ctx.cursors.put(entity, done if count is None else {**done, "count": count})
            return
        sweep["after"] = end
        ctx.cursors.put(entity, {**state, "sweep": sweep, "unsettled": unsettled})


def _newer(ctx: SyncContext, node: dict[str, Any], stop: int | None) -> bool:
    if stop is not None and node["databaseId"] <= stop:
        return False
    return ctx.since is None or parse_time(node["createdAt"]) >= ctx.since


def _track(unsettled: dict[str, Any], node: dict[str, Any]) -> None:
    """Remember a node that may still change (unfinished deployment, draft release).

    The digest of what was stored lets a revisit skip storing a node that has not changed.
    """
    if node.get("__typename") == "Release":
        open_ = bool(node.get("isDraft"))
    else:
        open_ = deployment_outcome(node)[0] == "in_progress"
    if open_:
        unsettled[node["id"]] = {"created_at": node["createdAt"], "digest": digest(node)}
    else:
        unsettled.pop(node["id"], None)


def digest(node: dict[str, Any]) -> str:
    """A short fingerprint of a node's content."""
    text = json.dumps(node, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def sync_incidents(ctx: SyncContext, top: str | None) -> None:
    """Issues with an incident label updated since the mark, oldest update first."""
    labels = list(ctx.source.incident_labels)
    state = ctx.cursors.get("incidents")
    mark, sweep = state.get("mark"), state.get("sweep")
    if not labels:
        return
    if sweep is None:
        if top is None or (mark and parse_time(top) <= parse_time(mark)):
            return
        since = iso(ctx.since) if ctx.since else None
        sweep = {"since": mark or since, "high": mark, "after": None}
    variables = {"labels": labels, "since": sweep["since"]}
    for nodes, end, has_next, label in pages(ctx, "Incidents", variables, sweep["after"]):
        ctx.land("incidents", "issue", label, nodes)
        stamps = [s for s in [sweep["high"], *(n["updatedAt"] for n in nodes)] if s]
        sweep["high"] = max(stamps, key=parse_time) if stamps else None
        ctx.log(f"{ctx.repo}: incident issues, {ctx.fetched['incidents']} fetched")
        if not has_next:
            ctx.cursors.put("incidents", {"mark": sweep["high"]})
            return
        sweep["after"] = end
        ctx.cursors.put("incidents", {"mark": mark, "sweep": sweep})


def revisit_unsettled(ctx: SyncContext, entities: list[str]) -> None:
    """Fetch unfinished deployments and draft releases again, until they settle."""
    states = {entity: ctx.cursors.get(entity) for entity in entities}
    before = {entity: dict(state) for entity, state in states.items()}
    oldest = ctx.now - dt.timedelta(days=SETTLE_DAYS)
    owner_of: dict[str, str] = {}
    for entity, state in states.items():
        unsettled = dict(state.get("unsettled") or {})
        for node_id, seen in list(unsettled.items()):
            if parse_time(seen["created_at"]) < oldest:
                del unsettled[node_id]  # never settled: stop paying for it
            elif node_id not in ctx.seen_nodes:
                owner_of[node_id] = entity
        state["unsettled"] = unsettled
    ids = sorted(owner_of)
    for start in range(0, len(ids), NODES_PER_REQUEST):
        chunk = ids[start:start + NODES_PER_REQUEST]
        data = ctx.client.graphql("Revisit", {"ids": chunk}, partial=True)
        nodes = data.get("nodes") or [None] * len(chunk)
        changed = []
        for node_id, node in zip(chunk, nodes, strict=True):
            unsettled = states[owner_of[node_id]]["unsettled"]
            if node is None:
                unsettled.pop(node_id, None)  # deleted on GitHub
                continue
            if digest(node) != unsettled[node_id].get("digest"):
                changed.append(node)
            _track(unsettled, node)
        ctx.land("revisit", "node", f"graphql Revisit {ctx.repo} ids={chunk[0]}..", changed)
        ctx.log(f"{ctx.repo}: revisited {len(chunk)} unfinished deployments and drafts, "
                f"{len(changed)} changed")
    for entity, state in states.items():
        if state and state != before[entity]:
            ctx.cursors.put(entity, state)
