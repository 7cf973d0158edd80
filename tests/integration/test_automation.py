"""The automation conditions of the code location, evaluated at chosen times with Dagster's
test utility (`dg.evaluate_automation_conditions`), against real materialisations.

The conditions (pipelines/defs/automation.py): the ingest assets on the cron (default 05:00 UTC
daily), the warehouse when an ingest asset's data version changed, the rest eager.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import known_answers as ka
import pytest
from eventkit import write_config, write_events

from pipelines.asset_graph import load_definitions
from pipelines.defs.resources import DoraResource

UTC = dt.UTC
DAY = dt.datetime(2026, 3, 2, tzinfo=UTC)
INGEST = {"files_landing", "git_landing", "gitops_landing", "operator_landing",
          "incident_landing"}
WAREHOUSE = {"commits", "pull_requests", "deployments", "incidents", "sli_measurements",
             "quarantine", "teams", "services", "slos"}


def _at(hour: int, minute: int) -> dt.datetime:
    return DAY.replace(hour=hour, minute=minute)


def _requested(result) -> set[str]:
    return {key.to_user_string() for key in result._requested_partitions_by_asset_key  # noqa: SLF001
            if result.get_num_requested(key)}


@pytest.fixture
def defs(monkeypatch: pytest.MonkeyPatch) -> dg.Definitions:
    monkeypatch.delenv("DORA_INGEST_CRON", raising=False)
    return load_definitions()


def test_ingest_runs_once_after_each_cron_tick(defs: dg.Definitions) -> None:
    """Daily at 05:00 UTC: nothing at 04:30 or 04:59, the five unpartitioned ingest assets at
    05:01 (operator_landing with git and gitops, which it follows), nothing again at 05:30 (the
    tick was handled), then again the next day after 05:00. Nothing downstream: no ingest asset
    has new data yet, and everything downstream is missing its parents."""
    with dg.DagsterInstance.ephemeral() as instance:
        cursor = None
        expected = [(_at(4, 30), set()), (_at(4, 59), set()), (_at(5, 1), INGEST),
                    (_at(5, 30), set()), (_at(5, 30) + dt.timedelta(days=1), INGEST)]
        for when, wanted in expected:
            result = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                       evaluation_time=when, cursor=cursor)
            assert _requested(result) == wanted, when
            cursor = result.cursor


def test_the_warehouse_follows_new_data_only(defs: dg.Definitions, tmp_path: Path) -> None:
    """files_landing landing new records changes its data version: the warehouse is requested
    (with metrics and the index, eager on it). Landing the same folder again lands nothing new,
    keeps the version, and requests nothing. A new event file changes it again.
    Evaluations are at 04:00-04:30, before the 05:00 tick, so the cron requests nothing."""
    write_events(tmp_path / "events", commits=ka.COMMITS, deployments=ka.DEPLOYMENTS)
    resource = DoraResource(config_path=str(write_config(tmp_path)))
    assets = [*defs.assets]

    def land() -> str:
        result = dg.materialize(assets, selection=["files_landing"], instance=instance,
                                resources={"dora": resource})
        (event,) = result.get_asset_materialization_events()
        return event.materialization.tags["dagster/data_version"]

    with dg.DagsterInstance.ephemeral() as instance:
        first = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  evaluation_time=_at(4, 0))
        assert _requested(first) == set()
        version = land()
        second = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                   evaluation_time=_at(4, 10),
                                                   cursor=first.cursor)
        requested = _requested(second)
        assert WAREHOUSE <= requested and {"team_metrics", "report_index"} <= requested
        assert not INGEST & requested

        assert land() == version  # the same files: nothing new landed
        third = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                  evaluation_time=_at(4, 20),
                                                  cursor=second.cursor)
        assert _requested(third) == set()

        write_events(tmp_path / "events", incidents=[json.loads(json.dumps(ka.INCIDENTS[0]))])
        assert land() != version
        fourth = dg.evaluate_automation_conditions(defs=defs, instance=instance,
                                                   evaluation_time=_at(4, 30),
                                                   cursor=third.cursor)
        assert WAREHOUSE <= _requested(fourth)


def test_a_config_error_fails_once_even_where_retries_are_allowed(tmp_path: Path) -> None:
    """`github_landing` retries passing GitHub failures; a broken config is not one of them:
    the run fails at once (the config is read when the run sets its resources up), never
    retried."""
    from pipelines.defs.ingest.github import github_landing

    bad = tmp_path / "dora.yaml"
    bad.write_text("teams: [\n", encoding="utf-8")
    with dg.DagsterInstance.ephemeral() as instance:
        instance.add_dynamic_partitions("github_repos", ["acme/app"])
        result = dg.materialize([github_landing], partition_key="acme/app", instance=instance,
                                resources={"dora": DoraResource(config_path=str(bad))},
                                raise_on_error=False)
        events = instance.all_logs(result.run_id)
    assert not result.success
    types = {e.dagster_event.event_type for e in events if e.dagster_event}
    assert dg.DagsterEventType.STEP_UP_FOR_RETRY not in types
    assert dg.DagsterEventType.STEP_SUCCESS not in types
    assert any("dora.yaml" in (e.message or "") or "dora.yaml" in str(e.dagster_event)
               for e in events)
