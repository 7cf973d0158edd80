"""The metrics a report shows, how each is read, and its trend with the test.

What a metric *is* (column, label, title, sample size, interval, band, direction, definition)
comes from the registry `metrics.registry`; this module adds only how a report reads it: the
chart's kind and axis, how a count becomes per-week, and which metrics the pages chart, grouped
as DORA's 2024 report groups them (throughput, instability), then reliability and incidents.
`points` turns a team's (or the organisation's) rows into the series a chart and a trend use;
`trend_of` states the trend over the last weeks with its test (metrics.stats.trend).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import polars as pl

from metrics import bands as dora_bands
from metrics import stats
from metrics.registry import BY_COLUMN, Count, Metric, Rate

# Charted metrics, in page order: DORA 2024's throughput and instability groups first.
CHARTED = ("deployments", "lead_time_p50_hours", "fdrt_p50_hours", "change_failure_rate",
           "rework_rate", "slo_met_ratio", "time_to_restore_p50_hours")

GROUPS = {
    "throughput": ("Throughput", "how quickly changes reach production and recover "
                   "(DORA 2024: deployment frequency, lead time, failed deployment recovery "
                   "time)"),
    "instability": ("Instability", "how often deployments go wrong (DORA 2024: change failure "
                    "rate, rework rate)"),
    "reliability": ("Reliability", "whether the services meet their objectives"),
    "incidents": ("Incidents", "how long incidents of any cause take to resolve"),
}

# What the sample behind a value counts, in words (the registry names only the column).
_SAMPLE_NOUN = {"deploy_days": "deploy days", "deployments": "deployments",
                "lead_time_samples": "changes", "fdrt_samples": "recovered failures",
                "incidents_resolved": "resolved incidents", "slos_total": "SLOs with data"}


@dataclass(frozen=True)
class MetricSpec:
    """How one registry metric is charted and read (each property worked out once: a page
    reads them for every point)."""

    metric: Metric

    @cached_property
    def key(self) -> str:
        return self.metric.column

    @cached_property
    def title(self) -> str:
        return self.metric.title

    @cached_property
    def label(self) -> str:
        return self.metric.label

    @cached_property
    def group(self) -> str:
        return self.metric.group

    @cached_property
    def kind(self) -> str:
        """"count" (charted per week), "hours" or "rate"."""
        if isinstance(self.metric.how, Count):
            return "count"
        return "rate" if isinstance(self.metric.how, Rate) else "hours"

    @cached_property
    def lower_is_better(self) -> bool:
        return bool(self.metric.lower_is_better)

    @cached_property
    def samples(self) -> str | None:
        # a count's sample: the deploy days its deployments fell on
        return self.metric.samples or ("deploy_days" if self.key == "deployments" else None)

    @cached_property
    def sample_noun(self) -> str:
        return _SAMPLE_NOUN.get(self.samples or "", self.samples or "")

    @cached_property
    def low_sample(self) -> str | None:
        return _low_sample_column(self.metric)

    @cached_property
    def ci(self) -> tuple[str, str] | None:
        return _interval_columns(self.metric)

    @cached_property
    def band(self) -> str | None:
        """The DORA clusters drawn behind, where DORA published some for this metric."""
        return self.metric.band if self.metric.band in dora_bands.METRICS else None

    @cached_property
    def explain(self) -> str:
        extra = (" The monthly view divides each month's count by its number of weeks."
                 if self.kind == "count" else "")
        return self.metric.definition + extra

    @cached_property
    def unit(self) -> str:
        return {"count": "deploys", "hours": "h", "rate": "pp"}[self.kind]

    @cached_property
    def axis_title(self) -> str:
        return {"count": f"{self.metric.unit} per week", "hours": "hours",
                "rate": f"share of {self.sample_noun}"}[self.kind]


def _stem(metric: Metric) -> str:
    """`lead_time` of `lead_time_p50_hours`: the start of a quantile's companion columns."""
    return metric.column.removesuffix("_hours").rsplit("_p", 1)[0]


def _interval_columns(metric: Metric) -> tuple[str, str] | None:
    found = getattr(metric, "interval_columns", False)
    if found is not False:  # the registry names them (metrics-core)
        return found
    if metric.interval == "wilson":
        return f"{metric.column}_ci_low", f"{metric.column}_ci_high"
    if metric.interval == "order_statistic":
        return f"{_stem(metric)}_p50_ci_low_hours", f"{_stem(metric)}_p50_ci_high_hours"
    return None


def _low_sample_column(metric: Metric) -> str | None:
    found = getattr(metric, "low_sample_column", False)
    if found is not False:
        return found
    if isinstance(metric.how, Count):
        return None
    return (f"{metric.column}_low_sample" if isinstance(metric.how, Rate)
            else f"{_stem(metric)}_low_sample")


METRIC_SPECS: tuple[MetricSpec, ...] = tuple(MetricSpec(BY_COLUMN[c]) for c in CHARTED)
SPEC_BY_KEY = {s.key: s for s in METRIC_SPECS}

ROLLING_WEEKS = 4
ROLLING_MIN_POINTS = 2
# The columns `points` reads for the charted metrics (a page reads no others as lists)
CHART_COLUMNS = frozenset({"period_start"} | {
    c for s in METRIC_SPECS
    for c in (s.key, s.samples, s.low_sample, f"{s.key}__rolling", *(s.ci or ())) if c})


class Point(NamedTuple):
    """One period of one metric: the value, its sample size, interval and low-sample flag
    (immutable; a tuple because a page makes thousands, three times faster than a frozen
    dataclass)."""

    period: dt.date
    value: float | None
    samples: int | None
    low: float | None
    high: float | None
    low_sample: bool
    count: int | None = None  # raw count (deployments per month before dividing by weeks)
    rolling: float | None = None  # trailing rolling median to this period (weekly rows)


def weeks_in(period: dt.date, grain: str) -> float:
    """How many weeks a period spans: 1 for a week, days/7 for a month."""
    if grain == "week":
        return 1.0
    return calendar.monthrange(period.year, period.month)[1] / 7.0


def _nums(values: list) -> list[float | None]:
    """Each value as a float, None for a missing value or a NaN, in one pass (a page reads
    thousands)."""
    out = [None if v is None else float(v) for v in values]
    return [None if v != v else v for v in out]  # NaN, the one value unequal to itself


Columns = dict[str, list]  # a frame as plain lists, read once per page (see `columns`)


def columns(frame: pl.DataFrame, names: Iterable[str] | None = None) -> Columns:
    """A frame's columns (or those of `names` it has) as lists, oldest period first: what
    `points` reads (fast to index)."""
    if frame.height and not frame["period_start"].is_sorted():
        frame = frame.sort("period_start")
    wanted = frame.columns if names is None else [c for c in frame.columns if c in set(names)]
    return {name: frame.get_column(name).to_list() for name in wanted}


def points(frame: pl.DataFrame | Columns, spec: MetricSpec, grain: str) -> list[Point]:
    """The series of `spec` over the rows of one team (or the organisation) and one grain."""
    cols = columns(frame) if isinstance(frame, pl.DataFrame) else frame
    periods = cols["period_start"]
    none = [None] * len(periods)
    raw = cols[spec.key]
    samples = cols[spec.samples] if spec.samples else none
    lows, highs = (_nums(cols[spec.ci[0]]), _nums(cols[spec.ci[1]])) if spec.ci else (none, none)
    flags = cols[spec.low_sample] if spec.low_sample else none
    rolled = _nums(cols.get(f"{spec.key}__rolling", none))  # see data.with_rolling
    if spec.kind == "count":
        counts = [int(v or 0) for v in raw]
        numbers = [c / weeks_in(p, grain) for c, p in zip(counts, periods, strict=True)]
    else:
        counts, numbers = none, _nums(raw)
    # columns converted as wholes, the points made positionally (a page makes about a thousand)
    return [Point(period, number, None if n is None else int(n),
                  None if number is None else low,  # no estimate, no interval (a rate over
                  None if number is None else high,  # zero deployments)
                  bool(flag), count, roll)
            for period, number, n, low, high, flag, count, roll in zip(
                periods, numbers, samples, lows, highs, flags, counts, rolled, strict=True)]


def rolling_median(values: list[float | None], window: int = ROLLING_WEEKS,
                   min_points: int = ROLLING_MIN_POINTS) -> list[float | None]:
    """Trailing median over `window` periods, None where fewer than `min_points` have values."""
    series = pl.Series(values, dtype=pl.Float64)
    return series.rolling_median(window_size=window, min_samples=min_points).to_list()


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


# How a value is written, per kind (`format_value`), as bound methods a page can call per point
_WRITERS: dict[str, Callable[[float], str]] = {
    "rate": "{:.1%}".format, "count": "{:.1f}/week".format, "hours": "{:.1f} h".format}


def value_writer(spec: MetricSpec) -> Callable[[float], str]:
    """`format_value` for `spec`'s values that are not None (no lookups left per value)."""
    return _WRITERS[spec.kind]


def format_value(value: float | None, spec: MetricSpec) -> str:
    """A value as people read it: 3.2 h, 12.5%, 4.0/week; an en dash when there is none."""
    if value is None:
        return "–"
    return _WRITERS[spec.kind](value)
