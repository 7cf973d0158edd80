"""The graph walk behind delivery: each commit visited once per service, first deployment wins."""

from __future__ import annotations

from collections import Counter

from metrics.delivery import walk_graph


class CountingParents(dict):
    """A parents map that counts how often each commit's parents are read."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.reads: Counter[str] = Counter()

    def __getitem__(self, key: str) -> list[str] | None:
        self.reads[key] += 1
        return super().__getitem__(key)


def test_each_commit_is_walked_once_across_many_deployments() -> None:
    # A 2,000-commit main line with a side branch merged every 10 commits, deployed 200 times.
    parents: dict[str, list[str]] = {"c0": []}
    for i in range(1, 2000):
        parents[f"c{i}"] = [f"c{i - 1}"]
        if i % 10 == 0:
            parents[f"s{i}"] = [f"c{i - 5}"]
            parents[f"c{i}"].append(f"s{i}")
    counting = CountingParents(parents)
    revisions = [f"c{i}" for i in range(0, 2000, 10)] + ["c1999"]
    walk = walk_graph(revisions, counting)
    assert set(walk.order) == set(parents)          # everything reachable is delivered
    assert max(counting.reads.values()) == 1         # ... and every commit was expanded once
    assert walk.order["c15"] == 2 and walk.order["s20"] == 2  # by deployment c20 (index 2)
    assert walk.implicit == []


def test_redeploy_and_rollbacks() -> None:
    parents = {"a": [], "b": ["a"], "c": ["b"], "x": ["a"]}
    # a, c (delivers b, c), c again (redeploy: nothing), b (strict ancestor of c: rollback),
    # x (a sibling branch: not an ancestor of b, so not a rollback), c (forward again).
    walk = walk_graph(["a", "c", "c", "b", "x", "c"], parents)
    assert walk.order == {"a": 0, "c": 1, "b": 1, "x": 4}
    assert walk.implicit == [(3, 2)]


def test_unknown_revision_delivers_nothing() -> None:
    walk = walk_graph(["zzz", "a"], {"a": []})
    assert walk.order == {"a": 1}
