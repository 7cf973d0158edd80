"""`read_table` reads only what a step uses: some columns, some repos, or just the schema."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl

from metrics.schema import SCHEMAS, conform
from pipelines.build import read_table, write_table

UTC = dt.UTC


def _warehouse(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(tmp_path / "w.duckdb"))
    commits = conform("commits", pl.DataFrame({
        "repo": ["acme/a", "acme/b", "acme/a"], "sha": ["1", "2", "3"],
        "parents": [[], ["1"], ["1"]],
        "committed_at": [dt.datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3)],
        "files": [["x.py"], None, ["y.py", "z.py"]],
    }))
    write_table(conn, "commits", commits, ("repo", "sha"))
    return conn


def test_some_columns_keep_their_canonical_types(tmp_path: Path) -> None:
    conn = _warehouse(tmp_path)
    frame = read_table(conn, "commits", ("sha", "committed_at", "files"))
    assert frame.columns == ["sha", "committed_at", "files"]
    assert frame.schema["committed_at"] == SCHEMAS["commits"]["committed_at"]  # UTC, not Etc/UTC
    assert frame.get_column("files").to_list() == [["x.py"], ["y.py", "z.py"], None]


def test_only_some_repos(tmp_path: Path) -> None:
    conn = _warehouse(tmp_path)
    assert read_table(conn, "commits", ("sha",), repos=["acme/a"]).to_series().to_list() == [
        "1", "3"]
    assert read_table(conn, "commits", ("sha",), repos=[]).height == 0


def test_just_the_schema(tmp_path: Path) -> None:
    conn = _warehouse(tmp_path)
    empty = read_table(conn, "commits", limit=0)
    assert empty.height == 0
    assert empty.schema == pl.Schema(SCHEMAS["commits"])
    assert read_table(conn, "commits").schema == empty.schema
