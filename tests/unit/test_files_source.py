"""The files source: parsing, quarantine with reasons, upserts, idempotent loading."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import known_answers as ka
import pytest
from eventkit import load_and_build, write_config, write_events

from pipelines.config import ConfigError, load_config
from pipelines.sources.files import read_folder

GOOD_DEPLOY = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
               "finished_at": "2026-01-05T10:00:00+01:00", "status": "success"}


def test_bad_records_are_quarantined_with_reasons(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    write_events(folder, deployments=[
        GOOD_DEPLOY,
        {**GOOD_DEPLOY, "id": "d2", "finished_at": "2026-01-05T10:00:00"},  # no offset
        {**GOOD_DEPLOY, "id": "d3", "status": "exploded"},
        {**GOOD_DEPLOY, "id": None},
        {**GOOD_DEPLOY, "id": "d5", "finished_at": "2026-02-30T10:00:00Z"},  # impossible date
    ], incidents=[
        {"id": "i1", "service": "api", "opened_at": "2026-01-05T10:00:00Z",
         "resolved_at": "2026-01-05T09:00:00Z"},
    ], sli=[
        {"slo": "s", "window_start": "2026-01-05T00:00:00Z", "window_end": "2026-01-06T00:00:00Z",
         "good": 11, "total": 10},
    ])
    with (folder / "deployments.jsonl").open("a") as handle:
        handle.write('{"id": "d6", "service": \n')  # truncated line
    result = read_folder(folder, "events", known_slos={"s"})
    reasons = {(q["entity"], q["line"]): (q["field"], q["reason"])
               for q in result.quarantine.to_dicts()}
    assert reasons[("deployments", 2)][0] == "finished_at"
    assert "no UTC offset" in reasons[("deployments", 2)][1]
    assert reasons[("deployments", 3)] == (
        "status", "unknown status 'exploded'; expected one of success, failure, error, "
                  "cancelled, in_progress")
    assert reasons[("deployments", 4)] == ("id", "required field `id` is missing")
    assert "not a valid ISO 8601" in reasons[("deployments", 5)][1]
    assert reasons[("deployments", 6)][1].startswith("line is not valid JSON")
    assert reasons[("incidents", 1)] == ("resolved_at", "`resolved_at` is before `opened_at`")
    assert reasons[("sli_measurements", 1)][1] == "`good` (11) is greater than `total` (10)"
    # Nothing is lost: every line read is either loaded or quarantined.
    assert result.tally.read["deployments"] == 6
    assert result.tally.loaded["deployments"] == 1
    assert result.tally.quarantined["deployments"] == 5
    assert result.tally.reconciles
    loaded = result.frames["deployments"].row(0, named=True)
    assert loaded["finished_at"].isoformat() == "2026-01-05T09:00:00+00:00"  # +01:00 → UTC


def test_csv_with_lists_and_empty_cells(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "deployments.csv").write_text(
        "id,service,environment,revision,finished_at,status,rollback_of,labels\n"
        "d1,api,production,abc,2026-01-05T10:00:00Z,success,,hotfix;urgent\n"
        "d2,api,production,abc,2026-01-05T11:00:00Z,success,d1,\n", encoding="utf-8")
    rows = read_folder(folder, "csv").frames["deployments"].to_dicts()
    assert rows[0]["labels"] == ["hotfix", "urgent"] and rows[0]["rollback_of"] is None
    assert rows[1]["rollback_of"] == "d1" and rows[1]["labels"] is None


def test_timezone_on_the_source_allows_offsetless_times(tmp_path: Path) -> None:
    folder = write_events(tmp_path / "events",
                          deployments=[{**GOOD_DEPLOY, "finished_at": "2026-07-01T12:00:00"}])
    row = read_folder(folder, "e", timezone="Europe/Berlin").frames["deployments"].row(
        0, named=True)
    assert row["finished_at"].isoformat() == "2026-07-01T10:00:00+00:00"  # CEST is +02:00


def _checksums(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        tables = [t[0] for t in conn.execute(
            "SELECT table_name FROM information_schema.tables ORDER BY 1").fetchall()]
        # Table names come from the catalogue, not from input.
        return {t: hashlib.sha256(repr(conn.execute(f'SELECT * FROM "{t}"').fetchall())  # noqa: S608
                                  .encode()).hexdigest() for t in tables}


def test_loading_twice_changes_nothing(tmp_path: Path) -> None:
    write_events(tmp_path / "events", commits=ka.COMMITS, pull_requests=ka.PULL_REQUESTS,
                 deployments=[*ka.DEPLOYMENTS, {**GOOD_DEPLOY, "status": "bogus"}],
                 incidents=ka.INCIDENTS, sli=ka.SLI)
    config_path = write_config(tmp_path, slos=ka.SLOS)
    config = load_and_build(config_path)
    first = _checksums(config.warehouse_path)
    load_and_build(config_path)
    assert _checksums(config.warehouse_path) == first
    assert len(first) >= 15


def test_upsert_last_record_wins(tmp_path: Path) -> None:
    write_events(tmp_path / "events", deployments=[GOOD_DEPLOY])
    config_path = write_config(tmp_path)
    load_and_build(config_path)
    write_events(tmp_path / "events", deployments=[{**GOOD_DEPLOY, "status": "failure"}])
    config = load_and_build(config_path)
    with duckdb.connect(str(config.warehouse_path), read_only=True) as conn:
        assert conn.execute("SELECT id, status FROM deployments").fetchall() == [
            ("d1", "failure")]


def test_config_error_names_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "dora.yaml"
    path.write_text("teams:\n  - name: payments\n    servces: [api]\nservices: []\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "line 3" in str(err.value) and "teams.0.servces" in str(err.value)
    assert "unknown key" in str(err.value)


def test_config_error_for_unknown_service_and_bad_objective(tmp_path: Path) -> None:
    path = tmp_path / "dora.yaml"
    path.write_text("services: [{name: api, repo: acme/api}]\n"
                    "slos:\n  - {name: s, service: api, objective: 1.5}\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert "line 3" in str(err.value) and "slos.0.objective" in str(err.value)


def test_config_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "dora.yaml"
    path.write_text("teams: [\n  - name: x\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
