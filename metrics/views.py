"""Lead-time figures per team and period for an alternative attribution of changes.

`team_metrics` is the product's contract. The people view (author's team) and the code-owner
view (CODEOWNERS team) attribute the same delivered changes differently; both are summarised
here with the same rules as section 2 of the definitions (periods of the delivering deployment,
linear quantiles over individual values, empty periods filled, sample sizes and intervals).
"""

from __future__ import annotations

import polars as pl

from metrics import stats
from metrics.compute import GRAINS, run_sql

SEGMENTS = ("coding", "pickup", "review", "deploy")


def change_view_metrics(changes: pl.DataFrame, team_column: str,
                        min_sample: int) -> pl.DataFrame:
    """Per team (taken from `team_column`), grain and period: changes, lead time p50/p90 with
    a 95% order-statistic interval, and the breakdown medians, each with its sample size."""
    frame = changes.with_columns(pl.col(team_column).alias("team"))
    parts = [run_sql("change_view_metrics", {"changes": frame}, {"grain": g}) for g in GRAINS]
    out = pl.concat(parts).with_columns(_median_interval("lead_time_values"))
    flags = [(pl.col("lead_time_samples") < min_sample).alias("lead_time_low_sample")]
    flags += [(pl.col(f"{s}_samples") < min_sample).alias(f"{s}_low_sample") for s in SEGMENTS]
    return out.with_columns(flags).drop("lead_time_values")


def _median_interval(column: str) -> list[pl.Expr]:
    """Distribution-free 95% bounds of the median, picked from the sorted values (NULL when no
    order-statistic interval reaches 95%, under 6 values)."""
    values = pl.col(column)
    n = values.list.len()
    rank = n.map_elements(lambda k: (stats.order_statistic_ranks(k) or (0, 0))[0],
                          return_dtype=pl.Int64)
    valid = rank > 0
    return [
        pl.when(valid).then(values.list.get(rank - 1, null_on_oob=True))
        .alias("lead_time_p50_ci_low_hours"),
        pl.when(valid).then(values.list.get(n - rank, null_on_oob=True))
        .alias("lead_time_p50_ci_high_hours"),
    ]
