"""Data versions of the ingest assets, from what landed.

An ingest asset's data version is a hash of the landing files of the source kinds it ingests
(relative name and size of every file under `<landing>/<kind>/`, or `<landing>/github/<repo>/`
for one repository's partition). Landing writes a new file only
for new content, so a run that found nothing new reports the same version as the last one, and
the automation
(`pipelines.defs.automation.on_new_data`) does not rebuild the warehouse for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import dagster as dg

from pipelines.landing import LandingRoot, landing_root, safe_segment

Folder = str | tuple[str, ...]
"""A landing folder: a source kind (`"files"`), or its segments (`("github", "acme/app")`)."""


def _listing(root: LandingRoot, folder: Folder) -> list[str]:
    """`relative/path size` of every file of one landing folder."""
    parts = (folder,) if isinstance(folder, str) else folder
    segment = "/".join(safe_segment(p) for p in parts)
    root = landing_root(root)
    if isinstance(root, str):
        from fsspec.core import url_to_fs

        fs, base = url_to_fs(f"{root}/{segment}")
        base = base.rstrip("/")
        if not fs.exists(base):
            return []
        found = fs.find(base, detail=True)
        return [f"{segment}/{name[len(base) + 1:]} {info.get('size')}"
                for name, info in found.items()]
    folder = Path(root) / segment
    if not folder.is_dir():
        return []
    return [f"{segment}/{p.relative_to(folder).as_posix()} {p.stat().st_size}"
            for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".partial")]


def landing_version(root: LandingRoot, folders: Iterable[Folder]) -> str:
    """A short hash of the files of the landing `folders` (same files, same hash)."""
    lines = sorted(line for folder in set(folders) for line in _listing(root, folder))
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def with_landing_version(result: dg.MaterializeResult, root: LandingRoot,
                         folders: Iterable[Folder]) -> dg.MaterializeResult:
    """`result` carrying the data version of what landed in `folders`."""
    version = landing_version(root, folders)
    return dg.MaterializeResult(
        metadata={**(result.metadata or {}), "landing_version": version},
        data_version=dg.DataVersion(version),
        check_results=result.check_results, asset_key=result.asset_key, tags=result.tags)
