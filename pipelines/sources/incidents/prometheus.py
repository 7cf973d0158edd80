"""The `prometheus` source: SLI windows from a Prometheus server's HTTP API (docs/slos.md).

For each SLO, `GET /api/v1/query_range` with `step` = `window` evaluates the good and total
queries once per window; the value at time t counts the window (t - window, t]. Windows are
rounded to whole counts; a window without data is not a measurement. Later syncs start where the
last one ended.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

import requests

from pipelines.config import DoraConfig, PrometheusSource
from pipelines.sources.incidents.common import SourceResult, TransientError, retrying_session
from pipelines.sources.incidents.openslo import SloDefinition, read_definitions, with_window

MAX_POINTS = 10_000  # Prometheus refuses more than 11,000 points per series
FIRST_SYNC = dt.timedelta(days=15)  # Prometheus's default retention
# A window is measured only once it ended this long ago: the last scrapes of it have landed.
SETTLE = dt.timedelta(minutes=5)
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def window_seconds(window: str) -> int:
    """`1h` -> 3600."""
    found = re.fullmatch(r"([1-9][0-9]*)([mhd])", window)
    if not found:
        raise ValueError(f"window {window!r} is not a number with m, h or d")
    return int(found.group(1)) * _UNITS[found.group(2)]


def definitions(cfg: PrometheusSource, config: DoraConfig) -> list[SloDefinition]:
    """The source's SLOs: inline ones (objective and service from the config's `slos`) and
    those of its `openslo` folder."""
    known = {s.name: s for s in config.slos}
    out = []
    for entry in cfg.slos:
        slo = known.get(entry.slo)
        if slo is None:
            raise ValueError(f"prometheus source: SLO `{entry.slo}` is not in the config's "
                             "`slos` (which gives its service and objective)")
        out.append(SloDefinition(entry.slo, slo.service, slo.objective, entry.good,
                                 entry.total))
    if cfg.openslo is not None:
        out += read_definitions(config.resolve(cfg.openslo))
    return out


def query_range(session: requests.Session, base_url: str, query: str, start: int, end: int,
                step: int, name: str) -> dict[int, float]:
    """{evaluation time (epoch s): value} of a query returning one series (or none)."""
    out: dict[int, float] = {}
    chunk = step * MAX_POINTS
    for lo in range(start, end + 1, chunk):
        hi = min(lo + chunk - step, end)
        try:
            response = session.get(f"{base_url.rstrip('/')}/api/v1/query_range", timeout=120,
                                   params={"query": query, "start": lo, "end": hi, "step": step})
        except requests.RequestException as exc:
            raise TransientError(f"source `{name}`: Prometheus query failed: "
                                 f"{type(exc).__name__}") from None
        if response.status_code in (429, 500, 502, 503, 504):
            raise TransientError(f"source `{name}`: Prometheus answered "
                                 f"{response.status_code}")
        body = response.json() if response.headers.get("Content-Type", "").startswith(
            "application/json") else {}
        if not response.ok or body.get("status") != "success":
            raise RuntimeError(f"source `{name}`: Prometheus refused {query!r}: "
                               f"{body.get('error') or response.status_code}")
        series = body["data"]["result"]
        if len(series) > 1:
            raise RuntimeError(f"source `{name}`: {query!r} returns {len(series)} series; "
                               "an SLI query must sum to one (e.g. `sum(...)`)")
        for at, value in series[0]["values"] if series else []:
            out[int(float(at))] = float(value)
    return out


def sync(cfg: PrometheusSource, name: str, config: DoraConfig, cursor: dict[str, Any] | None,
         now: dt.datetime | None = None) -> SourceResult:
    """SLI measurements of every window that ended since the last sync."""
    step = window_seconds(cfg.window)
    now = now or dt.datetime.now(dt.UTC)
    end = int((now - SETTLE).timestamp()) // step * step  # the last whole window ends here
    start = int(cursor["until"]) + step if cursor else end - int(FIRST_SYNC.total_seconds())
    start = start // step * step
    result = SourceResult(name)
    session = retrying_session()
    where = f"GET /api/v1/query_range ({cfg.base_url})"
    if start <= end:
        for slo in definitions(cfg, config):
            good = query_range(session, cfg.base_url, with_window(slo.good, cfg.window),
                               start, end, step, name)
            total = query_range(session, cfg.base_url, with_window(slo.total, cfg.window),
                                start, end, step, name)
            for at in sorted(set(good) & set(total)):
                if math.isnan(good[at]) or math.isnan(total[at]):
                    continue
                result.add("sli_measurements", {
                    "slo": slo.slo, "window_start": _iso(at - step), "window_end": _iso(at),
                    "good": round(good[at]), "total": round(total[at])}, where)
    result.cursor = {"until": max(end, int(cursor["until"]) if cursor else end)}
    return result


def _iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat()


def file_slos(config: DoraConfig) -> list[SloDefinition]:
    """The SLOs defined in the `openslo` folders of the config's prometheus sources (they join
    the config's `slos` in the warehouse)."""
    return [d for s in config.sources_of("prometheus") if s.openslo is not None
            for d in read_definitions(config.resolve(s.openslo))]
