"""Every error a user can cause or meet ends in one line and a non-zero exit, and damaged
warehouse files are repaired from the landing, never copied.

The CLI runs in this process (`main([...])`, the real pipeline through Dagster); its stderr is
read at the file-descriptor level. "One line" means: apart from the progress lines (`• …`),
stderr holds exactly one line, it says what happened and what to do, and no traceback.
Faults of the machine (a full disk, a read-only folder) are in test_safety_faults.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from faultkit import copy_inputs, table_checksums, wait_for, warehouse_file

from pipelines.cli import main as cli
from pipelines.warehouse import WarehouseDamaged, connect, publish, working_path

if TYPE_CHECKING:
    from faultkit_fixtures import Reference

pytest_plugins = ["faultkit_fixtures"]


def problem_lines(err: str) -> list[str]:
    """What the CLI said besides its progress lines."""
    return [line for line in err.splitlines() if line.strip() and not line.startswith("• ")]


def one_line(err: str, *words: str) -> str:
    """The single line of `err` that is not progress; it holds every one of `words`."""
    assert "Traceback" not in err and "Stack Trace" not in err, err[-3000:]
    lines = problem_lines(err)
    assert len(lines) == 1, lines
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def one_warning(err: str, *words: str) -> str:
    """The single warning about damage of a run that succeeded (the input of faultkit also
    fails two warning checks, which the CLI lists); it holds every one of `words`."""
    assert "Traceback" not in err and "Stack Trace" not in err, err[-3000:]
    lines = [line for line in err.splitlines()
             if line.startswith("warning") and "damaged" in line]
    assert len(lines) == 1, err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def published_org(reference: Reference, target: Path) -> Path:
    """A copy of the reference run: its input, landing, working copy and published warehouse;
    returns its config."""
    shutil.copytree(reference.run, target, ignore=shutil.ignore_patterns("reports", ".run-*"))
    return target / "dora.yaml"


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def zero(path: Path) -> None:
    path.write_bytes(bytes(path.stat().st_size))


# ---- the config: dangerous or impossible paths ----------------------------------------------

@pytest.mark.parametrize(("setting", "key", "words"), [
    ("warehouse: /", "warehouse", "names a folder"),
    ("warehouse: ..", "warehouse", "names a folder"),
    ("warehouse: events", "warehouse", "is a folder"),
    ("warehouse: dora.yaml", "warehouse", "is not a DuckDB file"),
    ("reports_dir: /", "reports_dir", "filesystem root"),
    ("reports_dir: .", "reports_dir", "the config file's own folder"),
    ("reports_dir: data/landing/pages", "reports_dir", "one is inside the other"),
    ("landing_dir: reports", "landing_dir", "same folder"),
])
def test_check_and_run_refuse_a_dangerous_path_naming_the_key(
        reference: Reference, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        setting: str, key: str, words: str) -> None:
    config = copy_inputs(reference.template, tmp_path / "org")
    text = config.read_text(encoding="utf-8").replace("warehouse: data/dora.duckdb\n", "")
    text = text.replace("reports_dir: reports\n", "")
    config.write_text(f"{setting}\n{text}", encoding="utf-8")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for command in ("check", "run", "report"):
        assert cli([command, "--config", str(config)]) == 2, command
        err = capfd.readouterr().err
        assert "Traceback" not in err
        # The problem names the key and its line (line 1: the setting was put first).
        assert f"line 1: `{key}`: " in err and words in err, err
    # Nothing was written anywhere, not beside the project either (`warehouse: ..`).
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_a_folder_whose_name_is_not_utf8_is_refused_by_check(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    # A folder name of bytes that are not UTF-8 (Python sees it through surrogate escapes);
    # DuckDB cannot take such a path (the run used to die of std::bad_cast after check passed).
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/team-\xff"))
    folder.mkdir()
    (folder / "dora.yaml").write_text("teams: []\n", encoding="utf-8")
    assert cli(["check", "--config", str(folder / "dora.yaml")]) == 2
    err = capfd.readouterr().err
    assert "`warehouse`: " in err and "cannot be encoded as UTF-8" in err, err
    assert "Traceback" not in err
    assert os.listdir(folder) == ["dora.yaml"]


# ---- every error a user meets: one line, exit status, no traceback ---------------------------

def test_each_error_is_one_line_with_what_to_do(
        reference: Reference, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing config, a report before any run, a damaged published warehouse, a missing
    source folder, a busy warehouse: exit 1 (2 for the config), one line each."""
    assert cli(["check", "--config", str(tmp_path / "nope.yaml")]) == 2
    assert "config file not found" in capfd.readouterr().err

    config = copy_inputs(reference.template, tmp_path / "fresh")
    assert cli(["report", "--config", str(config)]) == 1
    one_line(capfd.readouterr().err, "report failed", "does not exist yet",
             "run `dora-pipeline run` first")
    assert not (config.parent / "data").exists()

    config = published_org(reference, tmp_path / "org")
    warehouse = warehouse_file(config)
    truncate_half(warehouse)
    assert cli(["report", "--config", str(config)]) == 1
    one_line(capfd.readouterr().err, f"warehouse file {warehouse} is damaged (truncated",
             "run `dora-pipeline run` again")
    # --verbose adds the traceback, and the line still ends the output.
    assert cli(["report", "--config", str(config), "--verbose"]) == 1
    err = capfd.readouterr().err
    assert "Traceback" in err and "is damaged" in err.strip().splitlines()[-1]

    events = config.parent / "events"
    events.rename(config.parent / "events-moved")
    assert cli(["run", "--config", str(config)]) == 1
    one_line(capfd.readouterr().err, "run failed", str(events), "does not exist",
             "fix the path in the config")
    (config.parent / "events-moved").rename(events)

    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, time
        from pathlib import Path
        from pipelines.warehouse import connect
        conn = connect(Path(sys.argv[1]))  # read-write: the working copy's lock
        Path(sys.argv[2]).touch()
        time.sleep(120)
    """), str(warehouse), str(tmp_path / "holding")])
    try:
        wait_for((tmp_path / "holding").exists, 60, "the holder to take the lock")
        monkeypatch.setenv("DORA_WAREHOUSE_WAIT_SECONDS", "1")
        code = cli(["run", "--config", str(config)])
    finally:
        holder.kill()
        holder.wait(30)
    assert code == 1
    one_line(capfd.readouterr().err, "run failed", "is in use by another process",
             "wait for it to finish or close it, then run again")


# ---- damaged warehouse files ----------------------------------------------------------------

@pytest.mark.parametrize("damage", [truncate_half, zero], ids=["truncated", "zeroed"])
def test_a_damaged_working_copy_is_rebuilt_from_the_landing(
        reference: Reference, tmp_path: Path, capfd: pytest.CaptureFixture[str],
        damage) -> None:
    config = published_org(reference, tmp_path / "org")
    warehouse = warehouse_file(config)
    damage(working_path(warehouse))
    assert cli(["run", "--config", str(config)]) == 0
    out = capfd.readouterr()
    line = one_warning(out.err, f"working copy {working_path(warehouse)} was damaged",
                    "rebuilds it from the landing")
    assert ("truncated" if damage is truncate_half else "not a DuckDB file") in line
    # Nothing lost: the same tables as an uninterrupted run.
    assert table_checksums(warehouse) == reference.checksums
    assert table_checksums(working_path(warehouse)) == reference.checksums


def test_a_damaged_published_file_is_never_copied_and_is_replaced_by_a_whole_one(
        reference: Reference, tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = published_org(reference, tmp_path / "org")
    warehouse = warehouse_file(config)
    working_path(warehouse).unlink()  # the run must start its working copy again …
    truncate_half(warehouse)  # … and the published file it would start from is damaged
    assert cli(["run", "--config", str(config)]) == 0
    one_warning(capfd.readouterr().err, f"published warehouse {warehouse} is damaged",
             "not copied", "rebuilds the warehouse from the landing")
    assert table_checksums(warehouse) == reference.checksums


def test_a_clean_run_reports_no_damage(reference: Reference, tmp_path: Path,
                                       capfd: pytest.CaptureFixture[str]) -> None:
    """The damage checks do not fire on whole files (a false alarm would rebuild for nothing):
    a rerun over a published warehouse prints progress and the summary only."""
    config = published_org(reference, tmp_path / "org")
    assert cli(["run", "--config", str(config)]) == 0
    assert "damaged" not in capfd.readouterr().err
    assert table_checksums(warehouse_file(config)) == reference.checksums


def test_a_copy_that_does_not_read_back_is_not_published(tmp_path: Path) -> None:
    """A working copy with a block that fails its checksum where no query looked yet: opening
    it succeeds, but `publish` reads every block of the copy, publishes nothing, and marks the
    working copy so the next writer starts it again."""
    warehouse = tmp_path / "dora.duckdb"
    conn = connect(warehouse)
    conn.execute("CREATE TABLE t AS SELECT range AS i, md5(range::VARCHAR) AS s "
                 "FROM range(300000)")
    conn.execute("CHECKPOINT")
    conn.close()
    working = working_path(warehouse)
    # 4 KiB of zeros in the middle of the table's blocks (the file is ~6 MB of them).
    with working.open("r+b") as handle:
        handle.seek(working.stat().st_size // 2)
        handle.write(bytes(4096))
    conn = connect(warehouse)
    try:
        with pytest.raises(WarehouseDamaged, match="checksum; nothing was published"):
            publish(conn)
    finally:
        conn.close()
    assert not warehouse.exists()
    assert list(tmp_path.glob(".dora.duckdb.publish-*")) == []
    conn = connect(warehouse)  # started again: empty, whole
    try:
        assert conn.execute("SELECT count(*) FROM duckdb_tables()").fetchall() == [(0,)]
    finally:
        conn.close()
