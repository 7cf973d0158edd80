"""Lead time for changes: which deployment first delivers each change (docs/metrics.md section 2).

Graph mode walks each service's commit graph once: deployments are taken in order, and each
walk stops at commits an earlier deployment already reached, so every commit is visited once
per service rather than answering one ancestry query per deployment. Time mode (a repo whose
commits carry no parents) delivers a change by the first deployment finishing at or after it.

Only the walk runs in Python; everything around it (time mode, pull requests, bare commits,
lead times) is one set of joins over all services at once, keyed by service, so the cost grows
with the rows, not with the number of services.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from metrics.paths import service_member_commits, service_member_prs
from metrics.schema import UTC_TS

HOUR_US = 3_600_000_000

COMMIT_DELIVERY_SCHEMA = {
    "service": pl.String, "sha": pl.String, "deployment_id": pl.String, "baseline": pl.Boolean,
}
IMPLICIT_SCHEMA = {"deployment_id": pl.String, "rolled_back_id": pl.String}
# The columns delivery reads, besides `files` (only services made of paths use it).
COMMIT_COLUMNS = ("repo", "sha", "parents", "authored_at", "committed_at", "author", "message")
PR_COLUMNS = ("repo", "number", "title", "author", "created_at", "merged_at",
              "merge_commit_sha", "commit_shas", "reviews")


@dataclass
class Delivery:
    """The result of delivery: changes, per-commit deliveries and implicit rollbacks."""

    changes: pl.DataFrame
    commit_deliveries: pl.DataFrame
    implicit_rollbacks: pl.DataFrame
    modes: dict[str, str]


@dataclass
class _Walk:
    order: dict[int, int]            # commit node -> index of the delivering deployment
    implicit: list[tuple[int, int]]  # (rolling-back index, rolled-back index)


@dataclass(frozen=True)
class CommitGraph:
    """Commits numbered as nodes, with their parents in compressed rows: the parents of node
    `n` are `parents[start[n]:start[n + 1]]` (only parents that are in the data)."""

    nodes: pl.DataFrame  # node, repo, sha
    start: list[int]
    parents: list[int]


def commit_graph(commits: pl.DataFrame) -> CommitGraph:
    """The graph of `commits` (repo, sha, parents; one row per repo and sha, see
    `unique_commits`), each commit numbered by its row. The numbering is done in polars, so
    Python only handles flat lists of small integers (no object per commit to collect)."""
    nodes = commits.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("node"), "repo", "sha")
    edges = (
        commits.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("node"), "repo",
                       pl.col("parents").alias("sha"))
        .explode("sha")
        .join(nodes.rename({"node": "parent"}), on=["repo", "sha"], how="inner")
        .select("node", "parent")
        .sort("node", maintain_order=True)
    )
    counts = np.bincount(edges.get_column("node").to_numpy(), minlength=commits.height)
    start = [0, *np.cumsum(counts).tolist()]
    return CommitGraph(nodes, start, edges.get_column("parent").to_list())


def unique_commits(commits: pl.DataFrame) -> pl.DataFrame:
    """`commits` with one row per (repo, sha), the last one given (the warehouse's upsert rule).

    Warehouse tables already are; checking by hash costs a fraction of deduplicating.
    """
    distinct = commits.select(pl.struct("repo", "sha").hash().n_unique()).item()
    if distinct == commits.height:
        return commits
    return commits.unique(["repo", "sha"], keep="last", maintain_order=True)


def walk_graph(revisions: list[int | None], graph: CommitGraph) -> _Walk:
    """Deliver commits to deployments in order; find implicit rollbacks on the way.

    `revisions` are one service's deployment revisions in order, as nodes of `graph` (None: a
    revision not in the data, which delivers nothing). A commit belongs to the first deployment
    from whose revision it is reachable. The next deployment rolls back the previous one
    implicitly when its revision is a strict ancestor of the previous revision. Each commit is
    expanded once, whatever the number of deployments: a walk stops at commits an earlier
    deployment reached.
    """
    start, parents = graph.start, graph.parents
    order: dict[int, int] = {}
    implicit: list[tuple[int, int]] = []
    for k, rev in enumerate(revisions):
        if k > 0 and rev in order and rev != revisions[k - 1]:
            if _is_ancestor(rev, revisions[k - 1], graph, order):
                implicit.append((k, k - 1))
        if rev is None or rev in order:
            continue
        stack = [rev]
        while stack:
            node = stack.pop()
            if node in order:
                continue
            order[node] = k
            stack.extend(parents[start[node]:start[node + 1]])
    return _Walk(order, implicit)


def _is_ancestor(old: int, new: int | None, graph: CommitGraph, order: dict[int, int]) -> bool:
    """Is `old` a strict ancestor of `new`? Only commits delivered no earlier than `old` can
    lie between them (a descendant is never delivered before its ancestor), which keeps the
    search to the few commits of a rollback instead of the whole history."""
    if new is None or new not in order or old == new:
        return False
    start, parents = graph.start, graph.parents
    floor = order[old]
    seen, stack = {new}, [new]
    while stack:
        node = stack.pop()
        for p in parents[start[node]:start[node + 1]]:
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
    Commits are numbered once (`node`, their row) and services by their row among those that
    deploy (`svc`), so the joins after the walk are on integers.
    """
    commits = unique_commits(commits)
    graph_repos = (commits.filter(pl.col("parents").list.len() > 0)
                   .select("repo").unique().get_column("repo"))
    # The services that deliver anything (one deployment at least), in the config's order.
    active = (
        services.select("service", "repo", "paths")
        .join(deployments.select("service").unique(), on="service", how="semi",
              maintain_order="left")
        .with_row_index("svc").with_columns(pl.col("svc").cast(pl.Int64),
                                            pl.col("repo").is_in(graph_repos.implode())
                                            .alias("graph"))
    )
    modes = dict(zip(active.get_column("service").to_list(),
                     ["graph" if g else "time" for g in active.get_column("graph").to_list()],
                     strict=True))
    deps = (
        deployments.sort("service", "finished_at", "id")
        .join(active.select("service", "svc", "repo", "graph"), on="service",
              maintain_order="left")
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).over("svc")
                      .alias("deployment_index"))
    )
    delivered, implicit = _walk_services(commits, deps)
    timed = _asof(
        active.filter(~pl.col("graph")).select("svc", "repo").join(
            commits.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("node"), "repo",
                           pl.col("committed_at").alias("t")), on="repo"),
        deps,
    ).select(list(_DELIVERED))
    delivered = pl.concat([delivered, timed])
    path_services = active.filter(pl.col("paths").list.len() > 0)
    members = pl.DataFrame(schema={"service": pl.String, "sha": pl.String, "node": pl.Int64})
    if path_services.height:
        # A service made of paths only delivers the commits under its paths.
        members = service_member_commits(
            commits.with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("node")),
            path_services, keys=("sha", "node"))
        in_paths = pl.col("svc").is_in(path_services.get_column("svc").implode())
        delivered = pl.concat([
            delivered.filter(~in_paths),
            delivered.join(members.join(active.select("service", "svc"), on="service")
                           .select("svc", "node"), on=["svc", "node"], how="semi"),
        ])
    dep_index = deps.select(
        "svc", pl.col("id").alias("deployment_id"), pl.col("finished_at").alias("delivered_at"),
        "deployment_index",
    )
    names = active.select("svc", "service", "repo")
    deliveries = _gather(
        delivered.join(dep_index, on=["svc", "deployment_index"]).join(names, on="svc"),
        commits, ["sha"],
    ).select("service", "sha", "deployment_id",
             (pl.col("deployment_index") == 0).alias("baseline"))
    merged = pull_requests.filter(pl.col("merged_at").is_not_null()).with_row_index("pr")
    pr_nodes = _pr_nodes(merged, commits)
    prs = _pr_changes(merged, pr_nodes, commits, delivered, deps, active, path_services,
                      members)
    bare = _bare_changes(commits, pr_nodes, delivered)
    changes = (
        pl.concat([prs, bare], how="diagonal_relaxed")
        .join(dep_index, on=["svc", "deployment_index"])
        .filter(pl.col("deployment_index") > 0)  # the first deployment is the baseline
        .join(names, on="svc")
    )
    return Delivery(
        changes=_finish(changes),
        commit_deliveries=deliveries.cast(COMMIT_DELIVERY_SCHEMA),
        implicit_rollbacks=implicit,
        modes=modes,
    )


_DELIVERED = {"svc": pl.Int64, "node": pl.Int64, "deployment_index": pl.Int64}


def _walk_services(commits: pl.DataFrame, deps: pl.DataFrame
                   ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Walk the graph of every graph-mode service: (svc, node, deployment_index) and the
    implicit rollbacks. One graph holds every repo's commits."""
    deps = deps.filter(pl.col("graph"))
    if deps.height == 0:
        return pl.DataFrame(schema=_DELIVERED), pl.DataFrame(schema=IMPLICIT_SCHEMA)
    graph = commit_graph(commits)
    runs = (
        deps.join(graph.nodes.rename({"sha": "revision"}), on=["repo", "revision"], how="left",
                  maintain_order="left")
        .group_by("svc", maintain_order=True).agg("node", "id")
        .sort("svc")  # the config's order, as the implicit rollbacks are listed
    )
    svcs: list[int] = []
    nodes: list[int] = []
    indices: list[int] = []
    rolling: list[str] = []
    rolled: list[str] = []
    for svc, revs, ids in runs.iter_rows():
        walk = walk_graph(revs, graph)
        svcs.extend([svc] * len(walk.order))
        nodes.extend(walk.order)
        indices.extend(walk.order.values())
        rolling.extend(ids[a] for a, _ in walk.implicit)
        rolled.extend(ids[b] for _, b in walk.implicit)
    delivered = pl.DataFrame({"svc": svcs, "node": nodes, "deployment_index": indices},
                             schema=_DELIVERED)
    implicit = pl.DataFrame({"deployment_id": rolling, "rolled_back_id": rolled},
                            schema=IMPLICIT_SCHEMA)
    return delivered, implicit


def _asof(items: pl.DataFrame, deps: pl.DataFrame) -> pl.DataFrame:
    """Attach `deployment_index`: per service (`svc`), the first deployment with
    `finished_at` >= `t` (rows with none are dropped)."""
    indexed = deps.select(
        "svc", pl.col("finished_at").alias("t_dep"), "deployment_index",
    ).sort("t_dep", "svc", "deployment_index")
    items = items.filter(pl.col("t").is_not_null()).sort("t")
    return items.join_asof(
        indexed, left_on="t", right_on="t_dep", by="svc", strategy="forward",
        check_sortedness=False,
    ).filter(pl.col("deployment_index").is_not_null())


def _gather(frame: pl.DataFrame, commits: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """`frame` with `columns` of the commit each row's `node` names (a gather, no join)."""
    nodes = frame.get_column("node")
    return frame.with_columns(commits.get_column(c).gather(nodes) for c in columns)


def _pr_nodes(merged: pl.DataFrame, commits: pl.DataFrame) -> pl.DataFrame:
    """(pr, node, merge): each merged PR's own commits and its merge commit (`merge` true), as
    commit nodes; commits not in the data are left out."""
    keys = commits.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("node"), "repo", "sha")
    shas = pl.concat([
        merged.select("pr", "repo", pl.col("commit_shas").alias("sha"), pl.lit(False)
                      .alias("merge")).explode("sha"),
        merged.select("pr", "repo", pl.col("merge_commit_sha").alias("sha"), pl.lit(True)
                      .alias("merge")),
    ])
    return shas.join(keys, on=["repo", "sha"], how="inner").select("pr", "node", "merge")


CHANGES_SCHEMA = {
    "service": pl.String, "repo": pl.String, "change_type": pl.String, "change_id": pl.String,
    "pr_number": pl.Int64, "sha": pl.String, "title": pl.String, "author": pl.String,
    "started_at": UTC_TS, "created_at": UTC_TS, "first_review_at": UTC_TS, "merged_at": UTC_TS,
    "deployment_id": pl.String, "delivered_at": UTC_TS, "lead_time_hours": pl.Float64,
    "coding_hours": pl.Float64, "pickup_hours": pl.Float64, "review_hours": pl.Float64,
    "deploy_hours": pl.Float64, "negative_lead_time": pl.Boolean,
}


def _pr_changes(merged: pl.DataFrame, pr_nodes: pl.DataFrame, commits: pl.DataFrame,
                delivered: pl.DataFrame, deps: pl.DataFrame, active: pl.DataFrame,
                path_services: pl.DataFrame, members: pl.DataFrame) -> pl.DataFrame:
    """Merged PRs (one row per service delivering them) with their start, first review and
    delivering deployment index."""
    own = pr_nodes.filter(~pl.col("merge"))
    first_authored = (
        _gather(own, commits, ["authored_at"])
        .group_by("pr").agg(pl.col("authored_at").min().alias("first_authored"))
    )
    prs = (merged.join(first_authored, on="pr", how="left")
           .join(_first_reviews(merged), on="pr", how="left")
           .join(active.select("svc", "service", "repo", "graph"), on="repo", how="inner"))
    if path_services.height:
        owned = service_member_prs(merged, path_services, members.select("service", "sha"))
        in_paths = pl.col("service").is_in(path_services.get_column("service").implode())
        prs = pl.concat([prs.filter(~in_paths),
                         prs.join(owned, on=["service", "repo", "number"], how="semi")])
    graph = prs.filter(pl.col("graph")).select("svc", "pr")
    via_merge = (
        graph.join(pr_nodes.filter(pl.col("merge")).select("pr", "node"), on="pr")
        .join(delivered, on=["svc", "node"], how="inner").select("svc", "pr",
                                                                  "deployment_index")
    )
    # No merge commit in the data: the PR is delivered once all its known commits are.
    via_commits = (
        graph.join(via_merge, on=["svc", "pr"], how="anti")
        .join(own.select("pr", "node"), on="pr")
        .join(delivered, on=["svc", "node"], how="inner")
        .group_by("svc", "pr").agg(pl.col("deployment_index").max())
    )
    located = pl.concat([
        prs.join(pl.concat([via_merge, via_commits]), on=["svc", "pr"], how="inner"),
        _asof(prs.filter(~pl.col("graph")).with_columns(pl.col("merged_at").alias("t")), deps)
        .drop("t", "t_dep"),
    ], how="diagonal_relaxed")
    return located.select(
        "svc", pl.lit("pull_request").alias("change_type"),
        pl.format("{}#{}", pl.col("repo"), pl.col("number")).alias("change_id"),
        pl.col("number").alias("pr_number"),
        pl.col("merge_commit_sha").alias("sha"), "title", "author",
        pl.coalesce("first_authored", "created_at").alias("started_at"),
        "created_at", "first_review_at", "merged_at", "deployment_index",
    )


def _first_reviews(prs: pl.DataFrame) -> pl.DataFrame:
    """Per PR, the first review by someone other than the author and not a bot."""
    return (
        prs.select("pr", pl.col("author").alias("pr_author"), "reviews")
        .explode("reviews")
        .select(
            "pr", "pr_author",
            pl.col("reviews").struct.field("author").alias("reviewer"),
            pl.col("reviews").struct.field("submitted_at").alias("submitted_at"),
        )
        .filter(
            pl.col("reviewer").is_not_null()
            & (pl.col("reviewer") != pl.col("pr_author").fill_null(""))
            & ~pl.col("reviewer").str.ends_with("[bot]")
        )
        .group_by("pr")
        .agg(pl.col("submitted_at").min().alias("first_review_at"))
    )


def _bare_changes(commits: pl.DataFrame, pr_nodes: pl.DataFrame, delivered: pl.DataFrame
                  ) -> pl.DataFrame:
    """Delivered commits that are neither merge commits nor part of a merged PR of their repo."""
    single_parent = commits.get_column("parents").list.len().fill_null(0) < 2
    bare = (
        delivered.filter(single_parent.gather(delivered.get_column("node")))
        .join(pr_nodes.select("node").unique(), on="node", how="anti")
    )
    # `delivered` already holds only the commits under a path service's paths.
    return _gather(bare, commits, ["sha", "message", "author", "authored_at", "committed_at"]
                   ).select(
        "svc", pl.lit("commit").alias("change_type"), pl.col("sha").alias("change_id"), "sha",
        pl.col("message").str.split("\n").list.first().alias("title"), "author",
        pl.col("authored_at").alias("started_at"), pl.col("committed_at").alias("merged_at"),
        "deployment_index",
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
