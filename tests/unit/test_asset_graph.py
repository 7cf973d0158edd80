"""One asset graph: the runner's stages and the build's lineage come from Dagster's graph, and the
graph itself is snapshotted in tests/asset_graph.json, so any change to it is a visible diff.

After a deliberate change to the graph, rewrite the snapshot and commit the diff:
    python -m pipelines.asset_graph > tests/asset_graph.json
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg

from pipelines import asset_graph, build, runner

SNAPSHOT = Path(__file__).resolve().parents[1] / "asset_graph.json"


def test_the_graph_matches_its_committed_snapshot() -> None:
    committed = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = json.loads(json.dumps(asset_graph.snapshot()))
    assert current == committed, (
        "the asset graph changed: if that is intended, run "
        "`python -m pipelines.asset_graph > tests/asset_graph.json` and commit the diff")


def test_runner_stages_follow_the_graph_in_dependency_order() -> None:
    """Every op's parents are produced in an earlier stage or earlier in its own stage."""
    graph = asset_graph.asset_graph()
    stages = runner.STAGES
    position: dict[str, tuple[int, int]] = {
        op: (s, i) for s, (_group, ops) in enumerate(stages) for i, op in enumerate(ops)}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        op = node.assets_def.node_def.name
        if op not in position:
            continue
        for parent in node.parent_keys:
            parent_op = graph.get(parent).assets_def.node_def.name
            if parent_op in position and parent_op != op:
                assert position[parent_op] < position[op], (parent_op, op)
    assert [group for group, _ops in stages][:3] == ["ingest", "warehouse", "metrics"]
    # Partitioned assets (one GitHub repository, one team's page) are not whole stages.
    assert not {"github_landing", "team_report"} & set(position)


def test_lineage_stamps_use_the_graphs_edges() -> None:
    """The edges issue 11 found missing: ownership (`teams`) feeds outcomes and org metrics."""
    inputs = build.DERIVED_INPUTS
    assert "teams" in inputs["deployment_outcomes"]
    assert "teams" in inputs["org_metrics"]
    assert inputs["team_metrics"] == ("changes", "deployment_outcomes", "incidents",
                                      "slo_periods", "teams")
    # The canonical and config tables are built together, not derived.
    assert not {*build.CANONICAL, *build.CONFIG_TABLES} & set(inputs)


def test_config_tables_do_not_depend_on_ingest() -> None:
    graph = asset_graph.asset_graph()
    for table in ("teams", "services", "slos"):
        assert not graph.get(dg.AssetKey(table)).parent_keys
    ingest = set(graph.asset_keys_for_group("ingest"))
    assert ingest <= set(graph.get(dg.AssetKey("deployments")).parent_keys)
