"""The graph walk behind delivery: each commit visited once per service, first deployment wins."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import polars as pl

from metrics.delivery import CommitGraph, commit_graph, unique_commits, walk_graph


def graph_of(parents: dict[str, list[str]], repo: str = "acme/api"
             ) -> tuple[CommitGraph, dict[str, int]]:
    """The graph of one repo's commits, and each sha's node."""
    frame = pl.DataFrame({"repo": [repo] * len(parents), "sha": list(parents),
                          "parents": list(parents.values())},
                         schema={"repo": pl.String, "sha": pl.String,
                                 "parents": pl.List(pl.String)})
    graph = commit_graph(frame)
    return graph, dict(graph.nodes.select("sha", "node").iter_rows())


def shas(walk_order: dict[int, int], ids: dict[str, int]) -> dict[str, int]:
    names = {node: sha for sha, node in ids.items()}
    return {names[node]: k for node, k in walk_order.items()}


class CountingSlices(list):
    """The flat parents list, counting how often each node's parents are read (one slice)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reads: Counter[tuple[int, int]] = Counter()

    def __getitem__(self, key):  # type: ignore[no-untyped-def]
        if isinstance(key, slice):
            self.reads[(key.start, key.stop)] += 1
        return super().__getitem__(key)


def test_each_commit_is_walked_once_across_many_deployments() -> None:
    # A 2,000-commit main line with a side branch merged every 10 commits, deployed 200 times.
    parents: dict[str, list[str]] = {"c0": []}
    for i in range(1, 2000):
        parents[f"c{i}"] = [f"c{i - 1}"]
        if i % 10 == 0:
            parents[f"s{i}"] = [f"c{i - 5}"]
            parents[f"c{i}"].append(f"s{i}")
    graph, ids = graph_of(parents)
    counting = replace(graph, parents=CountingSlices(graph.parents))
    revisions = [ids[f"c{i}"] for i in range(0, 2000, 10)] + [ids["c1999"]]
    walk = walk_graph(revisions, counting)
    order = shas(walk.order, ids)
    assert set(order) == set(parents)                # everything reachable is delivered
    # Each commit's parents are one slice (start, stop) of its own (the root c0, node 0, has
    # the empty slice (0, 0)): every commit was expanded, and expanded once.
    assert max(counting.parents.reads.values()) == 1
    assert len(counting.parents.reads) == len(parents)
    assert order["c15"] == 2 and order["s20"] == 2  # by deployment c20 (index 2)
    assert walk.implicit == []


def test_redeploy_and_rollbacks() -> None:
    graph, ids = graph_of({"a": [], "b": ["a"], "c": ["b"], "x": ["a"]})
    # a, c (delivers b, c), c again (redeploy: nothing), b (strict ancestor of c: rollback),
    # x (a sibling branch: not an ancestor of b, so not a rollback), c (forward again).
    walk = walk_graph([ids[r] for r in ["a", "c", "c", "b", "x", "c"]], graph)
    assert shas(walk.order, ids) == {"a": 0, "c": 1, "b": 1, "x": 4}
    assert walk.implicit == [(3, 2)]


def test_unknown_revision_delivers_nothing() -> None:
    graph, ids = graph_of({"a": []})
    walk = walk_graph([None, ids["a"]], graph)
    assert shas(walk.order, ids) == {"a": 1}


def test_the_graph_keeps_repos_apart_and_drops_unknown_parents() -> None:
    """Two repos with the same sha are two commits; a parent outside the data is no edge; a
    commit given twice keeps its last parents (as the warehouse's upsert would)."""
    assert unique_commits(pl.DataFrame({"repo": ["r"], "sha": ["a"]})).height == 1
    frame = pl.DataFrame({
        "repo": ["r1", "r1", "r2", "r2", "r1"],
        "sha": ["a", "b", "a", "b", "b"],
        "parents": [["gone"], ["zzz"], [], ["a"], ["a"]],
    })
    graph = commit_graph(unique_commits(frame))
    node = {(r, s): n for n, r, s in graph.nodes.iter_rows()}
    assert len(node) == graph.nodes.height == 4
    edges = {(r, s): [graph.parents[i] for i in range(graph.start[n], graph.start[n + 1])]
             for (r, s), n in node.items()}
    assert edges == {("r1", "a"): [], ("r1", "b"): [node[("r1", "a")]],
                     ("r2", "a"): [], ("r2", "b"): [node[("r2", "a")]]}
