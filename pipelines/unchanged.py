"""Skipping what a run would only repeat: the metrics and reports of a warehouse, a config and a
code version that the last complete run already turned into the same tables and pages.

After the warehouse stage, a run knows the canonical build its tables come from (unchanged
inputs keep the same build: `pipelines.build.build_canonical`). When that build, the config
file's bytes and the product's code are what the last complete run recorded, and every derived
table was computed from that build, computing them again would give the same bytes: the run
skips the metrics (and, when every page the reports manifest lists is there, the reports).
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

from pipelines.atomic import write_text_atomically
from pipelines.config import DoraConfig
from pipelines.warehouse import connect

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


def code_digest() -> str:
    """A hash of the installed product's code, SQL and templates."""
    digest = hashlib.sha256()
    for package in ("metrics", "pipelines"):
        _digest_tree(resources.files(package), digest)
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


def record_run(config: DoraConfig, print_: str | None, failed_checks: list[str]) -> None:
    """Remember a complete run's fingerprint (atomically: a reader sees the old or the new)."""
    path = _record_path(config)
    if print_ is None:
        path.unlink(missing_ok=True)
        return
    write_text_atomically(path, json.dumps({"fingerprint": print_,
                                            "failed_checks": failed_checks}))


def reports_present(config: DoraConfig) -> bool:
    """True when every file the reports manifest lists is in the reports folder."""
    from pipelines.reports.folder import owned

    names = owned(config.reports_path)
    return bool(names) and all((config.reports_path / n).exists() for n in names)
