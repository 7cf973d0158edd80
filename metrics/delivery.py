"""Lead time for changes: which deployment first delivers each change (docs/metrics.md section 2).

Graph mode walks each service's commit graph once: deployments are taken in order, and each
walk stops at commits an earlier deployment already reached, so every commit is visited once
per service rather than answering one ancestry query per deployment. Time mode (a repo whose
commits carry no parents) delivers a change by the first deployment finishing at or after it.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from metrics.paths import commits_in_paths, prs_in_paths
from metrics.schema import UTC_TS

HOUR_US = 3_600_000_000

COMMIT_DELIVERY_SCHEMA = {
    "service": pl.String, "sha": pl.String, "deployment_id": pl.String, "baseline": pl.Boolean,
}
IMPLICIT_SCHEMA = {"deployment_id": pl.String, "rolled_back_id": pl.String}


@dataclass
class Delivery:
    """The result of delivery: changes, per-commit deliveries and implicit rollbacks."""

    changes: pl.DataFrame
    commit_deliveries: pl.DataFrame
    implicit_rollbacks: pl.DataFrame
    modes: dict[str, str]


@dataclass
class _Walk:
    order: dict[str, int]            # sha -> index of the delivering deployment
    implicit: list[tuple[int, int]]  # (rolling-back index, rolled-back index)


def walk_graph(revisions: list[str], parents: dict[str, list[str] | None]) -> _Walk:
    """Deliver commits to deployments in order; find implicit rollbacks on the way.

    `revisions` are one service's deployment revisions in order. A commit belongs to the first
    deployment from whose revision it is reachable. The next deployment rolls back the previous
    one implicitly when its revision is a strict ancestor of the previous revision.
    """
    order: dict[str, int] = {}
    implicit: list[tuple[int, int]] = []
    for k, rev in enumerate(revisions):
        if k > 0 and rev in order and rev != revisions[k - 1]:
            if _is_ancestor(rev, revisions[k - 1], parents, order):
                implicit.append((k, k - 1))
        if rev not in parents or rev in order:
            continue
        stack = [rev]
        while stack:
            sha = stack.pop()
            if sha in order:
                continue
            order[sha] = k
            stack.extend(p for p in parents[sha] or () if p in parents and p not in order)
    return _Walk(order, implicit)


def _is_ancestor(old: str, new: str, parents: dict[str, list[str] | None],
                 order: dict[str, int]) -> bool:
    """Is `old` a strict ancestor of `new`? Only commits delivered no earlier than `old` can
    lie between them (a descendant is never delivered before its ancestor), which keeps the
    search to the few commits of a rollback instead of the whole history."""
    if new not in order or old == new:
        return False
    floor = order[old]
    seen, stack = {new}, [new]
    while stack:
        for p in parents.get(stack.pop()) or ():
            if p == old:
                return True
            if p not in seen and order.get(p, -1) >= floor:
                seen.add(p)
                stack.append(p)
    return False


def deliver(commits: pl.DataFrame, pull_requests: pl.DataFrame, deployments: pl.DataFrame,
            services: pl.DataFrame) -> Delivery:
    """Deliver every change of every service.

    `deployments` are the counted ones (successful, to production) with `id`, `service`,
    `revision`, `finished_at`; `services` has `service`, `repo`, `paths` (list or null).
    """
    deployments = deployments.sort("service", "finished_at", "id")
    merged = pull_requests.filter(pl.col("merged_at").is_not_null())
    graph_repos = set(
        commits.filter(pl.col("parents").list.len() > 0).get_column("repo").unique().to_list()
    )
    changes, deliveries, implicit, modes = [], [], [], {}
    by_repo = {key[0]: frame for key, frame in commits.group_by("repo")}
    prs_by_repo = {key[0]: frame for key, frame in merged.group_by("repo")}
    parents_cache: dict[str, dict[str, list[str] | None]] = {}
    for svc in services.iter_rows(named=True):
        deps = deployments.filter(pl.col("service") == svc["service"])
        repo_commits = by_repo.get(svc["repo"], _empty_like(commits))
        repo_prs = prs_by_repo.get(svc["repo"], _empty_like(merged))
        if deps.height == 0:
            continue
        members = (commits_in_paths(repo_commits, svc["paths"]) if svc["paths"] else None)
        if svc["repo"] in graph_repos:
            modes[svc["service"]] = "graph"
            if svc["repo"] not in parents_cache:
                parents_cache[svc["repo"]] = dict(
                    zip(repo_commits.get_column("sha").to_list(),
                        repo_commits.get_column("parents").to_list(), strict=True)
                )
            sha_dep, imp = _graph_service(deps, parents_cache[svc["repo"]])
            implicit.append(imp)
        else:
            modes[svc["service"]] = "time"
            sha_dep = _time_service(deps, repo_commits)
        result = _changes_of_service(svc, deps, sha_dep, repo_commits, repo_prs, members)
        changes.append(result[0])
        deliveries.append(result[1])
    return Delivery(
        changes=_concat(changes, CHANGES_SCHEMA),
        commit_deliveries=_concat(deliveries, COMMIT_DELIVERY_SCHEMA),
        implicit_rollbacks=_concat(implicit, IMPLICIT_SCHEMA),
        modes=modes,
    )


def _graph_service(deps: pl.DataFrame, parents: dict[str, list[str] | None]
                   ) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = deps.get_column("id").to_list()
    walk = walk_graph(deps.get_column("revision").to_list(), parents)
    sha_dep = pl.DataFrame(
        {"sha": list(walk.order), "deployment_index": list(walk.order.values())},
        schema={"sha": pl.String, "deployment_index": pl.Int64},
    )
    implicit = pl.DataFrame(
        [(ids[a], ids[b]) for a, b in walk.implicit], schema=IMPLICIT_SCHEMA, orient="row"
    )
    return sha_dep, implicit


def _time_service(deps: pl.DataFrame, repo_commits: pl.DataFrame) -> pl.DataFrame:
    """Time mode for commits: the first deployment finishing at or after `committed_at`."""
    return _asof(
        repo_commits.select("sha", pl.col("committed_at").alias("t")), deps
    ).select("sha", "deployment_index")


def _asof(items: pl.DataFrame, deps: pl.DataFrame) -> pl.DataFrame:
    """Attach `deployment_index`: the first deployment with `finished_at` >= `t` (or null)."""
    indexed = deps.select(
        pl.col("finished_at").alias("t_dep"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("deployment_index"),
    )
    items = items.filter(pl.col("t").is_not_null()).sort("t")
    return items.join_asof(
        indexed, left_on="t", right_on="t_dep", strategy="forward"
    ).filter(pl.col("deployment_index").is_not_null())


CHANGES_SCHEMA = {
    "service": pl.String, "repo": pl.String, "change_type": pl.String, "change_id": pl.String,
    "pr_number": pl.Int64, "sha": pl.String, "title": pl.String, "author": pl.String,
    "started_at": UTC_TS, "created_at": UTC_TS, "first_review_at": UTC_TS, "merged_at": UTC_TS,
    "deployment_id": pl.String, "delivered_at": UTC_TS, "lead_time_hours": pl.Float64,
    "coding_hours": pl.Float64, "pickup_hours": pl.Float64, "review_hours": pl.Float64,
    "deploy_hours": pl.Float64, "negative_lead_time": pl.Boolean,
}


def _changes_of_service(svc: dict, deps: pl.DataFrame, sha_dep: pl.DataFrame,
                        repo_commits: pl.DataFrame, repo_prs: pl.DataFrame,
                        members: pl.Series | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    dep_index = deps.select(
        pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("delivered_at"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("deployment_index"),
    )
    if members is not None:
        sha_dep = sha_dep.filter(pl.col("sha").is_in(members.implode()))
    deliveries = sha_dep.join(dep_index, on="deployment_index").select(
        pl.lit(svc["service"]).alias("service"), "sha", "deployment_id",
        (pl.col("deployment_index") == 0).alias("baseline"),
    )
    graph = bool(repo_commits.filter(pl.col("parents").list.len() > 0).height)
    prs = _pr_changes(repo_prs, repo_commits, sha_dep, deps, graph, members, svc["paths"])
    bare = _bare_changes(repo_commits, repo_prs, sha_dep, members)
    changes = (
        pl.concat([prs, bare], how="diagonal_relaxed")
        .join(dep_index, on="deployment_index")
        .filter(pl.col("deployment_index") > 0)  # the first deployment is the baseline
        .with_columns(pl.lit(svc["service"]).alias("service"), pl.lit(svc["repo"]).alias("repo"))
    )
    return _finish(changes), deliveries


def _pr_changes(prs: pl.DataFrame, commits: pl.DataFrame, sha_dep: pl.DataFrame,
                deps: pl.DataFrame, graph: bool, members: pl.Series | None,
                globs: list[str] | None) -> pl.DataFrame:
    """Merged PRs with their start, first review and delivering deployment index."""
    if prs.height == 0:
        return pl.DataFrame()
    authored = commits.select("sha", "authored_at")
    own = (
        prs.select("number", pl.col("commit_shas").alias("sha")).explode("sha")
        .join(authored, on="sha", how="inner")
        .group_by("number").agg(pl.col("authored_at").min().alias("first_authored"))
    )
    prs = prs.join(own, on="number", how="left").join(
        _first_reviews(prs), on="number", how="left")
    if members is not None:
        prs = prs.filter(pl.col("number").is_in(prs_in_paths(prs, globs, members).implode()))
    if graph:
        via_merge = prs.select("number", pl.col("merge_commit_sha").alias("sha")).join(
            sha_dep, on="sha", how="inner").select("number", "deployment_index")
        # No merge commit in the data: the PR is delivered once all its known commits are.
        via_commits = (
            prs.filter(~pl.col("number").is_in(via_merge.get_column("number").implode()))
            .select("number", pl.col("commit_shas").alias("sha")).explode("sha")
            .join(sha_dep, on="sha", how="inner")
            .group_by("number").agg(pl.col("deployment_index").max())
        )
        located = pl.concat([via_merge, via_commits])
        prs = prs.join(located, on="number", how="inner")
    else:
        prs = _asof(prs.with_columns(pl.col("merged_at").alias("t")), deps)
    return prs.select(
        pl.lit("pull_request").alias("change_type"),
        pl.format("{}#{}", pl.col("repo"), pl.col("number")).alias("change_id"),
        pl.col("number").alias("pr_number"),
        pl.col("merge_commit_sha").alias("sha"), "title", "author",
        pl.coalesce("first_authored", "created_at").alias("started_at"),
        "created_at", "first_review_at", "merged_at", "deployment_index",
    )


def _first_reviews(prs: pl.DataFrame) -> pl.DataFrame:
    """Per PR number, the first review by someone other than the author and not a bot."""
    return (
        prs.select("number", pl.col("author").alias("pr_author"), "reviews")
        .explode("reviews")
        .select(
            "number", "pr_author",
            pl.col("reviews").struct.field("author").alias("reviewer"),
            pl.col("reviews").struct.field("submitted_at").alias("submitted_at"),
        )
        .filter(
            pl.col("reviewer").is_not_null()
            & (pl.col("reviewer") != pl.col("pr_author").fill_null(""))
            & ~pl.col("reviewer").str.ends_with("[bot]")
        )
        .group_by("number")
        .agg(pl.col("submitted_at").min().alias("first_review_at"))
    )


def _bare_changes(commits: pl.DataFrame, prs: pl.DataFrame, sha_dep: pl.DataFrame,
                  members: pl.Series | None) -> pl.DataFrame:
    """Delivered commits that are neither merge commits nor part of a merged PR."""
    in_prs = pl.concat([
        prs.select(pl.col("commit_shas").alias("sha")).explode("sha").get_column("sha"),
        prs.get_column("merge_commit_sha"),
    ]).drop_nulls().unique()
    bare = commits.filter(
        (pl.col("parents").list.len().fill_null(0) < 2) & ~pl.col("sha").is_in(in_prs.implode())
    )
    if members is not None:
        bare = bare.filter(pl.col("sha").is_in(members.implode()))
    return bare.join(sha_dep, on="sha", how="inner").select(
        pl.lit("commit").alias("change_type"), pl.col("sha").alias("change_id"), "sha",
        pl.col("message").str.split("\n").list.first().alias("title"), "author",
        pl.col("authored_at").alias("started_at"),
        pl.col("committed_at").alias("merged_at"), "deployment_index",
    )


def _hours(end: str, start: str) -> pl.Expr:
    return (pl.col(end) - pl.col(start)).dt.total_microseconds() / HOUR_US


def _segment(end: str, start: str) -> pl.Expr:
    """A breakdown segment: NULL when an end is missing or it is negative."""
    value = _hours(end, start)
    return pl.when(value >= 0).then(value).otherwise(None)


def _finish(changes: pl.DataFrame) -> pl.DataFrame:
    if changes.height == 0:
        return pl.DataFrame(schema=CHANGES_SCHEMA)
    for name, dtype in CHANGES_SCHEMA.items():
        if name not in changes.columns:
            changes = changes.with_columns(pl.lit(None, dtype).alias(name))
    lead = _hours("delivered_at", "started_at")
    return changes.with_columns(
        lead.alias("lead_time_hours"),
        _segment("created_at", "started_at").alias("coding_hours"),
        _segment("first_review_at", "created_at").alias("pickup_hours"),
        _segment("merged_at", "first_review_at").alias("review_hours"),
        pl.when(pl.col("change_type") == "pull_request")
        .then(_segment("delivered_at", "merged_at")).alias("deploy_hours"),
        (lead < 0).alias("negative_lead_time"),
    ).select(list(CHANGES_SCHEMA)).cast(CHANGES_SCHEMA)


def _empty_like(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.clear()


def _concat(frames: list[pl.DataFrame], schema: dict) -> pl.DataFrame:
    frames = [f.cast(schema) for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)
