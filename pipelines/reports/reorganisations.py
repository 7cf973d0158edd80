"""Reorganisation markers for a team's timeline figures (the `reorganisations` table).

A service that changed hands changes what a team's line measures from that day on, so every
time-series figure of the team should show the day. `reorganisation_shapes` gives Plotly shape
dicts (a dashed vertical line per day, labelled) to add to a figure's `layout.shapes`.
"""

from __future__ import annotations

import datetime as dt
import html
from itertools import groupby

import duckdb
import polars as pl

from pipelines.reports.queries import has_relation, query

LINE = {"color": "rgba(106, 61, 154, 0.7)", "width": 1.5, "dash": "dash"}
NAME = "reorganisation"


def load_reorganisations(conn: duckdb.DuckDBPyConnection,
                         teams: str | list[str] | None = None) -> pl.DataFrame:
    """The reorganisations (team, date, service, kind, counterpart) of `teams` (None: all),
    oldest first; empty for a warehouse built before the table existed."""
    if not has_relation(conn, "reorganisations"):
        return pl.DataFrame(schema={"team": pl.String, "date": pl.Date, "service": pl.String,
                                    "kind": pl.String, "counterpart": pl.String})
    return query(conn, "report_reorganisations",
                 teams=[teams] if isinstance(teams, str) else teams)


def describe(row: dict) -> str:
    """One event in words: "took over billing from payments", "handed ledger to core"."""
    service = row["service"]
    other = row.get("counterpart")
    if row["kind"] == "joined":
        return f"took over {service}" + (f" from {other}" if other else "")
    return f"handed {service} to {other}" if other else f"gave up {service}"


def reorganisation_shapes(events: pl.DataFrame) -> list[dict]:
    """A dashed vertical line per reorganisation day, labelled with what changed that day."""
    shapes = []
    rows = sorted(events.to_dicts(), key=lambda r: (r["date"], r["service"], r["kind"]))
    for day, group in groupby(rows, key=lambda r: r["date"]):
        text = f"{_day(day)}: " + "; ".join(describe(r) for r in group)
        shapes.append({
            "type": "line", "xref": "x", "x0": _day(day), "x1": _day(day),
            "yref": "paper", "y0": 0, "y1": 1, "layer": "above", "name": NAME, "line": LINE,
            "label": {"text": html.escape(_cut(text), quote=False), "textposition": "end",
                      "textangle": 0, "xanchor": "left",
                      "font": {"size": 10, "color": LINE["color"]}},
        })
    return shapes


def _cut(text: str, limit: int = 80) -> str:
    """A label no longer than `limit` characters: service names can be any length."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _day(value: dt.date) -> str:
    return value.isoformat()
