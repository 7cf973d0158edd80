"""Every metric of `team_metrics`, declared once (docs/metrics.md).

The SQL ratios and intervals, the report specs, the CLI summary, `metric_records` and the metric
table of docs/metrics.md derive from `METRICS`; a new metric, or a change to one, starts here.
One name per concept: the `column` is the name in SQL, Python, reports and docs alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Interval = Literal["wilson", "order_statistic"]
Group = Literal["throughput", "instability", "reliability", "incidents"]
RecordKind = Literal["deployment", "change", "incident", "slo"]


@dataclass(frozen=True)
class Count:
    """A count of records in the period (`filter`: which records, in words)."""

    records: str  # the table counted
    filter: str = ""


@dataclass(frozen=True)
class Rate:
    """numerator / denominator, both `team_metrics` columns; NULL when the denominator is 0."""

    numerator: str
    denominator: str


@dataclass(frozen=True)
class Quantile:
    """A linear (quantile_cont) quantile `q` of the per-record `hours` column of `records`."""

    records: str
    hours: str
    q: float
    samples: str  # the team_metrics column counting the values
    # How the hours are worked out when `hours` is not a column of `records` (the docs say so).
    worked_out: str = ""


@dataclass(frozen=True)
class Metric:
    """One `team_metrics` column: what it is, how it is computed, how it is read."""

    column: str
    label: str  # how a sentence names it: "change failure rate"
    title: str  # a heading: "Change failure rate"
    unit: str  # "deployments", "days", "changes", "hours", "share", ...
    how: Count | Rate | Quantile
    definition: str  # one line, the words of docs/metrics.md
    record_kind: RecordKind
    group: Group
    interval: Interval | None = None
    band: str | None = None  # a key of metrics.bands.METRICS (the DORA clusters drawn behind)
    lower_is_better: bool | None = None  # None: not a direction (a plain count)
    section: str = ""  # the docs/metrics.md section that defines it
    shares_records_of: str | None = None  # a metric whose records back this one too

    @property
    def record_set(self) -> str:
        """The set of `metric_records` rows behind it (shared: change_failure_rate's are
        failed_deployments' records)."""
        return self.shares_records_of or self.column

    @property
    def stem(self) -> str:
        """The name a quantile's companion columns start with (`fdrt` of `fdrt_p50_hours`)."""
        if isinstance(self.how, Quantile):
            return self.column.removesuffix("_hours").rsplit("_p", 1)[0]
        return self.column

    @property
    def interval_columns(self) -> tuple[str, str] | None:
        """The (low, high) columns of the 95% interval, or None without an interval."""
        if self.interval == "wilson":
            return f"{self.column}_ci_low", f"{self.column}_ci_high"
        if self.interval == "order_statistic":
            return f"{self.stem}_p50_ci_low_hours", f"{self.stem}_p50_ci_high_hours"
        return None

    @property
    def values_column(self) -> str | None:
        """The sorted per-period value list an order-statistic interval is picked from."""
        return f"{self.stem}_values" if self.interval == "order_statistic" else None

    @property
    def low_sample_column(self) -> str | None:
        """The flag that the sample behind the value is under `min_sample` (None: a count)."""
        if isinstance(self.how, Rate):
            return f"{self.column}_low_sample"
        if isinstance(self.how, Quantile):
            return f"{self.stem}_low_sample"
        return None

    @property
    def samples(self) -> str | None:
        """The column holding the sample size behind a value (None for a count)."""
        if isinstance(self.how, Rate):
            return self.how.denominator
        if isinstance(self.how, Quantile):
            return self.how.samples
        return None


METRICS: tuple[Metric, ...] = (
    Metric("deployments", "deployment frequency", "Deployment frequency", "deployments",
           Count("deployment_outcomes"),
           "Successful production deployments finished in the period.",
           "deployment", "throughput", band="deployments_per_week", lower_is_better=False,
           section="1"),
    Metric("deploy_days", "deploy days", "Deploy days", "days",
           Count("deployment_outcomes", "distinct UTC dates"),
           "Distinct UTC dates with at least one deployment.", "deployment", "throughput",
           section="1"),
    Metric("changes", "changes", "Changes delivered", "changes", Count("changes"),
           "Changes (merged PRs, or commits outside any merged PR) first delivered to "
           "production in the period.", "change", "throughput", section="2"),
    Metric("lead_time_p50_hours", "lead time", "Lead time for changes", "hours",
           Quantile("changes", "lead_time_hours", 0.5, "lead_time_samples"),
           "Median hours from a change's start to the deployment that delivered it.",
           "change", "throughput", "order_statistic", band="lead_time_hours",
           lower_is_better=True, section="2", shares_records_of="changes"),
    Metric("lead_time_p90_hours", "lead time p90", "Lead time for changes, p90", "hours",
           Quantile("changes", "lead_time_hours", 0.9, "lead_time_samples"),
           "90th percentile of the same lead times.", "change", "throughput",
           lower_is_better=True, section="2", shares_records_of="changes"),
    Metric("failed_deployments", "failed deployments", "Failed deployments", "deployments",
           Count("deployment_outcomes", "failed"),
           "Deployments with an attributed incident, a rollback or a fix.", "deployment",
           "instability", lower_is_better=True, section="3", shares_records_of="deployments"),
    Metric("change_failure_rate", "change failure rate", "Change failure rate", "share",
           Rate("failed_deployments", "deployments"),
           "Failed deployments / deployments, by the period of the deployment.", "deployment",
           "instability", "wilson", band="change_failure_rate", lower_is_better=True,
           section="3", shares_records_of="deployments"),
    Metric("unrecovered_failures", "unrecovered failures", "Unrecovered failures",
           "deployments", Count("deployment_outcomes", "failed, no restored_at"),
           "Failed deployments with no rollback, fix or resolution yet.", "deployment",
           "throughput", lower_is_better=True, section="4"),
    Metric("fdrt_p50_hours", "failed deployment recovery time",
           "Failed deployment recovery time", "hours",
           Quantile("deployment_outcomes", "fdrt_hours", 0.5, "fdrt_samples"),
           "Median hours from a failed deployment to its rollback, fix or incident "
           "resolution.", "deployment", "throughput", "order_statistic",
           band="fdrt_hours", lower_is_better=True, section="4"),
    Metric("incidents_opened", "incidents opened", "Incidents opened", "incidents",
           Count("incidents", "by opened_at"), "Incidents opened in the period.", "incident",
           "incidents", lower_is_better=True, section="5"),
    Metric("incidents_resolved", "incidents resolved", "Incidents resolved", "incidents",
           Count("incidents", "by resolved_at"), "Incidents resolved in the period.",
           "incident", "incidents", section="5"),
    Metric("time_to_restore_p50_hours", "time to restore", "Time to restore service", "hours",
           Quantile("incidents", "time_to_restore_hours", 0.5, "incidents_resolved",
                    worked_out="`resolved_at` − `opened_at`"),
           "Median hours from an incident's opening to its resolution, whatever its cause.",
           "incident", "incidents", "order_statistic", lower_is_better=True, section="5",
           shares_records_of="incidents_resolved"),  # DORA published no clusters for it
    Metric("rework_deployments", "rework deployments", "Rework deployments", "deployments",
           Count("deployment_outcomes", "rework"),
           "Deployments that roll back or fix another, or carry the label hotfix.",
           "deployment", "instability", lower_is_better=True, section="6"),
    Metric("rework_rate", "rework rate", "Rework rate", "share",
           Rate("rework_deployments", "deployments"),
           "Rework deployments / deployments (DORA 2024).", "deployment", "instability",
           "wilson", lower_is_better=True, section="6", shares_records_of="rework_deployments"),
    Metric("slos_total", "SLOs with data", "SLOs with data", "SLOs",
           Count("slo_periods", "SLOs with data"), "SLOs of the team with data in the period.",
           "slo", "reliability", section="7"),
    Metric("slos_met", "SLOs met", "SLOs met", "SLOs", Count("slo_periods", "met"),
           "SLOs whose attainment met the objective.", "slo", "reliability",
           lower_is_better=False, section="7"),
    Metric("slo_met_ratio", "share of SLOs met", "Reliability: SLOs met", "share",
           Rate("slos_met", "slos_total"), "SLOs met / SLOs with data.", "slo", "reliability",
           "wilson", lower_is_better=False, section="7", shares_records_of="slos_total"),
)

BY_COLUMN: dict[str, Metric] = {m.column: m for m in METRICS}


def metric(column: str) -> Metric:
    """The metric of a `team_metrics` column; a KeyError names the known ones."""
    try:
        return BY_COLUMN[column]
    except KeyError:
        raise KeyError(f"no metric {column!r}; known: {', '.join(BY_COLUMN)}") from None


def _how(m: Metric) -> str:
    how = m.how
    if isinstance(how, Rate):
        return f"`{how.numerator}` / `{how.denominator}`"
    if isinstance(how, Quantile):
        if how.worked_out:
            return f"p{round(how.q * 100)} of {how.worked_out} of `{how.records}`"
        return f"p{round(how.q * 100)} of `{how.records}.{how.hours}`"
    return f"count of `{how.records}`" + (f" ({how.filter})" if how.filter else "")


def markdown_table() -> str:
    """The metric table of docs/metrics.md, one row per metric (a unit test keeps them equal)."""
    lines = ["| column | metric | unit | computed as | sample | 95% interval | DORA band | "
             "records | § |",
             "|---|---|---|---|---|---|---|---|---|"]
    for m in METRICS:
        cells = [f"`{m.column}`", m.title, m.unit, _how(m),
                 f"`{m.samples}`" if m.samples else "", (m.interval or "").replace("_", "-"),
                 f"`{m.band}`" if m.band else "", m.record_kind, m.section]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
