"""What a rerun means for `files` sources (docs/config.md): after any run the warehouse equals a
fresh build of the folders as they are now, and a shared key goes to the later-listed source."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
from eventkit import ingest_and_build_canonical, write_events

from pipelines.config import DoraConfig
from pipelines.snapshot import Snapshot, partition, read_manifest
from pipelines.sources.files import ingest_folder
from pipelines.warehouse import connect

DEPLOY = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
          "finished_at": "2026-01-05T10:00:00Z", "status": "success"}
INCIDENT = {"id": "INC-00001", "service": "api", "opened_at": "2026-01-05T10:00:00Z",
            "severity": "sev2"}


def _config(tmp_path: Path, *folders: str, warehouse: str = "w.duckdb") -> DoraConfig:
    """A config of `files` sources named after their folders; each warehouse has its landing."""
    return DoraConfig(warehouse=tmp_path / warehouse, config_dir=tmp_path,
                      landing_dir=tmp_path / f"{warehouse}.landing",
                      sources=[{"kind": "files", "path": f, "name": f} for f in folders])


def _run(config: DoraConfig) -> dict[str, Any]:
    """Ingest every files source and build the canonical tables; the summed tally."""
    return ingest_and_build_canonical(config)


def _rows(config: DoraConfig, sql: str) -> list[tuple]:
    conn = duckdb.connect(str(config.warehouse_path) + ".working", read_only=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_value_edited_back_is_back(tmp_path: Path) -> None:
    config = _config(tmp_path, "events")
    for severity in ("sev2", "sev1", "sev2"):  # the last run restores the original file
        write_events(tmp_path / "events", incidents=[{**INCIDENT, "severity": severity}])
        _run(config)
        assert _rows(config, "SELECT severity FROM incidents") == [(severity,)]


def test_the_later_listed_source_wins_whatever_ran_before(tmp_path: Path) -> None:
    ids = [f"d{i}" for i in range(1, 6)]
    write_events(tmp_path / "a", deployments=[{**DEPLOY, "id": i, "status": "failure"}
                                              for i in ids])
    write_events(tmp_path / "b", deployments=[{**DEPLOY, "id": i} for i in ids])
    config = _config(tmp_path, "a", "b")  # b is listed later: b wins the five shared ids
    _run(config)
    statuses = "SELECT status, count(*) FROM deployments GROUP BY ALL"
    assert _rows(config, statuses) == [("success", 5)]
    # An unrelated record appended to `a` lands `a` again: `b` still wins.
    write_events(tmp_path / "a", deployments=[*[{**DEPLOY, "id": i, "status": "failure"}
                                                for i in ids], {**DEPLOY, "id": "other"}])
    _run(config)
    assert sorted(_rows(config, statuses)) == [("success", 6)]
    fresh = _config(tmp_path, "a", "b", warehouse="fresh.duckdb")
    _run(fresh)
    assert sorted(_rows(fresh, statuses)) == [("success", 6)]
    # Five keys shared by the pair (a, b), all five disagreeing (failure against success).
    assert _rows(config, "SELECT * FROM source_conflicts") == [("deployments", "b", "a", 5, 5)]
    # Listed the other way round, `a` wins.
    _run(_config(tmp_path, "b", "a"))
    assert sorted(_rows(config, statuses)) == [("failure", 5), ("success", 1)]


def test_a_fixed_line_leaves_quarantine_and_a_removed_record_is_gone(tmp_path: Path) -> None:
    config = _config(tmp_path, "events")
    good = [{**DEPLOY, "id": f"d{i}"} for i in range(1, 4)]
    write_events(tmp_path / "events", deployments=[good[0], {**good[1], "status": "exploded"},
                                                   good[2]])
    assert _run(config) == {"read": 3, "loaded": 2, "quarantined": 1}
    assert _rows(config, "SELECT line, field FROM quarantine") == [(2, "status")]
    write_events(tmp_path / "events", deployments=good)  # line 2 fixed
    assert _run(config) == {"read": 3, "loaded": 3, "quarantined": 0}
    assert _rows(config, "SELECT count(*) FROM quarantine") == [(0,)]
    assert _rows(config, "SELECT count(*) FROM deployments") == [(3,)]  # 3 lines, 3 records
    write_events(tmp_path / "events", deployments=good[:1])
    _run(config)
    assert _rows(config, "SELECT id FROM deployments") == [("d1",)]


def test_a_source_removed_from_the_config_leaves_nothing(tmp_path: Path) -> None:
    write_events(tmp_path / "a", deployments=[DEPLOY])
    write_events(tmp_path / "b", deployments=[{**DEPLOY, "id": "d2"}])
    _run(_config(tmp_path, "a", "b"))
    config = _config(tmp_path, "b")
    _run(config)
    assert _rows(config, "SELECT id, source FROM deployments") == [("d2", "b")]


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    write_events(tmp_path / "events", deployments=[DEPLOY, {**DEPLOY, "id": None}])
    config = _config(tmp_path, "events")
    tally, written = ingest_folder(config.landing_root, tmp_path / "events", "events")
    assert (tally.read["deployments"], written) == (2, 2)  # records and quarantine rows
    # Change what the manifest remembers of the file: a run that reads the file would say 2.
    manifest = config.landing_root / partition("files", "events") / "snapshot.json"
    data = json.loads(manifest.read_text())
    data["parts"][0]["tally"]["read"]["deployments"] = 7
    manifest.write_text(json.dumps(data))
    tally, written = ingest_folder(config.landing_root, tmp_path / "events", "events")
    assert (tally.read["deployments"], written) == (7, 0)
    # Any change to its bytes, and it is read.
    write_events(tmp_path / "events", deployments=[DEPLOY])
    tally, written = ingest_folder(config.landing_root, tmp_path / "events", "events")
    assert (tally.read["deployments"], tally.quarantined["deployments"]) == (1, 0)


def test_stale_files_are_collected_once_no_snapshot_lists_them(tmp_path: Path) -> None:
    config = _config(tmp_path, "events")
    for status in ("success", "failure", "error"):
        write_events(tmp_path / "events", deployments=[{**DEPLOY, "status": status}])
        _run(config)
    folder = config.landing_root / partition("files", "events")
    assert len(list(folder.glob("*/*.parquet"))) == 3  # younger than the grace period: kept
    snapshot = Snapshot(config.landing_root, "files", "events")
    snapshot.parts = read_manifest(snapshot.store, snapshot.folder) or []
    assert snapshot.collect(grace=0) == 2
    listed = {f for p in snapshot.parts for f in p.files.values()}
    assert {p.relative_to(folder).as_posix() for p in folder.glob("*/*.parquet")} == listed
    _run(config)
    assert _rows(config, "SELECT status FROM deployments") == [("error",)]


def test_a_build_of_an_unchanged_landing_rewrites_nothing(tmp_path: Path) -> None:
    write_events(tmp_path / "events", deployments=[DEPLOY])
    config = _config(tmp_path, "events")
    _run(config)
    # A row changed behind the build's back shows whether the next build rewrites the table.
    conn = connect(config.warehouse_path)
    conn.execute("UPDATE deployments SET environment = 'marker'")
    conn.close()
    _run(config)  # nothing changed: nothing rewritten
    assert _rows(config, "SELECT environment FROM deployments") == [("marker",)]
    write_events(tmp_path / "events", deployments=[{**DEPLOY, "status": "failure"}])
    _run(config)
    assert _rows(config, "SELECT environment, status FROM deployments") == [
        ("production", "failure")]
    assert _rows(config, "SELECT entity, input FROM landing_inputs WHERE entity = 'sources'") \
        == [("sources", "files/events")]
