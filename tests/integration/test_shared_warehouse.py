"""The shared-warehouse option: the warehouse published to a DuckLake whose catalog is in
PostgreSQL, read back by other processes, snapshot by snapshot (pipelines/ducklake_publish.py
runs in its own DuckDB 1.5.5 environment, `.venv-ducklake`, which `.ci/run` creates)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events

from pipelines.shared_warehouse import DUCKLAKE_PYTHON, publish_to_ducklake, run_publisher
from pipelines.warehouse import connect

pytestmark = pytest.mark.postgres
pytest_plugins = ["postgres_fixtures"]

PYTHON = Path(os.environ.get("DORA_DUCKLAKE_PYTHON", DUCKLAKE_PYTHON))


@pytest.fixture
def ducklake_python() -> Path:
    if not PYTHON.exists():
        pytest.skip(f"no DuckLake environment at {PYTHON} (python3 -m venv .venv-ducklake && "
                    ".venv-ducklake/bin/pip install -r deploy/ducklake/requirements.txt; "
                    "`bash .ci/run` creates it)")
    return PYTHON


def test_snapshots_are_shared_through_a_postgres_catalog(
        tmp_path: Path, postgres_database: dict[str, str], ducklake_python: Path) -> None:
    events = tmp_path / "events"
    write_events(events, commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=ka.DEPLOYMENTS[:-2], incidents=ka.INCIDENTS)
    config = load_and_build(write_config(tmp_path))
    db = postgres_database
    catalog = (f"postgres:dbname={db['DAGSTER_PG_DB']} host={db['DAGSTER_PG_HOST']} "
               f"port={db['DAGSTER_PG_PORT']} user={db['DAGSTER_PG_USERNAME']} "
               f"password={db['DAGSTER_PG_PASSWORD']}")
    data = str(tmp_path / "lake") + "/"

    first = publish_to_ducklake(config.warehouse_path, catalog, data, ducklake_python)
    write_events(events, deployments=ka.DEPLOYMENTS)  # two more deployments arrive
    config = load_and_build(write_config(tmp_path))
    second = publish_to_ducklake(config.warehouse_path, catalog, data, ducklake_python)
    assert second["snapshot"] > first["snapshot"]

    conn = connect(config.warehouse_path, read_only=True)
    try:
        expected = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                    for t in second["counts"]}
        metrics = conn.execute("SELECT team, grain, period_start::VARCHAR, deployments "
                               "FROM team_metrics ORDER BY ALL").fetchall()
        records = conn.execute("SELECT metric, count(*) FROM metric_records "
                               "GROUP BY ALL ORDER BY ALL").fetchall()
    finally:
        conn.close()
    assert second["counts"] == expected and expected["deployments"] == len(ka.DEPLOYMENTS)

    def ask(sql: str) -> list[list]:  # another process, read-only, as any reader would
        return run_publisher("query", catalog, data, ducklake_python, sql=sql)

    assert ask("SELECT count(*) FROM deployments") == [[len(ka.DEPLOYMENTS)]]
    old = ask(f"SELECT count(*) FROM deployments AT (VERSION => {first['snapshot']})")  # noqa: S608
    assert old == [[len(ka.DEPLOYMENTS) - 2]]  # time travel: the first snapshot is still there
    shared = ask("SELECT team, grain, period_start::VARCHAR, deployments FROM team_metrics "
                 "ORDER BY ALL")
    assert json.loads(json.dumps(shared)) == [list(r) for r in metrics]
    # The view of every number's records is shared too, over the lake's own tables.
    shared_records = ask("SELECT metric, count(*) FROM metric_records GROUP BY ALL ORDER BY ALL")
    assert shared_records == [list(r) for r in records] and records
