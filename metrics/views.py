"""Lead-time figures per team and period for an alternative attribution of changes.

`team_metrics` is the product's contract. The people view (author's team) and the code-owner
view (CODEOWNERS team) attribute the same delivered changes differently; both are summarised
here with the same rules as section 2 of the definitions (periods of the delivering deployment,
linear quantiles over individual values, empty periods filled, sample sizes and intervals).
"""

from __future__ import annotations

import polars as pl

from metrics.compute import GRAINS, median_ci_exprs, run_sql

SEGMENTS = ("coding", "pickup", "review", "deploy")


def change_view_metrics(changes: pl.DataFrame, team_column: str,
                        min_sample: int) -> pl.DataFrame:
    """Per team (taken from `team_column`), grain and period: changes, lead time p50/p90 with
    a 95% order-statistic interval, and the breakdown medians, each with its sample size."""
    frame = changes.with_columns(pl.col(team_column).alias("team"))
    parts = [run_sql("change_view_metrics", {"changes": frame}, {"grain": g}) for g in GRAINS]
    out = pl.concat(parts).with_columns(median_ci_exprs("lead_time"))
    flags = [(pl.col("lead_time_samples") < min_sample).alias("lead_time_low_sample")]
    flags += [(pl.col(f"{s}_samples") < min_sample).alias(f"{s}_low_sample") for s in SEGMENTS]
    return out.with_columns(flags).drop("lead_time_values")
