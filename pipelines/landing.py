"""Raw landing: immutable Parquet batches, one folder per source partition and entity.

Ingest steps only ever add files here, so any number of them can run at once with no shared
writer; the warehouse build is the one reader that turns them into tables. A batch's file name
starts with a sortable sequence (UTC nanoseconds), so "last record wins" means "latest batch wins".
A batch whose content hash is already present is not written again: ingesting the same input
twice leaves the landing (and therefore the warehouse) unchanged.

Layout: ``<root>/<source>/<partition>/<entity>/<sequence>-<hash>.parquet``.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from pathlib import Path

import polars as pl

from metrics.schema import conform, empty

_SAFE = re.compile(r"[^A-Za-z0-9._=-]+")


def safe_segment(value: str) -> str:
    """A path segment that cannot climb out of its folder (`../`, slashes, NUL are replaced)."""
    cleaned = _SAFE.sub("_", value).strip("._") or "_"
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return cleaned if cleaned == value else f"{cleaned[:80]}-{digest}"


def batch_dir(root: Path, source: str, partition: str, entity: str) -> Path:
    """The folder that holds one partition's batches of one entity."""
    return root / safe_segment(source) / safe_segment(partition) / safe_segment(entity)


def write_batch(
    root: Path, source: str, partition: str, entity: str, frame: pl.DataFrame
) -> Path | None:
    """Land `frame` (conformed to the entity's schema) as a new batch.

    Returns the new file, or None when the frame is empty or an identical batch already exists.
    """
    frame = conform(entity, frame)
    if frame.height == 0:
        return None
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression="zstd", statistics=False)
    content = buffer.getvalue()
    digest = hashlib.sha256(frame.hash_rows(seed=0).to_numpy().tobytes()).hexdigest()[:20]
    folder = batch_dir(root, source, partition, entity)
    folder.mkdir(parents=True, exist_ok=True)
    if any(folder.glob(f"*-{digest}.parquet")):
        return None
    final = folder / f"{time.time_ns():020d}-{digest}.parquet"
    # Write to a temporary name first: a killed step never leaves a half-written batch behind.
    partial = final.with_suffix(".partial")
    partial.write_bytes(content)
    partial.rename(final)
    return final


def batch_files(root: Path, entity: str) -> list[Path]:
    """Every landed batch of `entity`, oldest first."""
    if not root.exists():
        return []
    files = root.glob(f"*/*/{safe_segment(entity)}/*.parquet")
    return sorted(files, key=lambda p: (p.name, str(p)))


def read_entity(root: Path, entity: str) -> pl.DataFrame:
    """All landed records of `entity`, oldest batch first, with `_batch` (its order) attached."""
    files = batch_files(root, entity)
    if not files:
        return empty(entity).with_columns(pl.lit(0, pl.Int64).alias("_batch"))
    frames = [
        conform(entity, pl.read_parquet(f)).with_columns(pl.lit(i, pl.Int64).alias("_batch"))
        for i, f in enumerate(files)
    ]
    return pl.concat(frames, how="vertical")
