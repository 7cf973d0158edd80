"""The reports folder is the product's own: a manifest of what it wrote, nothing else touched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.errors import UserError
from pipelines.reports.folder import MANIFEST, ReportsFolderError, check, claim, owned, release


def _listed(folder: Path) -> list[str]:
    return json.loads((folder / MANIFEST).read_text("utf-8"))["files"]


def test_a_new_folder_is_created_with_a_manifest(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "reports"
    claim(folder, ["index.html", "team-x.html"])
    assert _listed(folder) == ["index.html", "team-x.html"]
    assert sorted(p.name for p in folder.iterdir()) == [MANIFEST]  # names claimed, not written


def test_an_empty_folder_becomes_ours(tmp_path: Path) -> None:
    claim(tmp_path, ["index.html"])
    assert owned(tmp_path) == {"index.html"}
    claim(tmp_path, ["team-y.html"])  # claims add up
    assert owned(tmp_path) == {"index.html", "team-y.html"}


def test_a_foreign_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    for attempt in (lambda: check(tmp_path), lambda: claim(tmp_path, ["index.html"])):
        with pytest.raises(ReportsFolderError) as caught:
            attempt()
        assert isinstance(caught.value, UserError)
        message = str(caught.value)
        assert str(tmp_path) in message and "\n" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_release_deletes_only_listed_files(tmp_path: Path) -> None:
    claim(tmp_path, ["index.html", "team-a.html", "team-gone.html"])
    for name in ("index.html", "team-a.html", "team-gone.html", "team-theirs.html"):
        (tmp_path / name).write_text(name, encoding="utf-8")
    gone = release(tmp_path, {"index.html", "team-a.html"})
    assert gone == ["team-gone.html"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        MANIFEST, "index.html", "team-a.html", "team-theirs.html"]
    assert _listed(tmp_path) == ["index.html", "team-a.html"]


def test_a_file_not_in_the_manifest_is_not_claimed(tmp_path: Path) -> None:
    claim(tmp_path, ["index.html"])
    (tmp_path / "team-b.html").write_text("theirs", encoding="utf-8")
    with pytest.raises(ReportsFolderError, match="team-b.html was not written by dora-pipeline"):
        claim(tmp_path, ["team-b.html"])
    assert _listed(tmp_path) == ["index.html"]


@pytest.mark.parametrize("text", ["{", "[]", '{"files": ["x"]}', '{"product": "dora-pipeline"}',
                                  '{"product": "dora-pipeline", "files": [1]}'])
def test_an_unreadable_manifest_is_refused(tmp_path: Path, text: str) -> None:
    (tmp_path / MANIFEST).write_text(text, encoding="utf-8")
    with pytest.raises(ReportsFolderError, match="unreadable"):
        claim(tmp_path, ["index.html"])


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    target = tmp_path / "reports"
    target.write_text("", encoding="utf-8")
    with pytest.raises(ReportsFolderError, match="is a file"):
        check(target)


@pytest.mark.parametrize("command", ["check", "run"])
def test_check_and_run_refuse_a_foreign_reports_folder_before_any_work(
        tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from eventkit import write_config

    from pipelines.cli import main

    (tmp_path / "events").mkdir()
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "notes.html").write_text("mine", encoding="utf-8")
    config_path = write_config(tmp_path)
    assert main([command, "--config", str(config_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no .dora-reports.json" in err[0], err
    assert not (tmp_path / "data").exists()  # nothing ran, nothing was written
    assert (tmp_path / "reports" / "notes.html").read_text(encoding="utf-8") == "mine"
