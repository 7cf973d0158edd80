"""`dora-pipeline explain`: one number of `team_metrics` and the records behind it.

Reads the published warehouse (read-only): the value from `team_metrics` (`org_metrics` for
the team `all teams`), the records from the `metric_records` view (docs/sql.md).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import duckdb

from metrics.compute import GRAINS, ORG
from metrics.registry import BY_COLUMN, Count, metric


class ExplainError(ValueError):
    """A question the warehouse cannot answer (unknown team, metric or period)."""


def explain(conn: duckdb.DuckDBPyConnection, team: str, column: str, period: dt.date,
            grain: str = "week") -> dict[str, Any]:
    """The value of `column` for `team` in the period containing `period`, and its records.

    The shape is the JSON of `explain --format json`: team, grain, period_start, metric, value,
    sample_size (the rate's denominator or the quantile's sample; for a count, its number of
    records) and records [{kind, id, value_hours, detail}].
    """
    try:
        m = metric(column)
    except KeyError:
        raise ExplainError(f"unknown metric {column!r}; known metrics: "
                           f"{', '.join(BY_COLUMN)}") from None
    if grain not in GRAINS:
        raise ExplainError(f"unknown grain {grain!r}; use one of {', '.join(GRAINS)}")
    table, where = ("org_metrics", "true") if team == ORG else ("team_metrics", "team = $team")
    teams = [r[0] for r in conn.execute(
        "SELECT DISTINCT team FROM team_metrics ORDER BY team").fetchall()]
    if team != ORG and team not in teams:
        raise ExplainError(f"unknown team {team!r}; known teams: {', '.join(teams + [ORG])}")
    start = conn.execute("SELECT date_trunc($grain, $period::DATE)::DATE",
                         {"grain": grain, "period": period}).fetchone()[0]
    columns = [column] + ([m.samples] if m.samples else [])
    row = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - registry column names
        f"WHERE {where} AND grain = $grain AND period_start = $start",
        {"grain": grain, "start": start} | ({"team": team} if team != ORG else {}),
    ).fetchone()
    if row is None:
        first, last = conn.execute(
            f"SELECT min(period_start), max(period_start) FROM {table} "  # noqa: S608
            f"WHERE {where} AND grain = $grain",
            {"grain": grain} | ({"team": team} if team != ORG else {})).fetchone()
        raise ExplainError(f"no {grain} starting {start} for team {team!r}; its {grain}s run "
                           f"from {first} to {last}")
    records = conn.execute(
        "SELECT record_kind, record_id, value_hours, detail FROM metric_records "
        "WHERE team = $team AND grain = $grain AND period_start = $start AND metric = $metric "
        "ORDER BY value_hours NULLS LAST, record_id",
        {"team": team, "grain": grain, "start": start, "metric": column}).fetchall()
    sample = len(records) if isinstance(m.how, Count) else row[1]
    return {"team": team, "grain": grain, "period_start": start.isoformat(), "metric": column,
            "value": _plain(row[0]), "sample_size": sample,
            "records": [{"kind": k, "id": i, "value_hours": _plain(v), "detail": d}
                        for k, i, v, d in records]}


def _plain(value: Any) -> Any:
    """NaN never reaches JSON (it is not JSON); whole counts stay integers."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def as_json(answer: dict[str, Any]) -> str:
    """The answer as the JSON `explain --format json` prints."""
    return json.dumps(answer, indent=2, ensure_ascii=False)


def as_text(answer: dict[str, Any]) -> str:
    """The answer as lines for a terminal: the value, then one line per record."""
    m = metric(answer["metric"])
    value = answer["value"]
    if value is None:
        shown = "no value (nothing to compute it from)"
    elif m.unit == "share":
        shown = f"{value:.3f} ({value:.1%})"
    else:
        shown = f"{value:.3f} {m.unit}" if isinstance(value, float) else f"{value} {m.unit}"
    head = (f"{answer['team']} · {answer['grain']} of {answer['period_start']} · {m.label} "
            f"({m.column}) = {shown}; sample size {answer['sample_size']}")
    lines = [head, f"{len(answer['records'])} records:"]
    for r in answer["records"]:
        hours = "" if r["value_hours"] is None else f"{r['value_hours']:.2f} h  "
        lines.append(f"  {r['kind']} {r['id']}  {hours}{r['detail'] or ''}".rstrip())
    return "\n".join(lines)
