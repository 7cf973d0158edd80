"""Input faults of event files, each with one clear outcome (docs/config.md, event files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from eventkit import write_events

from pipelines.build import build_canonical
from pipelines.config import DoraConfig
from pipelines.sources.files import ingest_folder, read_folder
from pipelines.warehouse import connect

DEPLOY = {"id": "d1", "service": "api", "environment": "production", "revision": "abc",
          "finished_at": "2026-01-05T10:00:00Z", "status": "success"}


def test_a_byte_order_mark_is_not_a_bad_record(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    lines = [json.dumps(DEPLOY), json.dumps({**DEPLOY, "id": "d2"})]
    (folder / "deployments.jsonl").write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())
    result = read_folder(folder, "e")
    assert result.quarantine.height == 0
    assert result.frames["deployments"]["id"].to_list() == ["d1", "d2"]


def test_a_symlink_out_of_the_folder_is_refused_never_read(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "events"
    write_events(folder, incidents=[{"id": "i1", "service": "api",
                                     "opened_at": "2026-01-05T10:00:00Z"}])
    monkeypatch.setenv("DORA_TEST_SECRET", "hunter2-token")
    (folder / "deployments.jsonl").symlink_to("/proc/self/environ")
    result = read_folder(folder, "e")
    (refused,) = result.quarantine.to_dicts()
    assert refused["file"] == "deployments.jsonl" and refused["raw"] is None
    assert refused["reason"] == ("`deployments.jsonl` is a symbolic link to a file outside the "
                                 "source folder; it is not read")
    assert "hunter2" not in repr(result.quarantine.to_dicts())
    assert result.tally.read["deployments"] == 1 and result.tally.reconciles
    assert result.frames["incidents"].height == 1  # the other files still load


def test_a_symlink_inside_the_folder_is_read(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    write_events(folder / "archive", deployments=[DEPLOY])
    (folder / "deployments.jsonl").symlink_to(folder / "archive" / "deployments.jsonl")
    assert read_folder(folder, "e").frames["deployments"]["id"].to_list() == ["d1"]


def test_a_pipe_is_refused_not_waited_on(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    os.mkfifo(folder / "deployments.jsonl")
    result = read_folder(folder, "e")
    # A pipe is not a regular file: `event_files` never lists it (nothing to wait on).
    assert result.tally.read["deployments"] == 0


def test_a_folder_whose_name_is_not_utf8_loads(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9-events")  # Latin-1 bytes: not UTF-8
    folder = tmp_path / name
    try:
        write_events(folder, deployments=[DEPLOY, {**DEPLOY, "id": None}])
    except OSError:
        pytest.skip("this filesystem refuses names that are not UTF-8")
    config = DoraConfig(warehouse=tmp_path / "w.duckdb", config_dir=tmp_path,
                        sources=[{"kind": "files", "path": name, "name": "e"}])
    tally, _ = ingest_folder(config.landing_root, config.resolve(config.sources[0].path), "e")
    assert tally.reconciles and tally.loaded["deployments"] == 1
    conn = connect(config.warehouse_path)
    try:
        build_canonical(conn, config)
    finally:
        conn.close()
    with duckdb.connect(str(config.warehouse_path) + ".working", read_only=True) as conn:
        assert conn.execute("SELECT id FROM deployments").fetchall() == [("d1",)]
        assert conn.execute("SELECT field FROM quarantine").fetchall() == [("id",)]


def test_a_lone_surrogate_in_a_list_given_as_text_is_one_bad_record(tmp_path: Path) -> None:
    """`files` given as text (as a CSV cell holds a list: `a;b`) with the JSON escape \\ud800,
    an unpaired surrogate no storage can hold: that record is quarantined naming `files[0]`
    (found by the fuzz test at 300 examples; it used to stop the whole read), the other loads."""
    folder = tmp_path / "events"
    folder.mkdir()
    commit = {"repo": "api", "sha": "c0", "authored_at": "2026-01-05T10:00:00Z",
              "committed_at": "2026-01-05T10:00:00Z"}
    lines = [json.dumps(commit), json.dumps({**commit, "sha": "c1", "files": "\ud800"})]
    (folder / "commits.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = read_folder(folder, "e")
    assert result.frames["commits"]["sha"].to_list() == ["c0"]
    assert result.quarantine.select("line", "field").rows() == [(2, "files[0]")]
    assert "lone surrogate" in result.quarantine["reason"][0]
