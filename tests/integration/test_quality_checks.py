"""Data-quality checks: each says what it checks, shows the offending records, and the blocking
ones stop a wrong number from being computed and published."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events
from faultkit import table_checksums

from pipelines.defs import checks
from pipelines.defs.resources import DoraResource
from pipelines.runner import STAGES, _definitions, _node_keys

SHAS = [f"{i:x}" * 40 for i in range(1, 6)]  # five full commit SHAs of acme/api
COMMITS = [{"repo": "acme/api", "sha": sha, "parents": [SHAS[i - 1]] if i else [],
            "authored_at": f"2026-01-0{i + 1}T08:00:00Z",
            "committed_at": f"2026-01-0{i + 1}T08:00:00Z"} for i, sha in enumerate(SHAS)]


def _deployment(i: int, revision: str, **more: str) -> dict:
    return {"id": f"D{i}", "service": "api", "environment": "production", "revision": revision,
            "finished_at": f"2026-01-{10 + i:02d}T12:00:00Z", "status": "success", **more}


def _check(check: dg.AssetChecksDefinition, config_path: Path) -> dg.AssetCheckResult:
    return check(dora=DoraResource(config_path=str(config_path)))


def _meta(result: dg.AssetCheckResult) -> dict:
    return {k: v.value for k, v in result.metadata.items()}


def test_every_check_explains_itself_and_the_right_ones_block() -> None:
    found = {spec.name: spec for check in (checks.quarantine_share, checks.negative_lead_times,
                                           checks.unmapped_services,
                                           checks.deployments_with_known_revision,
                                           checks.lead_time_sanity)
             for spec in check.check_specs}
    blocking = {name for name, spec in found.items() if spec.blocking}
    assert blocking == {"deployments_with_known_revision", "lead_time_sanity"}
    for name, spec in found.items():
        assert len(spec.description) > 80, name
        assert spec.description.startswith("Blocking." if name in blocking else "Warning.")


def test_known_revisions_pass_and_short_shas_block(tmp_path: Path) -> None:
    good = write_events(tmp_path / "good" / "events", commits=COMMITS,
                        deployments=[_deployment(i, sha) for i, sha in enumerate(SHAS)])
    result = _check(checks.deployments_with_known_revision,
                    load_and_build(write_config(good.parent)).config_dir / "dora.yaml")
    assert result.passed and _meta(result)["checked_deployments"] == 5

    # Short SHAs for three of five deployments (and a staging one and a failed one, which do
    # not count): most counted revisions are unknown, so lead times would be wrong.
    bad = write_events(tmp_path / "bad" / "events", commits=COMMITS, deployments=[
        *(_deployment(i, sha if i < 2 else sha[:7]) for i, sha in enumerate(SHAS)),
        _deployment(7, "nope", environment="staging"), _deployment(8, "nope", status="failure"),
    ])
    result = _check(checks.deployments_with_known_revision,
                    load_and_build(write_config(bad.parent)).config_dir / "dora.yaml")
    meta = _meta(result)
    assert not result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert (meta["checked_deployments"], meta["unknown_revisions"], meta["share"]) == (5, 3, 0.6)
    assert "3 of 5 counted deployments (60%)" in result.description
    for i in (2, 3, 4):  # the offending records, with their revisions
        assert f"| D{i} | api | acme/api | {SHAS[i][:7]} |" in meta["examples"]
    assert "D7" not in meta["examples"] and "D8" not in meta["examples"]
    assert "| api | 5 | 3 |" in meta["per_service"]


def test_without_a_commit_graph_revisions_are_not_checked(tmp_path: Path) -> None:
    """Time mode (no commit has parents): revisions decide nothing, so nothing blocks."""
    flat = [{**c, "parents": None} for c in COMMITS]
    folder = write_events(tmp_path / "events", commits=flat,
                          deployments=[_deployment(i, "unknown") for i in range(5)])
    result = _check(checks.deployments_with_known_revision,
                    load_and_build(write_config(folder.parent)).config_dir / "dora.yaml")
    assert result.passed and _meta(result)["checked_deployments"] == 0


def test_mostly_negative_lead_times_block(tmp_path: Path) -> None:
    # Commits stamped in local time but labelled UTC (+10 h): authored after they deployed.
    skewed = [{**c, "authored_at": c["authored_at"].replace("08:00:00Z", "08:00:00-10:00")}
              for c in COMMITS]
    folder = write_events(tmp_path / "events", commits=skewed, deployments=[
        {**_deployment(i, sha), "finished_at": f"2026-01-0{i + 1}T12:00:00Z"}
        for i, sha in enumerate(SHAS)])
    config_path = load_and_build(write_config(folder.parent)).config_dir / "dora.yaml"
    result = _check(checks.lead_time_sanity, config_path)
    meta = _meta(result)
    assert not result.passed and meta["changes"] == 4 and meta["negative"] == 4
    assert meta["examples"].count("\n| ") == 4
    warn = _check(checks.negative_lead_times, config_path)
    assert not warn.passed and warn.severity == dg.AssetCheckSeverity.WARN


def test_known_answers_pass_every_blocking_check(tmp_path: Path) -> None:
    write_events(tmp_path / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS, sli=ka.SLI)
    config_path = load_and_build(write_config(tmp_path, slos=ka.SLOS)).config_dir / "dora.yaml"
    for check in (checks.deployments_with_known_revision, checks.lead_time_sanity):
        assert _check(check, config_path).passed
    unmapped = _check(checks.unmapped_services, config_path)  # I6's service `mystery`
    assert not unmapped.passed and "mystery" in _meta(unmapped)["examples"]


def test_a_blocking_failure_stops_the_metrics_and_keeps_the_last_good_warehouse(
        tmp_path: Path) -> None:
    """One Dagster run of every ingest, warehouse and metric asset with their checks: the
    revisions turn bad, the check blocks, no metric asset runs, and readers keep seeing the
    warehouse of the last good run, not metrics computed from bad revisions."""
    events = write_events(tmp_path / "events", commits=COMMITS,
                          deployments=[_deployment(i, sha) for i, sha in enumerate(SHAS)])
    config = load_and_build(write_config(tmp_path))
    published = table_checksums(config.warehouse_path)
    write_events(events, commits=COMMITS, deployments=[_deployment(i, sha[:8])
                                                       for i, sha in enumerate(SHAS)])
    defs = _definitions()
    keys = _node_keys(defs, [n for _stage, names in STAGES for n in names])
    dora = DoraResource(config_path=str(tmp_path / "dora.yaml"))
    result = dg.materialize([*defs.assets, *(defs.asset_checks or [])], selection=keys,
                            resources={"dora": dora}, instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    assert not result.success
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert evaluations["deployments_with_known_revision"] is False
    done = {e.asset_key.path[-1] for e in result.all_events
            if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert "deployments" in done  # the canonical tables were rebuilt …
    assert not done & {"changes", "deployment_outcomes", "team_metrics", "org_metrics"}
    assert table_checksums(config.warehouse_path) == published  # … but not published
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        revisions = {r[0] for r in conn.execute("SELECT revision FROM deployments").fetchall()}
    assert revisions == set(SHAS)


@pytest.mark.parametrize("share, passes", [(0.5, True), (0.6, False)])
def test_the_limit_is_most(tmp_path: Path, share: float, passes: bool) -> None:
    """Exactly half unknown still passes; more than half blocks."""
    count = 10
    unknown = int(share * count)
    shas = [f"{i:040x}" for i in range(1, count + 1)]
    commits = [{"repo": "acme/api", "sha": s, "parents": [shas[i - 1]] if i else [],
                "authored_at": "2026-01-01T08:00:00Z", "committed_at": "2026-01-01T08:00:00Z"}
               for i, s in enumerate(shas)]
    folder = write_events(tmp_path / "events", commits=commits, deployments=[
        _deployment(i, s[:7] if i < unknown else s) for i, s in enumerate(shas)])
    result = _check(checks.deployments_with_known_revision,
                    load_and_build(write_config(folder.parent)).config_dir / "dora.yaml")
    assert result.passed is passes
