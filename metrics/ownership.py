"""Which team owned a service at a given moment (docs/metrics.md, "ownership over time")."""

from __future__ import annotations

import polars as pl

UNASSIGNED = "unassigned"

OWNERSHIP_SCHEMA = {
    "team": pl.String,
    "service": pl.String,
    "valid_from": pl.Date,
    "valid_until": pl.Date,
}


def assign_team(frame: pl.DataFrame, ownership: pl.DataFrame, at: str,
                service: str = "service") -> pl.DataFrame:
    """`frame` with a `team` column: the owner of `service` at the time in column `at`.

    Ownership rows hold `valid_from` (inclusive) and `valid_until` (exclusive) UTC dates, either
    open. A record no ownership row covers belongs to `unassigned`; it is never dropped. Where two
    rows overlap, the alphabetically first team wins, so the answer does not depend on row order.
    """
    indexed = frame.drop("team", strict=False).with_row_index("_row")
    day = pl.col(at).dt.convert_time_zone("UTC").dt.date()
    matches = (
        indexed.select("_row", pl.col(service).alias("_svc"), day.alias("_day"))
        .join(ownership.rename({"service": "_svc"}), on="_svc", how="inner")
        .filter(
            (pl.col("valid_from").is_null() | (pl.col("_day") >= pl.col("valid_from")))
            & (pl.col("valid_until").is_null() | (pl.col("_day") < pl.col("valid_until")))
        )
        .group_by("_row")
        .agg(pl.col("team").min())
    )
    out = indexed.join(matches, on="_row", how="left").sort("_row")
    return out.with_columns(pl.col("team").fill_null(UNASSIGNED)).drop("_row")


REORGANISATION_SCHEMA = {
    "team": pl.String,
    "service": pl.String,
    "date": pl.Date,
    "kind": pl.String,
    "counterpart": pl.String,
}


def reorganisations(ownership: pl.DataFrame) -> pl.DataFrame:
    """Every dated change of ownership, for markers on a team's timeline.

    A `from` date is the day a team `joined` (took over) a service, an `until` date the day it
    `left` it. `counterpart` is the team on the other side of the hand-over (the team whose
    ownership of the same service starts or ends that day), or null when there is none, as when
    a new service starts or an old one is retired.
    """
    rows = ownership.select("team", "service", "valid_from", "valid_until")
    joined = rows.filter(pl.col("valid_from").is_not_null()).select(
        "team", "service", pl.col("valid_from").alias("date"), pl.lit("joined").alias("kind"))
    left = rows.filter(pl.col("valid_until").is_not_null()).select(
        "team", "service", pl.col("valid_until").alias("date"), pl.lit("left").alias("kind"))
    events = pl.concat([joined, left])
    other = events.select(
        "service", "date", pl.col("team").alias("counterpart"),
        # A `left` event's counterpart is the team that `joined` the same day, and vice versa.
        pl.when(pl.col("kind") == "joined").then(pl.lit("left")).otherwise(pl.lit("joined"))
        .alias("kind"),
    )
    out = (events.join(other, on=["service", "date", "kind"], how="left")
           .group_by("team", "service", "date", "kind")
           .agg(pl.col("counterpart").drop_nulls().sort().first()))
    return out.select(list(REORGANISATION_SCHEMA)).cast(REORGANISATION_SCHEMA).sort(
        "date", "service", "kind", "team")
