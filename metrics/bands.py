"""DORA performance bands, by report year, as context drawn behind a team's own line.

Bands are context for a team's own line and never a ranking. They describe the clusters that
emerged from one year's survey of many organisations; they are not targets, they move from year
to year, and the product never uses them to grade, sort or compare teams. A team's own trend
(see ``metrics.stats.trend``) is the number that matters.

The bands are recorded as published, which means they are not always tidy:

* Reports describe clusters with survey buckets ("between once per week and once per month"),
  so bands can overlap (2023: low and medium share their deployment frequency and lead time;
  2021: high, medium and low share "16–30%" change failure rate) or leave gaps (2021 deployment
  frequency has no cluster between once a day and once a week). We do not invent edges to
  close them.
* From 2023 the change failure rate is a single typical value per cluster (e.g. elite 5%), so
  those bands have ``low == high``: draw them as reference lines, not areas.
* 2024's high cluster has a *higher* change failure rate (20%) than medium (10%). That is what
  the report found, and another reason not to read the bands as a ladder.

Units are the product's: deployments per week, hours, a rate in [0, 1], hours. Conversions:
1 day = 24 h; 1 week = 168 h; 1 month = 365.25 / 12 days = 730.5 h; 6 months = 4383 h;
once per day = 7 deployments/week; once per month = 7 / 30.4375 ≈ 0.23 deployments/week;
once every six months ≈ 0.038 deployments/week. "On demand (multiple deploys per day)" is read
as at least daily, 7/week and up. Where a report says "less than one day" next to a
"less than one hour" cluster, the survey answers were mutually exclusive buckets, so the band is
one hour to one day. Open ends use ``math.inf``.

Keys: the fourth key is ``fdrt_hours``, failed deployment recovery time, as the 2023 and 2024
reports name it; the 2021 report asked the same question as "time to restore service". DORA
publishes no clusters for rework rate (2024 introduced it without them), nor for the incident
view's time to restore. The 2024 clusters are the latest published: the 2025 report ("State of
AI-assisted Software Development") describes team profiles instead of performance clusters.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["LATEST", "METRICS", "SOURCES", "URLS", "YEARS", "Band", "bands"]

YEARS = (2021, 2023, 2024)
LATEST = 2024  # the latest report that published clusters (2025 replaced them by team profiles)
METRICS = (
    "deployments_per_week",
    "lead_time_hours",
    "change_failure_rate",
    "fdrt_hours",
)


@dataclass(frozen=True)
class Band:
    """The interval ``[low, high]`` of metric values a cluster covers, in product units.

    ``published`` is the report's own wording, kept for tooltips and footnotes; it does not take
    part in equality.
    """

    name: str
    low: float
    high: float
    published: str = field(default="", compare=False)

    @property
    def is_point(self) -> bool:
        """True when the report gave a single value (draw a line, not an area)."""
        return self.low == self.high


# ---- unit conversions -----------------------------------------------------------------------

HOUR = 1.0
DAY = 24.0 * HOUR
WEEK = 7.0 * DAY
MONTH = 365.25 / 12.0 * DAY  # 730.5 h
SIX_MONTHS = 6.0 * MONTH  # 4383 h

PER_DAY = 7.0  # deployments/week
PER_WEEK = 1.0
PER_MONTH = WEEK / MONTH  # ≈ 0.23 deployments/week
PER_SIX_MONTHS = WEEK / SIX_MONTHS  # ≈ 0.038 deployments/week

INF = math.inf

# Shared wordings -----------------------------------------------------------------------------

_ON_DEMAND = Band("elite", PER_DAY, INF, "On demand (multiple deploys per day)")
_DAY_TO_WEEK = "Between once per day and once per week"
_WEEK_TO_MONTH = "Between once per week and once per month"
_MONTH_TO_SIX = "Between once per month and once every six months"


def _b(name: str, low: float, high: float, published: str) -> Band:
    return Band(name, low, high, published)


# ---- 2021 -----------------------------------------------------------------------------------
# Source: 2021 Accelerate State of DevOps Report (DORA / Google Cloud), table
# "Software delivery performance metric" by cluster, as reproduced in
# https://eduklein.com.br/software-delivery-performance-metrics/ and in Apache DevLake's metric
# docs (apache/incubator-devlake-website docs/Metrics/DeploymentFrequency.md, CFR.md,
# LeadTimeForChanges.md — "Source: 2021 Accelerate State of DevOps, Google").
# Change failure rate was asked in whole-percent buckets 0–15% and 16–30%; the 16–30% band starts
# at 0.15 so the two buckets meet instead of leaving a 15–16% hole.
_2021: dict[str, list[Band]] = {
    "deployments_per_week": [
        _ON_DEMAND,
        _b("high", PER_MONTH, PER_WEEK, _WEEK_TO_MONTH),
        _b("medium", PER_SIX_MONTHS, PER_MONTH, "Between once per month and once every 6 months"),
        _b("low", 0.0, PER_SIX_MONTHS, "Fewer than once per six months"),
    ],
    "lead_time_hours": [
        _b("elite", 0.0, HOUR, "Less than one hour"),
        _b("high", DAY, WEEK, "Between one day and one week"),
        _b("medium", MONTH, SIX_MONTHS, "Between one month and six months"),
        _b("low", SIX_MONTHS, INF, "More than six months"),
    ],
    "change_failure_rate": [
        _b("elite", 0.0, 0.15, "0%-15%"),
        _b("high", 0.15, 0.30, "16%-30%"),
        _b("medium", 0.15, 0.30, "16%-30%"),
        _b("low", 0.15, 0.30, "16%-30%"),
    ],
    "fdrt_hours": [
        _b("elite", 0.0, HOUR, "Less than one hour"),
        _b("high", HOUR, DAY, "Less than one day"),
        _b("medium", DAY, WEEK, "Between one day and one week"),
        _b("low", SIX_MONTHS, INF, "More than six months"),
    ],
}

# ---- 2023 -----------------------------------------------------------------------------------
# Source: 2023 Accelerate State of DevOps Report (DORA / Google Cloud),
# https://dora.dev/research/2023/dora-report/, cluster table as reproduced in Steve Fenton,
# "The 2023 DevOps performance clusters", Octopus Deploy blog, 2023-10
# (https://octopus.com/blog/software-delivery-performance-clusters-2023), cross-checked against
# Apache DevLake's docs (CFR.md, LeadTimeForChanges.md, FailedDeploymentRecoveryTime.md).
# From 2023 the stability metric is "failed deployment recovery time" and change failure rate is
# a single typical value per cluster (low == high).
_2023: dict[str, list[Band]] = {
    "deployments_per_week": [
        _ON_DEMAND,
        _b("high", PER_WEEK, PER_DAY, _DAY_TO_WEEK),
        _b("medium", PER_MONTH, PER_WEEK, _WEEK_TO_MONTH),
        _b("low", PER_MONTH, PER_WEEK, _WEEK_TO_MONTH),
    ],
    "lead_time_hours": [
        _b("elite", 0.0, DAY, "Less than one day"),
        _b("high", DAY, WEEK, "Between one day and one week"),
        _b("medium", WEEK, MONTH, "Between one week and one month"),
        _b("low", WEEK, MONTH, "Between one week and one month"),
    ],
    "change_failure_rate": [
        _b("elite", 0.05, 0.05, "5%"),
        _b("high", 0.10, 0.10, "10%"),
        _b("medium", 0.15, 0.15, "15%"),
        _b("low", 0.64, 0.64, "64%"),
    ],
    "fdrt_hours": [
        _b("elite", 0.0, HOUR, "Less than one hour"),
        _b("high", HOUR, DAY, "Less than one day"),
        _b("medium", DAY, WEEK, "Between one day and one week"),
        _b("low", MONTH, SIX_MONTHS, "Between one month and six months"),
    ],
}

# ---- 2024 -----------------------------------------------------------------------------------
# Source: 2024 Accelerate State of DevOps Report (DORA / Google Cloud), "Performance levels",
# https://dora.dev/research/2024/dora-report/, as reproduced in Steve Fenton,
# "The 2024 DevOps performance clusters", Octopus Deploy blog, 2024-10-23
# (https://octopus.com/blog/2024-devops-performance-clusters). Note the published change failure
# rates are not monotonic: high 20%, medium 10%.
_2024: dict[str, list[Band]] = {
    "deployments_per_week": [
        _ON_DEMAND,
        _b("high", PER_WEEK, PER_DAY, _DAY_TO_WEEK),
        _b("medium", PER_MONTH, PER_WEEK, _WEEK_TO_MONTH),
        _b("low", PER_SIX_MONTHS, PER_MONTH, _MONTH_TO_SIX),
    ],
    "lead_time_hours": [
        _b("elite", 0.0, DAY, "Less than one day"),
        _b("high", DAY, WEEK, "Between one day and one week"),
        _b("medium", WEEK, MONTH, "Between one week and one month"),
        _b("low", MONTH, SIX_MONTHS, "Between one month and six months"),
    ],
    "change_failure_rate": [
        _b("elite", 0.05, 0.05, "5%"),
        _b("high", 0.20, 0.20, "20%"),
        _b("medium", 0.10, 0.10, "10%"),
        _b("low", 0.40, 0.40, "40%"),
    ],
    "fdrt_hours": [
        _b("elite", 0.0, HOUR, "Less than one hour"),
        _b("high", HOUR, DAY, "Less than one day"),
        _b("medium", HOUR, DAY, "Less than one day"),
        _b("low", WEEK, MONTH, "Between one week and one month"),
    ],
}

_TABLES: dict[int, dict[str, list[Band]]] = {2021: _2021, 2023: _2023, 2024: _2024}

URLS: dict[int, str] = {
    2021: "https://dora.dev/research/2021/dora-report/",
    2023: "https://dora.dev/research/2023/dora-report/",
    2024: "https://dora.dev/research/2024/dora-report/",
}

SOURCES: dict[int, str] = {
    2021: "2021 Accelerate State of DevOps Report (DORA, Google Cloud)",
    2023: "2023 Accelerate State of DevOps Report (DORA, Google Cloud)",
    2024: "2024 Accelerate State of DevOps Report (DORA, Google Cloud)",
}


def bands(year: int, metric: str) -> list[Band]:
    """The published clusters for ``metric`` in the ``year`` report: elite, high, medium, low.

    ``metric`` is one of :data:`METRICS`; ``year`` one of :data:`YEARS`. Raises ValueError naming
    the offending year or metric otherwise. Returns a fresh list each call.
    """
    if year not in _TABLES:
        raise ValueError(f"no DORA bands for report year {year!r}; known years: {YEARS}")
    if metric not in METRICS:
        raise ValueError(f"no DORA bands for metric {metric!r} (year {year}); known: {METRICS}")
    return list(_TABLES[year][metric])
