"""The reports folder is the product's own: a manifest lists what it wrote, nothing else is touched.

`reports_dir` may point anywhere, so the product keeps `.dora-reports.json` there with the names
of the files it wrote, and overwrites or deletes only those. A folder that is not empty and has
no manifest belongs to someone else: it is refused before anything is written (docs/config.md,
"Paths the product writes").
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pipelines.errors import UserError

MANIFEST = ".dora-reports.json"
_PRODUCT = "dora-pipeline"


class ReportsFolderError(UserError):
    """The reports folder holds files the product did not write, or cannot be used."""


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise manifest updates between processes (Dagster may write pages in parallel)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: one writer at a time is then the user's to ensure
        yield
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _read(folder: Path) -> set[str] | None:
    """The names in the manifest; None when there is none."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        files = data["files"]
        if data.get("product") != _PRODUCT or not all(isinstance(f, str) for f in files):
            raise ValueError("not a dora-pipeline manifest")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ReportsFolderError(
            f"reports_dir {folder}: {MANIFEST} is unreadable ({exc}); delete the folder's "
            "report files and the manifest, or choose another reports_dir") from None
    return set(files)


def _write(folder: Path, files: set[str]) -> None:
    from pipelines.reports.page import write_text

    text = json.dumps({"product": _PRODUCT, "files": sorted(files)}, indent=1) + "\n"
    write_text(folder / MANIFEST, text)


def _foreign(folder: Path) -> ReportsFolderError:
    return ReportsFolderError(
        f"reports_dir {folder} is not empty and has no {MANIFEST}, so it is not a folder "
        "dora-pipeline wrote; choose an empty or new folder for reports_dir (nothing was written)")


def _usable(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise ReportsFolderError(f"reports_dir {folder} is a file, not a folder; choose a "
                                 "folder for reports_dir")


def claim(folder: Path, names: Iterable[str]) -> None:
    """Make sure every one of `names` may be written in `folder`, and record them as ours.

    Refuses (ReportsFolderError, nothing written) a non-empty folder without a manifest and a
    name that exists but is not in the manifest (a file someone else put there).
    """
    _usable(folder)
    wanted = set(names)
    if folder.exists():
        with _locked(folder):
            owned = _read(folder)
            if owned is None:
                if any(folder.iterdir()):
                    raise _foreign(folder)
                owned = set()
            taken = sorted(n for n in wanted - owned if (folder / n).exists())
            if taken:
                raise ReportsFolderError(
                    f"reports_dir {folder}: {taken[0]} was not written by dora-pipeline (not in "
                    f"{MANIFEST}); move it away or choose another reports_dir")
            if not wanted <= owned:
                _write(folder, owned | wanted)
        return
    folder.mkdir(parents=True, exist_ok=True)
    with _locked(folder):
        _write(folder, (_read(folder) or set()) | wanted)


def check(folder: Path) -> None:
    """Refuse a folder that is not ours before any work is done (nothing is written)."""
    _usable(folder)
    if folder.exists() and _read(folder) is None and any(folder.iterdir()):
        raise _foreign(folder)


def release(folder: Path, keep: Iterable[str]) -> list[str]:
    """Delete the files of the manifest that are not in `keep` (pages of teams that are gone);
    files the manifest does not list are never touched. Returns the names deleted."""
    keep = set(keep) | {MANIFEST}
    with _locked(folder):
        owned = _read(folder) or set()
        gone = sorted(owned - keep)
        for name in gone:
            (folder / name).unlink(missing_ok=True)
        if gone:
            _write(folder, owned - set(gone))
    return gone


def owned(folder: Path) -> set[str]:
    """The names the manifest lists (empty when there is no manifest)."""
    return (_read(folder) or set()) if folder.is_dir() else set()
