"""The canonical tables every source fills, as polars schemas.

One schema per entity of docs/config.md. Sources yield frames of exactly these columns (plus
`source`, the name of the source that produced the row); the warehouse stores them under the same
names; `metrics/` reads them. Timestamps are UTC microseconds throughout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa

UTC_TS = pl.Datetime("us", "UTC")
STR_LIST = pl.List(pl.String)
REVIEW = pl.Struct({"author": pl.String, "submitted_at": UTC_TS, "state": pl.String})

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "commits": {
        "repo": pl.String,
        "sha": pl.String,
        "parents": STR_LIST,
        "authored_at": UTC_TS,
        "committed_at": UTC_TS,
        "author": pl.String,
        "message": pl.String,
        "files": STR_LIST,
        "source": pl.String,
    },
    "pull_requests": {
        "repo": pl.String,
        "number": pl.Int64,
        "title": pl.String,
        "author": pl.String,
        "author_is_bot": pl.Boolean,
        "created_at": UTC_TS,
        "merged_at": UTC_TS,
        "closed_at": UTC_TS,
        "base_branch": pl.String,
        "merge_commit_sha": pl.String,
        "commit_shas": STR_LIST,
        "reviews": pl.List(REVIEW),
        "labels": STR_LIST,
        # Changed paths of the whole PR (optional; GitHub gives them in the same query), so a
        # PR can belong to the services of a monorepo whose paths it touches.
        "files": STR_LIST,
        "source": pl.String,
    },
    "deployments": {
        "id": pl.String,
        "service": pl.String,
        "environment": pl.String,
        "revision": pl.String,
        "started_at": UTC_TS,
        "finished_at": UTC_TS,
        "status": pl.String,
        "rollback_of": pl.String,
        "fix_for": pl.String,
        "labels": STR_LIST,
        "source": pl.String,
    },
    "incidents": {
        "id": pl.String,
        "service": pl.String,
        "title": pl.String,
        "opened_at": UTC_TS,
        "resolved_at": UTC_TS,
        "severity": pl.String,
        "cause": pl.String,
        "deployment_id": pl.String,
        "commit_sha": pl.String,
        "source": pl.String,
    },
    "sli_measurements": {
        "slo": pl.String,
        "window_start": UTC_TS,
        "window_end": UTC_TS,
        "good": pl.Int64,
        "total": pl.Int64,
        "source": pl.String,
    },
    "quarantine": {
        "source": pl.String,
        "file": pl.String,
        "line": pl.Int64,
        "entity": pl.String,
        "record_key": pl.String,
        "field": pl.String,
        "reason": pl.String,
        "raw": pl.String,
    },
}

# Upsert keys: a later record with the same key replaces the earlier one.
KEYS: dict[str, tuple[str, ...]] = {
    "commits": ("repo", "sha"),
    "pull_requests": ("repo", "number"),
    "deployments": ("id",),
    "incidents": ("id",),
    "sli_measurements": ("slo", "window_start"),
    "quarantine": ("source", "file", "line", "entity"),
}

# The event-file name of each entity (docs/config.md calls SLI records `sli`).
FILE_NAMES: dict[str, str] = {
    "commits": "commits",
    "pull_requests": "pull_requests",
    "deployments": "deployments",
    "incidents": "incidents",
    "sli_measurements": "sli",
}

DEPLOYMENT_STATUSES = ("success", "failure", "error", "cancelled", "in_progress")
INCIDENT_CAUSES = ("change", "infrastructure", "external", "unknown")


def empty(entity: str) -> pl.DataFrame:
    """An empty frame with the canonical schema of `entity`."""
    return pl.DataFrame(schema=SCHEMAS[entity])


def conform(entity: str, frame: pl.DataFrame) -> pl.DataFrame:
    """Return `frame` with exactly the canonical columns of `entity`, in order and type.

    Missing optional columns become nulls, so a source only fills what it knows.
    """
    schema = SCHEMAS[entity]
    cols = [
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    ]
    return frame.select(cols)


def duckdb_arrow(frame: pl.DataFrame) -> pa.Table:
    """`frame` as Arrow for DuckDB to scan (`register`), without copying its text: polars'
    own string views, which DuckDB reads as they are. The default (`large_string`) copies every
    string first, and DuckDB then writes a warehouse table from it a little slower too."""
    return frame.to_arrow(compat_level=pl.CompatLevel.newest())


def utc(frame: pl.DataFrame) -> pl.DataFrame:
    """Label every zoned timestamp column as `UTC` (DuckDB may hand back `Etc/UTC`)."""
    zoned = [n for n, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return frame.with_columns(pl.col(zoned).dt.convert_time_zone("UTC")) if zoned else frame
