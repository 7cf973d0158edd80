"""Rebuild a repository's canonical batches from its stored raw pages: zero requests.

Pages are replayed in fetch order and, per record key, the last version wins; the result lands as
one batch per entity. Run it after the normalisation changes (a new mapping, a fixed bug) and the
warehouse build picks the new rows up as the latest batches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from metrics.schema import KEYS
from pipelines.config import DoraConfig
from pipelines.sources.base import Tally
from pipelines.sources.github.context import land_normalised
from pipelines.sources.github.normalise import (
    Normalised,
    RepoInfo,
    normalise_page,
    service_for_repo,
)
from pipelines.sources.github.raw import RawStore


def renormalise(config: DoraConfig, source_name: str, repo: str,
                landing_root: Path | None = None) -> tuple[Tally, int]:
    """(tally of the replay, new batches written) for `repo`'s raw pages."""
    root = landing_root or config.landing_path
    info = RepoInfo(repo=repo, source=source_name, service=service_for_repo(config, repo))
    latest: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
    quarantine: dict[tuple[Any, ...], dict[str, Any]] = {}
    tally = Tally()
    for page in RawStore(root, repo).pages():
        result = normalise_page(page.kind, page.items, page.path, info)
        tally.add(result.tally)
        for entity, rows in result.rows.items():
            keyed = latest.setdefault(entity, {})
            for row in rows:
                keyed[tuple(row[k] for k in KEYS[entity])] = row
        for row in result.quarantine:
            quarantine[tuple(row[k] for k in KEYS["quarantine"])] = row
    merged = Normalised(
        rows={entity: list(rows.values()) for entity, rows in latest.items()},
        quarantine=list(quarantine.values()),
    )
    return tally, land_normalised(root, repo, merged)
