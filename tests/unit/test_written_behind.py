"""Pages written behind (`pipelines.reports.page.written_behind`): every error is told, and an
interrupted run leaves whole pages or none, never a temporary file in the reports folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.reports.page import written_behind


def test_a_page_that_could_not_be_written_is_told_with_the_blocks_own_error(
        tmp_path: Path) -> None:
    """The block fails after a page write failed (a folder stands where the page goes): the
    block's error is raised, and the write's is noted on it rather than lost."""
    (tmp_path / "team-a.html").mkdir()
    with pytest.raises(ValueError, match="a bad value") as raised, written_behind() as write:
        write(tmp_path / "team-a.html", b"<html></html>")
        raise ValueError("a bad value")
    (note,) = raised.value.__notes__
    assert note.startswith("a page could not be written either: IsADirectoryError")


def test_a_write_error_alone_is_raised(tmp_path: Path) -> None:
    (tmp_path / "team-a.html").mkdir()
    with pytest.raises(IsADirectoryError), written_behind() as write:
        write(tmp_path / "team-a.html", b"<html></html>")


INTERRUPTED = """
import os, signal, sys
from pathlib import Path
from pipelines.reports.page import written_behind
folder = Path(sys.argv[1])
page = b"x" * (64 << 20)
with written_behind() as write:
    for i in range(4):
        write(folder / f"team-{i}.html", page)
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C while pages are still being written
"""


def test_ctrl_c_leaves_whole_pages_and_no_temporary_file(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED, str(tmp_path)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode != 0 and "KeyboardInterrupt" in done.stderr
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left and all(name.startswith("team-") for name in left), left  # no .tmp
    assert all((tmp_path / name).stat().st_size == 64 << 20 for name in left)
