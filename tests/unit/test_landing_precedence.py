"""Which version of a record the build keeps from an API source (docs/config.md, "What a rerun
means"): the newer by the source's own update time, then the later fetched; and a version that
comes back after a change is landed again."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from pipelines.build import landed, latest_by_key
from pipelines.config import DoraConfig
from pipelines.landing import batch_files, write_batch

UTC = dt.UTC


def _pr(title: str, updated: dt.datetime | None) -> pl.DataFrame:
    return pl.DataFrame({"repo": ["acme/x"], "number": [7], "title": [title],
                         "created_at": [dt.datetime(2026, 1, 5, tzinfo=UTC)], "source": ["gh"],
                         "_updated_at": [updated]})


def _config(tmp_path: Path) -> DoraConfig:
    return DoraConfig(warehouse=tmp_path / "w.duckdb", config_dir=tmp_path,
                      sources=[{"kind": "github", "name": "gh", "repos": ["acme/x"]}])


def _title(config: DoraConfig) -> str:
    return latest_by_key(landed(config, "pull_requests"), "pull_requests")["title"].item()


def test_the_newer_update_wins_over_the_later_fetch(tmp_path: Path) -> None:
    config = _config(tmp_path)
    monday, tuesday = (dt.datetime(2026, 1, d, tzinfo=UTC) for d in (5, 6))
    write_batch(config.landing_root, "github", "acme/x", "pull_requests", _pr("new", tuesday))
    # Fetched later, from a stale replica: older by the API's own clock.
    write_batch(config.landing_root, "github", "acme/x", "pull_requests", _pr("stale", monday))
    assert _title(config) == "new"
    # Same update time: the later fetch wins.
    write_batch(config.landing_root, "github", "acme/x", "pull_requests", _pr("again", tuesday))
    assert _title(config) == "again"


def test_content_that_comes_back_lands_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    for title in ("a", "b", "a"):  # edited, then edited back (no update time given)
        write_batch(config.landing_root, "github", "acme/x", "pull_requests", _pr(title, None))
    assert len(batch_files(config.landing_root, "pull_requests")) == 3
    assert _title(config) == "a"
    # The same content as the newest batch is not written twice.
    assert write_batch(config.landing_root, "github", "acme/x", "pull_requests",
                       _pr("a", None)) is None
