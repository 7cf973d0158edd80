"""Where each repository's sync stopped: one JSON file per repository beside the landing.

Layout: ``<landing>/github_cursors/<repo>.json`` holding ``{"repo", "entities": {entity:
{"cursor": {...}, "updated_at"}}}``. A cursor is saved only after the data it covers has been
landed, by writing a temporary file and renaming it over the old one: a crash leaves either the
old cursor or the new, never half of one, and never a cursor ahead of the stored data.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import UTC_TS
from pipelines.landing import safe_segment

FOLDER = "github_cursors"
CURSOR_SCHEMA = {"repo": pl.String, "entity": pl.String, "cursor": pl.String, "updated_at": UTC_TS}


def cursor_path(landing_root: Path, repo: str) -> Path:
    """The cursor file of `repo`."""
    return landing_root / FOLDER / f"{safe_segment(repo)}.json"


class CursorStore:
    """The cursors of one repository, read once and saved entity by entity."""

    def __init__(self, landing_root: Path, repo: str) -> None:
        self.repo = repo
        self.path = cursor_path(landing_root, repo)
        self._entities: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            self._entities = dict(data.get("entities") or {})

    def get(self, entity: str) -> dict[str, Any]:
        """The cursor of `entity` (an empty dict before the first sync)."""
        return dict((self._entities.get(entity) or {}).get("cursor") or {})

    def put(self, entity: str, cursor: dict[str, Any]) -> None:
        """Replace the cursor of `entity` and save the file atomically."""
        self._entities[entity] = {
            "cursor": cursor,
            "updated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.partial")
        partial.write_text(
            json.dumps({"repo": self.repo, "entities": self._entities}, indent=1, sort_keys=True),
            encoding="utf-8",
        )
        os.replace(partial, self.path)


def read_cursors(landing_root: Path) -> pl.DataFrame:
    """Every cursor of every repository: columns repo, entity, cursor (JSON text), updated_at."""
    rows: list[dict[str, Any]] = []
    folder = landing_root / FOLDER
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = json.loads(path.read_text(encoding="utf-8"))
        for entity, entry in sorted((data.get("entities") or {}).items()):
            rows.append({
                "repo": data.get("repo"),
                "entity": entity,
                "cursor": json.dumps(entry.get("cursor") or {}, sort_keys=True),
                "updated_at": dt.datetime.fromisoformat(entry["updated_at"]),
            })
    return pl.DataFrame(rows, schema=CURSOR_SCHEMA)
