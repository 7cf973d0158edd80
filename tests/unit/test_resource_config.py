"""`DoraResource` parses and validates the config once per run (issue 15), not in every asset."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from eventkit import write_config

from pipelines.defs.resources import DoraResource


def test_a_run_parses_the_config_once(tmp_path: Path) -> None:
    """Set up as a run sets it up, the resource keeps the parsed config: deleting the file
    afterwards changes nothing for the rest of the run (every asset calls `load()`)."""
    path = write_config(tmp_path)
    resource = DoraResource(config_path=str(path))
    with resource.process_config_and_initialize_cm() as running:  # what a run does
        first = running.load()
        path.unlink()
        assert running.load() is first
        assert [t.name for t in running.load().teams] == ["payments"]


def test_outside_a_run_the_file_is_read_each_time(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    resource = DoraResource(config_path=str(path))
    assert [t.name for t in resource.load().teams] == ["payments"]
    write_config(tmp_path, teams=[{"name": "core", "services": ["api"]}])
    assert [t.name for t in resource.load().teams] == ["core"]


def test_every_asset_of_a_run_shares_one_parse(tmp_path: Path) -> None:
    """Two assets in one in-process run get the very same config object."""
    seen: list[int] = []

    @dg.asset
    def first(dora: DoraResource) -> None:
        seen.append(id(dora.load()))

    @dg.asset(deps=[first])
    def second(dora: DoraResource) -> None:
        seen.append(id(dora.load()))

    result = dg.materialize([first, second], resources={
        "dora": DoraResource(config_path=str(write_config(tmp_path)))})
    assert result.success and len(seen) == 2 and seen[0] == seen[1]
