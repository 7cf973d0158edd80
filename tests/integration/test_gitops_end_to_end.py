"""End to end: app repo + config repo (+ Argo CD history) → landing → warehouse → metrics.

The same service deployed the GitOps way, recorded two ways: by the config repo's commits
(`gitops`) and by Argo CD's sync history (`argocd`, with the config repo only translating
revisions). Both must agree on what was deployed, and the warehouse must give the hand-worked
DORA numbers (gitops_world.py has the history):

Production of payments-api, config A (gitops): ma (02-02 16:00, baseline: a1, a2), a3 (02-04
08:00, delivers a3 authored 02-03 15:00 → 17 h), a4 (12:00, delivers a4 authored 09:00 → 3 h),
a3 again (13:30, rolls back a4), a4 (02-05 10:00, nothing new), ma (11:00, rolls back a4).
With ledger's one deployment (02-02 16:00) the team has 7 production deployments in the week
of Monday 2026-02-02, on 3 days; 2 failed (each rolled back), 2 are rework, recovered after
1.5 h and 1 h (median 1.25 h). Argo CD synced each bump 1–3 minutes later.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from gitops_world import (
    World,
    build_world,
    gid,
    k8s_list,
    production_app,
    replica_set,
    rollout,
    write_json,
)

from pipelines.build import build_warehouse, compute_metrics
from pipelines.config import DoraConfig, load_config
from pipelines.defs.ingest.git import land
from pipelines.landing import read_entity
from pipelines.sources.base import source_name
from pipelines.sources.git import read_git
from pipelines.sources.gitops import read_gitops
from pipelines.sources.operators import read_operator

SYNC_DELAY = dt.timedelta(minutes=5)


def ingest_and_build(config: DoraConfig) -> duckdb.DuckDBPyConnection:
    """What the ingest assets do (git and gitops first, then operators), then the build."""
    for index, source in enumerate(config.sources):
        name = source_name(source, index)
        if source.kind == "git":
            land(config.landing_path, "git", name, read_git(source, config, name))
        elif source.kind == "gitops":
            land(config.landing_path, "gitops", name, read_gitops(source, config, name))
    for index, source in enumerate(config.sources):
        if source.kind in ("argocd", "flux", "rollouts"):
            name = source_name(source, index)
            known = read_entity(config.landing_path, "deployments").drop("_batch")
            land(config.landing_path, source.kind, name,
                 read_operator(source, config, name, known))
    build_warehouse(config)
    compute_metrics(config)
    return duckdb.connect(str(config.warehouse_path), read_only=True)


def setup(root: Path, world: World, argocd: bool) -> DoraConfig:
    """Config A (git + gitops) or B (git + gitops as a lookup only + Argo CD)."""
    folder = root / ("b" if argocd else "a")
    folder.mkdir()
    for name in ("payments-api", "deploy-config"):
        (folder / name).symlink_to(world.root / name)
    view = World(folder, world.app, world.cfg)
    if not argocd:
        return load_config(view.write_config())
    write_json(folder, "applications.json", k8s_list(production_app(world)))
    return load_config(view.write_config(
        "  - {kind: gitops, name: lookup, path: deploy-config, deployments: false}\n"
        "  - {kind: argocd, name: argo, path: applications.json}\n", gitops=False))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("e2e"))


@pytest.fixture(scope="module")
def warehouses(world: World, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("warehouses")
    a = ingest_and_build(setup(root, world, argocd=False))
    b = ingest_and_build(setup(root, world, argocd=True))
    yield a, b
    a.close()
    b.close()


def production(conn: duckdb.DuckDBPyConnection) -> list[tuple]:
    return conn.sql(
        "SELECT id, revision, finished_at, rollback_of FROM deployments "
        "WHERE service = 'payments-api' AND environment = 'production' AND status = 'success' "
        "ORDER BY finished_at").fetchall()


def test_config_repo_and_argocd_agree_on_what_was_deployed(world, warehouses):
    a, b = warehouses
    from_gitops, from_argocd = production(a), production(b)
    assert [r[1] for r in from_gitops] == [world.app[k] for k in
                                           ("ma", "a3", "a4", "a3", "a4", "ma")]
    assert [r[1] for r in from_argocd] == [r[1] for r in from_gitops]
    for gitops_row, argocd_row in zip(from_gitops, from_argocd, strict=True):
        assert dt.timedelta(0) < argocd_row[2] - gitops_row[2] <= SYNC_DELAY
    # Both mark the same two deployments as rolled back.
    assert [r[3] is not None for r in from_gitops] == [r[3] is not None for r in from_argocd]
    assert from_gitops[3][3] == gid(world, "production", "k4")


def test_lead_times_come_out_of_the_warehouse(world, warehouses):
    a, b = warehouses
    query = ("SELECT sha, round(lead_time_hours, 4) FROM changes "
             "WHERE service = 'payments-api' ORDER BY sha")
    expected_a = {world.app["a3"]: 17.0, world.app["a4"]: 3.0}
    # Argo CD delivered a3 at 08:02 and a4 at 12:03.
    expected_b = {world.app["a3"]: round(17 + 2 / 60, 4), world.app["a4"]: 3.05}
    assert dict(a.sql(query).fetchall()) == expected_a
    assert dict(b.sql(query).fetchall()) == expected_b


def test_team_metrics_for_the_week(warehouses):
    a, _ = warehouses
    row = a.sql(
        "SELECT deployments, deploy_days, changes, lead_time_p50_hours, failed_deployments, "
        "round(change_failure_rate, 4), rework_deployments, fdrt_p50_hours "
        "FROM team_metrics WHERE team = 'payments' AND grain = 'week' "
        "AND period_start = DATE '2026-02-02'").fetchall()[0]
    assert row == (7, 3, 2, 10.0, 2, round(2 / 7, 4), 2, 1.25)


@pytest.mark.slow
def test_ingest_assets_in_dagster_link_a_rollouts_abort_to_the_gitops_deployment(
        world, tmp_path):
    """`operator_landing` runs after `gitops_landing` and finds the deployment the canary
    abort rolled back in the landing; the abort (12:20) then restores k4's deployment (12:00)
    before the revert commit (13:30) does."""
    import dagster as dg

    from pipelines.defs.ingest.git import git_landing, gitops_landing, operator_landing
    from pipelines.defs.resources import DoraResource

    for name in ("payments-api", "deploy-config"):
        (tmp_path / name).symlink_to(world.root / name)
    view = World(tmp_path, world.app, world.cfg)
    write_json(tmp_path, "rollouts.json", k8s_list(
        rollout("payments-api", world.app["a4"], "5", "2026-02-04T12:20:00Z",
                'RolloutAborted: Metric "success-rate" assessed Failed'),
        replica_set("6d4b7c9f8", "1.2.0")))
    path = view.write_config("  - {kind: rollouts, name: canary, path: rollouts.json}\n")
    result = dg.materialize([git_landing, gitops_landing, operator_landing],
                            resources={"dora": DoraResource(config_path=str(path))})
    assert result.success
    landed = result.asset_materializations_for_node("operator_landing")[0].metadata
    assert landed["deployments_loaded"].value == 1 and landed["reconciles"].value is True
    config = load_config(path)
    build_warehouse(config)
    compute_metrics(config)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        abort = conn.sql("SELECT rollback_of, revision FROM deployments "
                         "WHERE id = 'rollouts-payments-api-5-abort'").fetchall()
        outcome = conn.sql("SELECT failed, restored_at FROM deployment_outcomes WHERE id = $id",
                           params={"id": gid(world, "production", "k4")}).fetchall()
    assert abort == [(gid(world, "production", "k4"), world.app["a3"])]
    assert outcome == [(True, dt.datetime(2026, 2, 4, 12, 20, tzinfo=dt.UTC))]
