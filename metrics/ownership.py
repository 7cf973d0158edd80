"""Which team owned a service at a given moment (METRICS.md, "ownership over time")."""

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
    indexed = frame.with_row_index("_row")
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
    if "team" in frame.columns:
        out = out.drop("team").rename({"team_right": "team"}) if "team_right" in out.columns else out
    return out.with_columns(pl.col("team").fill_null(UNASSIGNED)).drop("_row")
