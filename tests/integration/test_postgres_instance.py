"""The production Dagster instance (deploy/dagster.postgres.yaml) against a real PostgreSQL
(see tests/postgres_fixtures.py for where the server comes from), on a database of its own."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import known_answers as ka
import pytest
from eventkit import write_config, write_events
from pgkit import connect

from pipelines.defs.ingest.files import files_landing
from pipelines.defs.resources import DoraResource
from pipelines.defs.warehouse.assets import warehouse_tables

pytestmark = pytest.mark.postgres
pytest_plugins = ["postgres_fixtures"]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def postgres_home(postgres_database: dict[str, str], tmp_path: Path,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A DAGSTER_HOME holding deploy/dagster.postgres.yaml, its DAGSTER_PG_* in the environment."""
    for key, value in postgres_database.items():
        monkeypatch.setenv(key, value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "deploy" / "dagster.postgres.yaml", home / "dagster.yaml")
    yield home


def test_a_materialisation_is_recorded_in_postgres(postgres_home: Path, tmp_path: Path,
                                                    postgres_database: dict[str, str]) -> None:
    write_events(tmp_path / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS, incidents=ka.INCIDENTS)
    resources = {"dora": DoraResource(config_path=str(write_config(tmp_path)))}
    with dg.DagsterInstance.from_config(str(postgres_home)) as instance:
        assert [type(s).__name__ for s in (instance.run_storage, instance.event_log_storage,
                                            instance.schedule_storage)] == [
            "PostgresRunStorage", "PostgresEventLogStorage", "PostgresScheduleStorage"]
        result = dg.materialize([files_landing, warehouse_tables], instance=instance,
                                resources=resources)
        assert result.success
        instance.event_log_storage.set_concurrency_slots("github_api", 3)

    # A second instance (another process, another machine) sees the same history and slots.
    with dg.DagsterInstance.from_config(str(postgres_home)) as other:
        run = other.get_run_by_id(result.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        event = other.get_latest_materialization_event(dg.AssetKey("deployments"))
        assert event is not None and event.run_id == result.run_id
        assert event.asset_materialization.metadata["dagster/row_count"].value == len(
            {d["id"] for d in ka.DEPLOYMENTS})
        assert other.event_log_storage.get_concurrency_info("github_api").slot_count == 3
        assert other.event_log_storage.get_pool_config().default_pool_limit == 1

    with connect(postgres_database) as conn, conn.cursor() as cursor:  # it really is in Postgres
        cursor.execute("SELECT count(*) FROM runs")
        assert cursor.fetchone() == (1,)
