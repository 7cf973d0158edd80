"""The one asset graph: stage order and table lineage, read from the Dagster definitions.

The CLI runner (`pipelines.runner`) takes its stages from here and the build's lineage stamps
(`pipelines.build.DERIVED_INPUTS`) their inputs, so the order and the dependencies exist once,
in the assets' `deps`. `snapshot()` is what tests/asset_graph.json holds: a change to the graph
is a visible diff there (`python -m pipelines.asset_graph > tests/asset_graph.json`).
"""

from __future__ import annotations

import functools
import graphlib
import json
from typing import Any

import dagster as dg

TABLE_KIND = "duckdb"


@functools.cache
def definitions() -> dg.Definitions:
    """The code location's definitions, loaded once per process."""
    return load_definitions()


def load_definitions() -> dg.Definitions:
    """The code location's definitions, loaded now (the environment read again)."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    from pipelines.definitions import defs

    # Dagster keeps "the current defs-state storage" in a context variable set by whichever
    # instance was last entered; if that instance is gone, loading fails with "undefined
    # DagsterInstance weakref". This project has no state-backed components: load beside a live
    # throwaway instance, whose storage has nothing to say.
    with dg.DagsterInstance.ephemeral() as live, set_defs_state_storage(live.defs_state_storage):
        return defs()


def asset_graph() -> Any:
    """The resolved asset graph of the code location."""
    return definitions().resolve_asset_graph()


def _node_name(graph: Any, key: dg.AssetKey) -> str:
    return graph.get(key).assets_def.node_def.name


def stages(skip_groups: tuple[str, ...] = ()) -> list[tuple[str, list[str]]]:
    """The unpartitioned assets as stages: one per group, groups in dependency order, and in each
    the names of the ops (assets and multi-assets) in dependency order."""
    graph = asset_graph()
    keys = [k for k in graph.toposorted_asset_keys
            if graph.get(k).is_materializable and not graph.get(k).is_partitioned
            and graph.get(k).group_name not in skip_groups]
    op_of = {k: _node_name(graph, k) for k in keys}
    group_of: dict[str, str] = {}
    parents: dict[str, set[str]] = {}
    for key in keys:  # an op (a multi-asset) depends on the parents of every key it makes
        op = op_of[key]
        group_of[op] = graph.get(key).group_name
        parents.setdefault(op, set()).update(
            op_of[p] for p in graph.get(key).parent_keys if p in op_of and op_of[p] != op)
    groups: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    ops: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for op, ups in parents.items():
        groups.add(group_of[op], *sorted({group_of[u] for u in ups} - {group_of[op]}))
        ops.add(op, *sorted(ups))
    op_order = list(ops.static_order())
    return [(group, [op for op in op_order if group_of[op] == group])
            for group in groups.static_order()]


def tables() -> dict[str, tuple[str, ...]]:
    """Every warehouse table (asset of kind `duckdb`) and the tables it is computed from."""
    graph = asset_graph()
    out: dict[str, tuple[str, ...]] = {}
    for key in graph.toposorted_asset_keys:
        node = graph.get(key)
        if TABLE_KIND in node.kinds:
            out[key.to_user_string()] = tuple(sorted(
                p.to_user_string() for p in node.parent_keys if TABLE_KIND in graph.get(p).kinds))
    return out


def snapshot() -> dict[str, Any]:
    """Keys, groups, deps, partitioning and checks of every asset, in a stable order."""
    graph = asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        if not node.is_materializable:
            continue
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "op": node.assets_def.node_def.name,
            "deps": sorted(p.to_user_string() for p in node.parent_keys),
            "partitioned": node.is_partitioned,
            "kinds": sorted(node.kinds),
            "automation": (node.automation_condition.get_label() or "custom")
            if node.automation_condition else None,
        }
    checks = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda c: (c.asset_key.path, c.name)):
        spec = graph.get_check_spec(check_key)
        checks[f"{check_key.asset_key.to_user_string()}:{check_key.name}"] = {
            "blocking": spec.blocking}
    return {"assets": assets, "checks": checks, "stages": stages()}


if __name__ == "__main__":
    print(json.dumps(snapshot(), indent=2, sort_keys=True))
