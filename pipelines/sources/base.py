"""What every source shares: its name, its tally of records, and the quarantine record shape."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from metrics.schema import SCHEMAS

RAW_LIMIT = 10_000  # characters of a bad record's raw text kept in quarantine


def source_name(source_cfg: Any, index: int) -> str:
    """A stable name for a configured source: its `name`, else `<kind>-<position>`."""
    return source_cfg.name or f"{source_cfg.kind}-{index}"


@dataclass
class Tally:
    """Records read, loaded and quarantined per entity: read = loaded + quarantined, always."""

    read: Counter[str] = field(default_factory=Counter)
    loaded: Counter[str] = field(default_factory=Counter)
    quarantined: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        self.read.update(other.read)
        self.loaded.update(other.loaded)
        self.quarantined.update(other.quarantined)

    def as_metadata(self) -> dict[str, int]:
        """Flat counts for Dagster metadata, e.g. `deployments_loaded`."""
        out: dict[str, int] = {}
        for entity in sorted(set(self.read) | set(self.loaded) | set(self.quarantined)):
            out[f"{entity}_read"] = self.read[entity]
            out[f"{entity}_loaded"] = self.loaded[entity]
            out[f"{entity}_quarantined"] = self.quarantined[entity]
        return out

    @property
    def reconciles(self) -> bool:
        return all(
            self.read[e] == self.loaded[e] + self.quarantined[e] for e in self.read
        )


def quarantine_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Quarantine records (source, file, line, entity, record_key, field, reason, raw)."""
    return pl.DataFrame(rows, schema=SCHEMAS["quarantine"])


def shown_path(path: Path | str) -> str:
    """A path as printable, storable text: bytes that are not UTF-8 (the OS allows them in
    names) are shown as `\\xNN` escapes instead of breaking logs, DuckDB or Parquet."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
