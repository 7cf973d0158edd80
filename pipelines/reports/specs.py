"""The metrics a report shows, how each is read, and its trend with the test.

One `MetricSpec` per metric of docs/metrics.md: the `team_metrics` column, its sample size and
low-sample flag, its 95% interval columns, whether lower is better, and the DORA band it is drawn
against. `points` turns a team's (or the organisation's) rows into the series a chart and a trend
use; `trend_of` states the trend over the last weeks with its test (metrics.stats.trend).
"""

from __future__ import annotations

import calendar
import datetime as dt
import math
import statistics
from dataclasses import dataclass

import polars as pl

from metrics import stats


@dataclass(frozen=True)
class MetricSpec:
    """How one metric of docs/metrics.md is charted and read."""

    key: str  # column of team_metrics
    title: str  # section heading
    label: str  # how a trend sentence names it
    kind: str  # "count" (per week), "hours" or "rate"
    lower_is_better: bool
    samples: str | None  # column holding the sample size behind a value
    sample_noun: str  # what the sample counts ("changes", "deployments", ...)
    low_sample: str | None = None  # boolean column: under min_sample
    ci: tuple[str, str] | None = None  # 95% interval columns
    band: str | None = None  # metric name in metrics.bands
    explain: str = ""

    @property
    def unit(self) -> str:
        return {"count": "deploys", "hours": "h", "rate": "pp"}[self.kind]

    @property
    def axis_title(self) -> str:
        return {"count": "deployments per week", "hours": "hours",
                "rate": "share of deployments"}[self.kind]


METRIC_SPECS: tuple[MetricSpec, ...] = (
    MetricSpec(
        "deployments", "Deployment frequency", "deployment frequency", "count",
        lower_is_better=False, samples="deploy_days", sample_noun="deploy days",
        band="deployments_per_week",
        explain="Successful production deployments per week (the monthly view divides each "
                "month's count by its number of weeks)."),
    MetricSpec(
        "lead_time_p50_hours", "Lead time for changes", "lead time", "hours",
        lower_is_better=True, samples="lead_time_samples", sample_noun="changes",
        low_sample="lead_time_low_sample",
        ci=("lead_time_p50_ci_low_hours", "lead_time_p50_ci_high_hours"),
        band="lead_time_hours",
        explain="Median hours from a change's first commit to the production deployment that "
                "delivered it, by the week of delivery."),
    MetricSpec(
        "change_failure_rate", "Change failure rate", "change failure rate", "rate",
        lower_is_better=True, samples="deployments", sample_noun="deployments",
        low_sample="change_failure_rate_low_sample",
        ci=("change_failure_rate_ci_low", "change_failure_rate_ci_high"),
        band="change_failure_rate",
        explain="Share of deployments that failed: an incident was attributed to them, or they "
                "were rolled back or fixed by a later deployment."),
    MetricSpec(
        "fdrt_p50_hours", "Failed deployment recovery time", "recovery time", "hours",
        lower_is_better=True, samples="fdrt_samples", sample_noun="recovered failures",
        low_sample="fdrt_low_sample",
        ci=("fdrt_p50_ci_low_hours", "fdrt_p50_ci_high_hours"),
        band="time_to_restore_hours",
        explain="Median hours from a failed deployment to the rollback, fix or incident "
                "resolution that restored service, by the week of the failed deployment."),
    MetricSpec(
        "time_to_restore_p50_hours", "Time to restore service", "time to restore", "hours",
        lower_is_better=True, samples="incidents_resolved", sample_noun="resolved incidents",
        low_sample="time_to_restore_low_sample",
        ci=("time_to_restore_p50_ci_low_hours", "time_to_restore_p50_ci_high_hours"),
        band="time_to_restore_hours",
        explain="Median hours from an incident's opening to its resolution, whatever its "
                "cause, by the week it was resolved."),
    MetricSpec(
        "rework_rate", "Rework rate", "rework rate", "rate",
        lower_is_better=True, samples="deployments", sample_noun="deployments",
        low_sample="rework_rate_low_sample",
        ci=("rework_rate_ci_low", "rework_rate_ci_high"),
        explain="Share of deployments that roll back or fix another, or carry the label "
                "hotfix (DORA 2024)."),
    MetricSpec(
        "slo_met_ratio", "Reliability: SLOs met", "SLOs met", "rate",
        lower_is_better=False, samples="slos_total", sample_noun="SLOs with data",
        low_sample="slo_met_ratio_low_sample",
        ci=("slo_met_ratio_ci_low", "slo_met_ratio_ci_high"),
        explain="Share of the team's SLOs with data in the period whose attainment met the "
                "objective."),
)

SPEC_BY_KEY = {s.key: s for s in METRIC_SPECS}

ROLLING_WEEKS = 4
ROLLING_MIN_POINTS = 2


@dataclass(frozen=True)
class Point:
    """One period of one metric: the value, its sample size, interval and low-sample flag."""

    period: dt.date
    value: float | None
    samples: int | None
    low: float | None
    high: float | None
    low_sample: bool
    count: int | None = None  # raw count (deployments per month before dividing by weeks)


def weeks_in(period: dt.date, grain: str) -> float:
    """How many weeks a period spans: 1 for a week, days/7 for a month."""
    if grain == "week":
        return 1.0
    return calendar.monthrange(period.year, period.month)[1] / 7.0


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if math.isnan(number) else number


def points(frame: pl.DataFrame, spec: MetricSpec, grain: str) -> list[Point]:
    """The series of `spec` over the rows of one team (or the organisation) and one grain."""
    out = []
    for row in frame.sort("period_start").iter_rows(named=True):
        value = _num(row[spec.key])
        count = None
        if spec.kind == "count":
            count = int(row[spec.key] or 0)
            value = count / weeks_in(row["period_start"], grain)
        low, high = ((_num(row[spec.ci[0]]), _num(row[spec.ci[1]])) if spec.ci else (None, None))
        if value is None:  # no estimate, no interval (a rate over zero deployments)
            low = high = None
        out.append(Point(
            period=row["period_start"],
            value=value,
            samples=int(row[spec.samples]) if spec.samples and row[spec.samples] is not None
            else None,
            low=low,
            high=high,
            low_sample=bool(row[spec.low_sample]) if spec.low_sample else False,
            count=count,
        ))
    return out


def rolling_median(values: list[float | None], window: int = ROLLING_WEEKS,
                   min_points: int = ROLLING_MIN_POINTS) -> list[float | None]:
    """Trailing median over `window` periods, None where fewer than `min_points` have values."""
    out: list[float | None] = []
    for i in range(len(values)):
        present = [v for v in values[max(0, i - window + 1): i + 1] if v is not None]
        out.append(statistics.median(present) if len(present) >= min_points else None)
    return out


def trend_values(series: list[Point], spec: MetricSpec) -> list[float | None]:
    """The values the trend test runs on (rates in percentage points)."""
    scale = 100.0 if spec.kind == "rate" else 1.0
    return [None if p.value is None else p.value * scale for p in series]


def trend_of(series: list[Point], spec: MetricSpec, periods: int) -> stats.Trend:
    """The trend of the last `periods` weeks, with its Theil–Sen slope and Mann–Kendall test."""
    return stats.trend(trend_values(series, spec), lower_is_better=spec.lower_is_better,
                       last_n=periods)


def trend_sentence(series: list[Point], spec: MetricSpec, periods: int) -> str:
    """"lead time improving: −2.1 h/week, p = 0.01 over 12 weeks", or no clear trend."""
    return trend_of(series, spec, periods).sentence(spec.label, spec.unit, "week")


def format_value(value: float | None, spec: MetricSpec) -> str:
    """A value as people read it: 3.2 h, 12.5%, 4.0/week; an en dash when there is none."""
    if value is None:
        return "–"
    if spec.kind == "rate":
        return f"{value:.1%}"
    if spec.kind == "count":
        return f"{value:.1f}/week"
    return f"{value:.1f} h"
