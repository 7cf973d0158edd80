"""Skipping what a run would only repeat: the metrics and reports of a warehouse, a config and a
code version that the last complete run already turned into the same tables and pages.

After the warehouse stage, a run knows the canonical build its tables come from (unchanged
inputs keep the same build: `pipelines.build.build_canonical`). When that build, the config
file's bytes and the product's code are what the last complete run recorded, and every derived
table was computed from that build, computing them again would give the same bytes: the run
skips the metrics (and, when every page the reports manifest lists is there, the reports).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import time
from importlib import metadata, resources
from pathlib import Path
from typing import Any

from pipelines.atomic import file_stamp, write_text_atomically
from pipelines.config import DoraConfig
from pipelines.warehouse import connect, working_path

# What the product's behaviour is made of (the code, its SQL and its report templates).
_CODE_SUFFIXES = (".py", ".sql", ".j2", ".css", ".js", ".json")


def _digest_tree(root: Any, digest: Any) -> None:
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            if entry.name != "__pycache__":
                _digest_tree(entry, digest)
        elif entry.name.endswith(_CODE_SUFFIXES):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())


# The libraries whose version can change a table or a page (plotly.js is copied into reports).
_LIBRARIES = ("duckdb", "polars", "plotly", "scipy", "jinja2", "pydantic", "dagster")


@functools.cache  # the code and libraries of a process do not change while it runs
def code_digest() -> str:
    """A hash of the installed product's code, SQL and templates, and of the versions of the
    libraries that compute and draw (an upgrade of one is a change too)."""
    digest = hashlib.sha256()
    for package in ("metrics", "pipelines"):
        _digest_tree(resources.files(package), digest)
    for library in _LIBRARIES:
        digest.update(f"{library}=={metadata.version(library)}".encode())
    return digest.hexdigest()


def fingerprint(config: DoraConfig, config_path: Path) -> str | None:
    """What the derived tables of the working warehouse were computed from, or None when they
    were not all computed from its current canonical build (or it cannot be read)."""
    from pipelines.build import _builds, _canonical_build, is_consistent

    try:
        conn = connect(config.warehouse_path, read_only=True, latest=True)
    except Exception:  # no warehouse yet, or a damaged one: nothing to skip
        return None
    try:
        if not is_consistent(conn):
            return None
        build = _canonical_build(_builds(conn))
    finally:
        conn.close()
    digest = hashlib.sha256()
    for part in (code_digest(), Path(config_path).read_bytes().hex(), str(build)):
        digest.update(part.encode())
    return digest.hexdigest()


def _record_path(config: DoraConfig) -> Path:
    return config.warehouse_path.with_name(config.warehouse_path.name + ".last-run.json")


def last_run(config: DoraConfig) -> dict[str, Any]:
    """What the last complete run recorded (empty when none did)."""
    try:
        return json.loads(_record_path(config).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def record_run(config: DoraConfig, print_: str | None, failed_checks: list[str],
               inputs: str | None = None, config_path: Path | None = None) -> None:
    """Remember a complete run's fingerprint (atomically: a reader sees the old or the new).

    With `inputs` (`input_stamps` taken when the run started) and `config_path`, also what lets
    the next `dora-pipeline run` see without any work that nothing changed (`skip_whole_run`)."""
    path = _record_path(config)
    if print_ is None:
        path.unlink(missing_ok=True)
        return
    record: dict[str, Any] = {"fingerprint": print_, "failed_checks": failed_checks}
    if inputs is not None and config_path is not None:
        record["inputs"] = _whole_run_key(inputs, config_path)
        record["warehouse_files"] = _warehouse_stamps(config)
    write_text_atomically(path, json.dumps(record))


# ---- the whole run at once: nothing on disk changed since the last complete run -------------

# An input modified this recently may change again within the file system's time resolution
# without its stamp changing: such a run records no stamps (the next run does the work).
SETTLED_NS = 2_000_000_000
_GIT_KINDS = ("git", "gitops")
_FILE_KINDS = ("files", "argocd", "flux", "rollouts", "cdevents")


def input_stamps(config: DoraConfig) -> str | None:
    """A digest of the size, modification time and inode of every local file a run reads: the
    event and object files of the sources, the refs of git repositories, CODEOWNERS files.

    None when a source's news cannot be seen on disk (an API: GitHub, PagerDuty, Jira,
    Prometheus), the landing is not a local folder, or an input changed in the last two
    seconds. Then only the usual checks after the warehouse stage apply."""
    if isinstance(config.landing_root, str):
        return None
    stamps: list[str] = []
    for i, source in enumerate(config.sources):
        if source.kind in _FILE_KINDS:
            found = _tree_stamps(config.resolve(source.path))
        elif source.kind in _GIT_KINDS:
            found = _git_stamps(config.resolve(source.path))
        else:
            return None
        if found is None:
            return None
        stamps += [f"{i}:{source.kind}:{line}" for line in found]
    for entry in config.codeowners:
        if entry.path is not None:
            found = _tree_stamps(config.resolve(entry.path))
            if found is None:
                return None
            stamps += [f"codeowners:{entry.repo}:{line}" for line in found]
    return hashlib.sha256("\n".join(stamps).encode("utf-8", "surrogateescape")).hexdigest()


def _stamp(path: Path, shown: str) -> str | None:
    """One file's stamp line; None when it changed too recently to trust its stamp."""
    try:
        size, mtime, inode = file_stamp(path)
    except OSError:
        return f"{shown} missing"
    if mtime > time.time_ns() - SETTLED_NS:
        return None
    return f"{shown} {size} {mtime} {inode}"


def _tree_stamps(root: Path) -> list[str] | None:
    """Stamps of `root` (a file) or of every file below it (a folder), by relative name."""
    if not root.is_dir():
        found = _stamp(root, ".")
        return None if found is None else [found]
    lines = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            found = _stamp(path, os.fsdecode(path.relative_to(root)))
            if found is None:
                return None
            lines.append(found)
    return lines


def _git_stamps(repo: Path) -> list[str] | None:
    """Stamps of what moves when a repository gets commits: HEAD, packed-refs and loose refs
    (a clone's `.git` folder, or the repository itself when it is bare)."""
    git_dir = repo / ".git"
    if not git_dir.is_dir():
        if git_dir.exists() or not (repo / "HEAD").is_file():
            return None  # a linked worktree or not a repository: not stamped
        git_dir = repo
    lines = []
    for name in ("HEAD", "packed-refs"):
        found = _stamp(git_dir / name, name)
        if found is None:
            return None
        lines.append(found)
    refs = _tree_stamps(git_dir / "refs")
    return None if refs is None else lines + [f"refs/{line}" for line in refs]


def _whole_run_key(inputs: str, config_path: Path) -> str:
    digest = hashlib.sha256()
    for part in (inputs, code_digest(), Path(config_path).read_bytes().hex()):
        digest.update(part.encode())
    return digest.hexdigest()


def _warehouse_stamps(config: DoraConfig) -> list[list[int] | None]:
    """The stamps of the published warehouse and its working copy (None: missing)."""
    found: list[list[int] | None] = []
    for path in (config.warehouse_path, working_path(config.warehouse_path)):
        try:
            found.append(file_stamp(path))
        except OSError:
            found.append(None)
    return found


def skip_whole_run(config: DoraConfig, config_path: Path) -> dict[str, Any] | None:
    """The last complete run's record when a run now would only repeat it: the same inputs on
    disk (`input_stamps`), config bytes and code, the warehouse files as that run left them,
    and every report page there. None otherwise (then the run does its work)."""
    previous = last_run(config)
    if "inputs" not in previous:
        return None
    inputs = input_stamps(config)
    if inputs is None or _whole_run_key(inputs, config_path) != previous["inputs"]:
        return None
    stamps = _warehouse_stamps(config)
    if None in stamps or previous.get("warehouse_files") != stamps:
        return None
    return previous if reports_present(config) else None


def reports_present(config: DoraConfig) -> bool:
    """True when every file the reports manifest lists is in the reports folder."""
    from pipelines.reports.folder import owned

    names = owned(config.reports_path)
    return bool(names) and all((config.reports_path / n).exists() for n in names)
