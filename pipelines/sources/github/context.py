"""What one repository's sync carries around, and how a fetched page is stored.

`SyncContext.land` is the one way data enters the landing: raw page first, then the canonical
batches. The caller moves the cursor only after `land` returns, so a cursor never runs ahead of
stored data.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS, UTC_TS
from pipelines.config import GithubSource
from pipelines.landing import write_batch
from pipelines.sources.base import Tally, quarantine_frame
from pipelines.sources.github.client import GithubClient
from pipelines.sources.github.cursors import CursorStore
from pipelines.sources.github.normalise import Normalised, RepoInfo, normalise_page
from pipelines.sources.github.raw import RawStore

SOURCE_KIND = "github"


@dataclass
class SyncContext:
    """One repository's sync: client, stores, and running totals."""

    client: GithubClient
    source: GithubSource
    info: RepoInfo
    landing_root: Path
    cursors: CursorStore
    raw: RawStore
    log: Callable[[str], None]
    now: dt.datetime
    tally: Tally = field(default_factory=Tally)
    skipped: Counter[str] = field(default_factory=Counter)
    fetched: Counter[str] = field(default_factory=Counter)
    new_batches: int = 0
    seen_nodes: set[str] = field(default_factory=set)  # node ids fetched in this run

    @property
    def repo(self) -> str:
        return self.info.repo

    @property
    def owner_name(self) -> dict[str, str]:
        owner, name = self.repo.split("/", 1)
        return {"owner": owner, "name": name}

    @property
    def since(self) -> dt.datetime | None:
        """The config's `since` as a UTC instant: nothing older is fetched."""
        if self.source.since is None:
            return None
        return dt.datetime.combine(self.source.since, dt.time(), dt.UTC)

    @property
    def page_size(self) -> int:
        return self.client.settings.page_size

    def land(self, folder: str, kind: str, path: str, items: list[dict[str, Any]]) -> Normalised:
        """Store a page: raw payload, then canonical rows and quarantine rows."""
        self.fetched[folder] += len(items)
        if not items:
            return Normalised()
        self.raw.write(folder, kind, path, items)
        result = normalise_page(kind, items, path, self.info)
        self.new_batches += land_normalised(self.landing_root, self.repo, result)
        self.tally.add(result.tally)
        self.skipped.update(result.skipped)
        for item in items:
            if isinstance(item.get("id"), str):
                self.seen_nodes.add(item["id"])
        return result


def land_normalised(landing_root: Path, repo: str, result: Normalised) -> int:
    """Write `result` as landing batches; returns how many were new."""
    written = 0
    for entity, rows in result.rows.items():
        frame = pl.DataFrame(rows, schema={**SCHEMAS[entity], "_updated_at": UTC_TS})
        written += write_batch(landing_root, SOURCE_KIND, repo, entity, frame) is not None
    if result.quarantine:
        frame = quarantine_frame(result.quarantine)
        written += write_batch(landing_root, SOURCE_KIND, repo, "quarantine", frame) is not None
    return written


def parse_time(value: str | None) -> dt.datetime | None:
    """An API timestamp (ISO 8601, `Z` or offset) as an aware UTC datetime."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value).astimezone(dt.UTC)


def iso(value: dt.datetime) -> str:
    """A UTC instant the way GitHub writes it: `2025-01-31T12:00:00Z`."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
