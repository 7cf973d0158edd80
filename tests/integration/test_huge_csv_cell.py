"""A CSV cell over the size limit (64 MiB): one bad record with its line, never phantom records
(it takes a 64 MiB file, hence not a unit test)."""

from __future__ import annotations

from pathlib import Path

from pipelines.sources.csv_records import CELL_LIMIT
from pipelines.sources.files import read_folder

HEADER = "id,service,environment,revision,finished_at,status,labels\n"


def test_a_huge_csv_cell_is_one_bad_record_with_its_line(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    huge = "x" * (CELL_LIMIT + 1)
    # Line 3 holds the huge quoted cell, with a newline and commas inside (which a reader that
    # gave up mid-cell would take for the start of new records).
    body = (HEADER + "d1,api,production,abc,2026-01-05T10:00:00Z,success,\n"
            + f'd2,api,production,abc,2026-01-05T10:00:00Z,success,"a\nb,c,d,e,f,g,{huge}"\n'
            + "d3,api,production,abc,2026-01-05T11:00:00Z,success,\n")
    (folder / "deployments.csv").write_text(body, encoding="utf-8")
    result = read_folder(folder, "e")
    assert result.frames["deployments"]["id"].to_list() == ["d1", "d3"]
    (bad,) = result.quarantine.to_dicts()
    # The record ends on line 4 of the file (its cell spans lines 3 and 4).
    assert (bad["line"], bad["reason"]) == (4, "a cell is larger than 64 MiB")
    assert len(bad["raw"]) < 20_000
    assert result.tally.read["deployments"] == 3 and result.tally.reconciles
