"""Plotly figures of a team page and of the index, as plain figure dicts.

Figures are built as dicts (`{"data": [...], "layout": {...}}`) rather than graph objects: the
graph objects validate every property on every update, which made a page take seconds. The
tests pass every figure through `plotly.graph_objects.Figure` to validate it.

Every string that comes from data (team, service, SLO, incident title, ids) goes through `esc`
before it reaches a figure: plotly.js renders text with a small HTML-like markup, so `<`, `>` and
`&` must arrive as entities (it decodes `&lt;`, `&gt;`, `&amp;` and shows them as text).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable
from functools import lru_cache
from itertools import chain, groupby
from operator import itemgetter

import polars as pl

from metrics import bands as dora_bands
from metrics.registry import BY_COLUMN
from pipelines.reports.specs import (
    ROLLING_WEEKS,
    MetricSpec,
    Point,
    format_value,
    points,
    rolling_median,
    value_writer,
)

BLUE = "#2458a6"
MUTED = "#a7afb9"
ORANGE = "#c2571a"
RED = "#c62828"
GREEN = "#2e7d32"
PURPLE = "#6a3d9a"
BAND_FILL = "rgba(36, 88, 166, 0.16)"
SEGMENT_COLORS = {"coding": "#2458a6", "pickup": "#c2571a", "review": "#2e7d32",
                  "deploy": "#6a3d9a"}
BAND_PREFIX = "dora-band"
MUTED_OPACITY = 0.4

Figure = dict  # {"data": [trace dicts], "layout": {...}}

AXIS = {"gridcolor": "#eceff3", "linecolor": "#c9d0d8", "zerolinecolor": "#c9d0d8"}

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def esc(value: object) -> str:
    """A data string made safe for plotly.js text (which understands a few HTML tags)."""
    return html.escape(str(value), quote=False)


def short(value: object, limit: int = 40) -> str:
    """A name cut to `limit` characters with an ellipsis, escaped: names can be any length,
    and a chart's axis or legend must not grow with them (the hover shows more)."""
    text = str(value)
    return esc(text if len(text) <= limit else text[: limit - 1] + "…")


def column_groups(frame: pl.DataFrame, keys: list[str],
                  columns: list[str]) -> dict[tuple, dict[str, list]]:
    """`columns` of `frame` as plain lists per value of `keys` (a tuple; rows keep their
    order): a group of rows is read as lists anyway, and slicing lists costs nothing next to a
    frame per group (an SLO has a point per week for years). The report queries sort by the
    keys, so a group is usually one run of rows, taken as one slice of each list."""
    cols = {c: frame.get_column(c).to_list() for c in columns}
    runs: dict[tuple, list[tuple[int, int]]] = {}
    start = 0
    for key, rows in groupby(zip(*(frame.get_column(k).to_list() for k in keys), strict=True)):
        end = start + sum(1 for _ in rows)
        runs.setdefault(key, []).append((start, end))
        start = end
    return {key: {c: v[spans[0][0]:spans[0][1]] if len(spans) == 1
                  else [x for a, b in spans for x in v[a:b]] for c, v in cols.items()}
            for key, spans in runs.items()}


@lru_cache(maxsize=8192)  # pages write the same few hundred periods thousands of times
def _day(value: dt.date) -> str:
    return value.isoformat()


@lru_cache(maxsize=8192)
def _period_label(period: dt.date, grain: str) -> str:
    return f"week of {period.isoformat()}" if grain == "week" else period.strftime("%B %Y")


def _layout(height: int, y_title: str = "", rate: bool = False, **extra: object) -> dict:
    yaxis = {**AXIS, "title": {"text": y_title}, "rangemode": "tozero", "zeroline": True}
    if rate:
        yaxis["tickformat"] = ".0%"
    return {
        "height": height, "hovermode": "closest", "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff", "hoverlabel": {"align": "left"},
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "legend": {"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "xaxis": {**AXIS}, "yaxis": yaxis, **extra,
    }


def _grain_buttons(traces: list[dict]) -> list[dict]:
    """Weekly / Monthly buttons: traces carry meta.grain; bands (shapes) are not touched."""
    grains = [(t.get("meta") or {}).get("grain") for t in traces]
    return [{
        "type": "buttons", "direction": "right", "showactive": True, "active": 0,
        "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom",
        "pad": {"r": 0, "t": 0}, "font": {"size": 11},
        "buttons": [
            {"label": label, "method": "restyle",
             "args": [{"visible": [g in (grain, None) for g in grains]}]}
            for label, grain in (("Weekly", "week"), ("Monthly", "month"))
        ],
    }]


def _interval_band(series: list[Point], grain: str, name: str) -> dict:
    """The 95% interval as filled polygons, one per run of periods that have an interval."""
    xs: list[str | None] = []
    ys: list[float | None] = []
    half = dt.timedelta(days=2 if grain == "week" else 8)
    run: list[Point] = []

    def flush() -> None:
        if not run:
            return
        if len(run) == 1:
            p = run[0]
            xs.extend([_day(p.period - half), _day(p.period + half), _day(p.period + half),
                       _day(p.period - half), _day(p.period - half), None])
            ys.extend([p.high, p.high, p.low, p.low, p.high, None])
        else:
            xs.extend([_day(p.period) for p in run] + [_day(p.period) for p in reversed(run)])
            ys.extend([p.high for p in run] + [p.low for p in reversed(run)])
            xs.extend([_day(run[0].period), None])
            ys.extend([run[0].high, None])
        run.clear()

    for p in series:
        if p.low is not None and p.high is not None:
            run.append(p)
        else:
            flush()
    flush()
    return {"type": "scatter", "x": xs, "y": ys, "fill": "toself", "fillcolor": BAND_FILL,
            "mode": "lines", "line": {"width": 0}, "hoverinfo": "skip", "name": name,
            "meta": {"grain": grain, "role": "interval"}}


def _points_trace(series: list[Point], spec: MetricSpec, grain: str, min_sample: int,
                  name: str, lines: bool) -> dict:
    """The points of one grain: each with its hover and its records' caption, all of a point's
    text written in one pass (a long history's page has about a thousand points)."""
    write = value_writer(spec)
    title, noun, ci = spec.title, spec.sample_noun, bool(spec.ci)
    count_kind = spec.kind == "count"
    faded = f"<br>low sample (fewer than {min_sample}): shown faded"
    days = [_day(p.period) for p in series]
    hovers: list[str] = []
    captions: list[list[str]] = []
    for day, (period, value, samples, low, high, low_sample, count, _rolling) in zip(
            days, series, strict=True):
        label = _period_label(period, grain)
        text = "–" if value is None else write(value)  # the period and value as written
        hover = f"<b>{label}</b><br>{title}: {text}"
        caption = f"{title}, {label}: {text}"  # plain text, set as text (never parsed)
        if count_kind:
            hover += f"<br>{count} deployments on {samples} deploy days"
        elif samples is not None:
            hover += f"<br>n = {samples} {noun}"
            caption += f" (n = {samples} {noun})"
        if low is not None and high is not None:
            hover += f"<br>95% interval {write(low)} – {write(high)}"
        elif ci and value is not None:
            hover += "<br>95% interval: too few values"
        hovers.append(hover + faded if low_sample else hover)
        captions.append([day, caption])
    # a point's style, faded where its sample is low (each list made in one pass)
    faint = [p.low_sample for p in series]
    colors = [MUTED if f else BLUE for f in faint]
    opacity = [MUTED_OPACITY if f else 1.0 for f in faint]
    symbols = ["circle-open" if f else "circle" for f in faint]
    return {
        "type": "scatter",
        "x": days,
        "y": [p.value for p in series],
        "mode": "lines+markers" if lines else "markers",
        "name": name,
        "showlegend": False,  # the legend shows the two point styles instead (_legend_keys)
        "line": {"color": BLUE, "width": 1.5},
        "marker": {
            "size": 8, "color": colors, "opacity": opacity, "symbol": symbols,
            "line": {"width": 1.5, "color": colors},
        },
        "hovertext": hovers,
        "hoverinfo": "text",
        "customdata": captions,
        "meta": {"grain": grain, "role": "points", "metric": spec.key},
    }


def _legend_keys(spec: MetricSpec, min_sample: int) -> list[dict]:
    """Legend entries for the point styles (a trace's legend takes its first point's style)."""
    keys = [{"type": "scatter", "x": [None], "y": [None], "mode": "markers",
             "name": "period value", "marker": {"color": BLUE, "size": 8},
             "hoverinfo": "skip", "meta": {"role": "legend"}}]
    if spec.low_sample:
        keys.append({"type": "scatter", "x": [None], "y": [None], "mode": "markers",
                     "name": f"fewer than {min_sample} {spec.sample_noun}",
                     "marker": {"color": MUTED, "size": 8, "symbol": "circle-open",
                                "opacity": MUTED_OPACITY},
                     "hoverinfo": "skip", "meta": {"role": "legend"}})
    return keys


_HIGH = itemgetter(Point._fields.index("high"))


def _y_max(values: Iterable[float | None], rate: bool) -> float:
    top = max([v for v in values if v is not None], default=0.0)
    if rate:
        return min(max(top * 1.15, 0.05), 1.05)
    return top * 1.12 if top > 0 else 1.0


def band_shapes(metric: str, year: int, y_max: float) -> list[dict]:
    """DORA bands of `year` for `metric`, clipped to the visible range, faint, behind the data.

    Bands with the same published range (2021's change failure rate, 2023's low and medium) are
    drawn once with both names. Point bands (change failure rate from 2023) are dotted lines.
    """
    merged: dict[tuple[float, float], list[dora_bands.Band]] = {}
    for band in dora_bands.bands(year, metric):
        merged.setdefault((band.low, band.high), []).append(band)
    shapes = []
    for i, ((low, high), group) in enumerate(merged.items()):
        names = " / ".join(b.name for b in group)
        text = f"DORA {year} {names}: {group[0].published}"
        label = {"text": esc(text), "font": {"size": 10, "color": "#7d8792"}}
        if low == high:
            if low > y_max:
                continue
            shapes.append({
                "type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
                "y0": low, "y1": low, "layer": "below", "name": f"{BAND_PREFIX}-{i}",
                "line": {"color": "rgba(90, 100, 112, 0.45)", "width": 1, "dash": "dot"},
                "label": {**label, "textposition": "end"},
            })
            continue
        top = min(high, y_max)
        if low >= top:
            continue
        shapes.append({
            "type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": "y",
            "y0": max(low, 0.0), "y1": top, "layer": "below", "name": f"{BAND_PREFIX}-{i}",
            "fillcolor": "rgba(90, 100, 112, 0.07)" if i % 2 == 0
            else "rgba(90, 100, 112, 0.13)",
            "line": {"width": 0},
            "label": {**label, "textposition": "top left"},
        })
    return shapes


def metric_figure(spec: MetricSpec, weekly: pl.DataFrame | list[Point],
                  monthly: pl.DataFrame | list[Point], year: int, min_sample: int) -> Figure:
    """Weekly points with a rolling median and the 95% interval as a band; the monthly view
    behind a button; low-sample periods faded; DORA bands of `year` faintly behind. Takes the
    team's rows of each grain, or their `points` already read."""
    wk = weekly if isinstance(weekly, list) else points(weekly, spec, "week")
    mo = monthly if isinstance(monthly, list) else points(monthly, spec, "month")
    # the rolling median comes with the rows (computed for all teams at once), else here
    has_rolling = f"{spec.key}__rolling" in (weekly.columns if isinstance(weekly, pl.DataFrame)
                                            else []) or any(p.rolling is not None for p in wk)
    roll = ([p.rolling for p in wk] if has_rolling else rolling_median([p.value for p in wk]))
    traces: list[dict] = []
    if spec.ci:
        traces.append(_interval_band(wk, "week", "95% interval"))
    weekly_points = _points_trace(wk, spec, "week", min_sample, "weekly", lines=False)
    traces.append(weekly_points)
    days, write = weekly_points["x"], value_writer(spec)
    traces.append({
        "type": "scatter", "x": list(days), "y": roll, "mode": "lines",
        "name": f"{ROLLING_WEEKS}-week rolling median", "line": {"color": ORANGE, "width": 2.5},
        "hovertext": [f"{ROLLING_WEEKS}-week rolling median to {day}: "
                      + ("–" if r is None else write(r))
                      for day, r in zip(days, roll, strict=True)],
        "hoverinfo": "text", "meta": {"grain": "week", "role": "rolling"}})
    if spec.ci:
        traces.append(_interval_band(mo, "month", "95% interval"))
    monthly_points = _points_trace(mo, spec, "month", min_sample, "monthly", lines=True)
    traces.append(monthly_points)
    for trace in traces:
        trace["visible"] = trace["meta"]["grain"] == "week"
    traces += _legend_keys(spec, min_sample)
    rate = spec.kind == "rate"
    # the values the traces hold already, the highs read positionally (a page has thousands)
    y_max = _y_max(chain(weekly_points["y"], monthly_points["y"], map(_HIGH, wk), map(_HIGH, mo),
                         roll), rate)
    layout = _layout(360, spec.axis_title, rate=rate,
                     shapes=band_shapes(spec.band, year, y_max) if spec.band else [],
                     updatemenus=_grain_buttons(traces))
    layout["yaxis"].update(range=[0, y_max], autorange=False)
    return {"data": traces, "layout": layout}


def breakdown_figure(breakdown: pl.DataFrame) -> Figure:
    """Median coding, pickup, review and deploy time per period (they need not add up)."""
    traces = []
    columns = ["period_start", *(f"{s}_{c}" for s in SEGMENT_COLORS
                                 for c in ("p50_hours", "samples"))]
    parts = column_groups(breakdown, ["grain"], columns)
    for grain in ("week", "month"):
        rows = parts.get((grain,), {c: [] for c in columns})  # sorted by period in SQL
        periods = rows["period_start"]
        for segment, color in SEGMENT_COLORS.items():
            values = rows[f"{segment}_p50_hours"]
            counts = rows[f"{segment}_samples"]
            traces.append({
                "type": "scatter", "x": [_day(p) for p in periods], "y": values,
                "mode": "lines+markers", "name": segment, "legendgroup": segment,
                "showlegend": grain == "week", "line": {"color": color, "width": 2},
                "marker": {"size": 5},
                "hovertext": [
                    f"<b>{_period_label(p, grain)}</b><br>{segment}: "
                    + ("–" if v is None else f"{v:.1f} h") + f"<br>n = {n} changes"
                    for p, v, n in zip(periods, values, counts, strict=True)],
                "hoverinfo": "text", "visible": grain == "week",
                "customdata": [[_day(p), f"Changes delivered, {_period_label(p, grain)}"]
                               for p in periods],
                "meta": {"grain": grain, "role": segment, "metric": "changes"}})
    layout = _layout(340, "hours (median of each segment)", updatemenus=_grain_buttons(traces))
    return {"data": traces, "layout": layout}


def _esc_expr(expr: pl.Expr) -> pl.Expr:
    """`esc` as a polars expression: the same three entities, in one pass over the text (each
    character is replaced once, so an `&` written for `<` is never escaped again)."""
    return expr.str.replace_many(["&", "<", ">"], ["&amp;", "&lt;", "&gt;"])


def _joined(column: str) -> pl.Expr:
    """`', '.join(value or [])` of a list column, escaped."""
    return _esc_expr(pl.col(column).list.join(", ").fill_null(""))


def _truthy(column: str) -> pl.Expr:
    """Python truthiness of a bool, string or list column (null, false, "" and [] are false)."""
    return pl.col(column).fill_null(False)


def deployment_marks(deployments: pl.DataFrame) -> pl.DataFrame:
    """Per deployment, what its timeline marker shows: `x` (minute), `y` (escaped service),
    `hover`, `week` (Monday of its week) and `kind` (see `deployment_kind`), built for all
    rows at once in polars (a page can have thousands; the reports mark every team's at once)."""
    d = deployments
    if d.height == 0:
        return pl.DataFrame(schema={"x": pl.String, "y": pl.String, "hover": pl.String,
                                    "week": pl.String, "kind": pl.String, "failed": pl.Boolean})
    services = d["service"].unique().to_list()
    shown = {s: esc(s) for s in services}
    cut = {s: short(s, 120) for s in services}
    reasons = pl.col("rework_reasons").fill_null([])
    rollback = (pl.col("rolls_back").fill_null("") != "") | reasons.list.contains("rollback") \
        | reasons.list.contains("implicit_rollback")
    fix = ((pl.col("fixes").fill_null("") != "") | pl.col("hotfix").fill_null(False)
           | reasons.list.contains("fix") | reasons.list.contains("hotfix"))
    d = d.with_columns(pl.col("finished_at_utc").dt.strftime("%Y-%m-%d %H:%M").alias("_minute"))
    minute = pl.col("_minute")  # written once, for `x` and the hover
    # the lines every marker has...
    head = [
        pl.concat_str([pl.lit("<b>"), _esc_expr(pl.col("id")), pl.lit("</b>")]),
        pl.concat_str([pl.col("service").replace_strict(cut, return_dtype=pl.String),
                       pl.lit(" · "), minute, pl.lit(" UTC")]),
        pl.concat_str([pl.lit("revision "),
                       _esc_expr(pl.col("revision").fill_null("").replace("", "unknown")
                                 .str.slice(0, 12))]),
    ]
    # ...and those only some have, written for those rows alone (a tenth of them or so)
    says = {"baseline": _truthy("baseline"), "failed": _truthy("failed"),
            "rework": _truthy("rework"), "rolls_back": pl.col("rolls_back").fill_null("") != "",
            "fixes": pl.col("fixes").fill_null("") != "",
            "incidents": pl.col("incident_ids").list.len().fill_null(0) > 0}
    at = d.select(pl.arg_where(pl.any_horizontal(says.values()))).to_series()
    some = d[at]
    # `:.1f` as Python writes it (polars rounds halves differently), for the failed rows only
    restored = [None if v is None else f"restored after {v:.1f} h"
                for v in some["fdrt_hours"].to_list()]
    extra = some.select(pl.concat_str([
        pl.when(says["baseline"]).then(pl.lit("first deployment (baseline)")),
        pl.when(says["failed"]).then(pl.concat_str([
            pl.lit("failed: "), _joined("failure_reasons"), pl.lit("; "),
            pl.Series("restored", restored, pl.String).fill_null("not recovered")])),
        pl.when(says["rework"]).then(pl.concat_str([pl.lit("rework: "),
                                                    _joined("rework_reasons")])),
        pl.when(says["rolls_back"]).then(
            pl.concat_str([pl.lit("rolls back "), _esc_expr(pl.col("rolls_back"))])),
        pl.when(says["fixes"]).then(
            pl.concat_str([pl.lit("fixes "), _esc_expr(pl.col("fixes"))])),
        pl.when(says["incidents"]).then(
            pl.concat_str([pl.lit("incidents: "), _joined("incident_ids")])),
    ], separator="<br>", ignore_nulls=True)).to_series()
    lines = pl.Series("extra", [None] * d.height, pl.String).scatter(at, extra)
    return d.select(
        x=minute,
        y=pl.col("service").replace_strict(shown, return_dtype=pl.String),
        hover=pl.concat_str([*head, lines], separator="<br>", ignore_nulls=True),
        week=pl.col("finished_at_utc").dt.truncate("1w").dt.strftime("%Y-%m-%d"),
        kind=pl.when(rollback).then(pl.lit("rollback")).when(fix).then(pl.lit("fix"))
        .otherwise(pl.lit("deployment")),
        failed=_truthy("failed"),
    )


def deployment_kind(row: dict) -> str:
    """"rollback", "fix" (fix or hotfix) or "deployment", for the timeline's markers."""
    reasons = set(row["rework_reasons"] or [])
    if row["rolls_back"] or reasons & {"rollback", "implicit_rollback"}:
        return "rollback"
    if row["fixes"] or row["hotfix"] or reasons & {"fix", "hotfix"}:
        return "fix"
    return "deployment"


def _short_expr(expr: pl.Expr, limit: int) -> pl.Expr:
    """`short` as a polars expression (characters, as Python counts them)."""
    cut = pl.concat_str([expr.str.slice(0, limit - 1), pl.lit("…")])
    return _esc_expr(pl.when(expr.str.len_chars() <= limit).then(expr).otherwise(cut))


def _filled(column: str) -> pl.Expr:
    """True where a string column has a non-empty value (Python truthiness)."""
    return pl.col(column).fill_null("") != ""


def incident_marks(incidents: pl.DataFrame) -> pl.DataFrame:
    """Per incident, what its timeline star shows: `x` (minute opened), `y` (escaped service),
    `hover`, `week` (Monday of the week it opened), and its bar's `end` (minute resolved),
    built for all rows at once in polars."""
    if incidents.height == 0:
        return pl.DataFrame(schema={"x": pl.String, "y": pl.String, "hover": pl.String,
                                    "week": pl.String, "end": pl.String})
    # `:.1f` as Python writes it (polars rounds halves differently)
    resolved = [None if v is None else f"resolved after {v:.1f} h"
                for v in incidents["restore_hours"].to_list()]
    cause = pl.col("cause").fill_null("").replace("", "unknown")
    opened = pl.col("opened_at_utc").dt.strftime("%Y-%m-%d %H:%M")
    lines = [
        pl.concat_str([pl.lit("<b>incident "), _esc_expr(pl.col("id")), pl.lit("</b>")]),
        pl.when(_filled("title")).then(_short_expr(pl.col("title"), 120)),
        pl.concat_str([_short_expr(pl.col("service"), 120), pl.lit(" · opened "), opened,
                       pl.lit(" UTC")]),
        pl.Series("resolved", resolved, pl.String).fill_null("not resolved"),
        pl.concat_str([pl.lit("cause: "), _esc_expr(cause),
                       pl.when(_filled("severity")).then(pl.concat_str(
                           [pl.lit(", severity "), _esc_expr(pl.col("severity"))]))
                       .otherwise(pl.lit(""))]),
        pl.when(_filled("attributed_to")).then(pl.concat_str([
            pl.lit("attributed to "), _esc_expr(pl.col("attributed_to")), pl.lit(" (by "),
            _esc_expr(pl.col("attribution_rule").fill_null("None")), pl.lit(")")]))
        .when(cause.is_in(["change", "unknown"])).then(pl.lit("not attributed to a deployment")),
    ]
    return incidents.select(
        x=opened,
        y=_esc_expr(pl.col("service")),
        hover=pl.concat_str(lines, separator="<br>", ignore_nulls=True),
        week=pl.col("opened_at_utc").dt.truncate("1w").dt.strftime("%Y-%m-%d"),
        end=pl.col("resolved_at_utc").dt.strftime("%Y-%m-%d %H:%M"),
    )


def _week_captions(weeks: list[str], title: str) -> list[list[str]]:
    """Each marker's [week, records caption]: one list per week, shared by its markers."""
    captions = {w: [w, f"{title}, week of {w}"] for w in set(weeks)}
    return [captions[w] for w in weeks]


# The timeline's deployment traces: which marked rows each draws (see `deployment_marks`)
MARKER_SETS = {"deployment": pl.col("kind") == "deployment",
               "rollback": pl.col("kind") == "rollback", "fix": pl.col("kind") == "fix",
               "failed": pl.col("failed")}


def marker_sets(drawn: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The rows of `deployment_marks` each deployment trace of the timeline draws."""
    return {role: drawn.filter(rows) for role, rows in MARKER_SETS.items()}


def timeline_figure(deployments: pl.DataFrame, incidents: pl.DataFrame,
                    drawn: dict[str, pl.DataFrame] | None = None,
                    inc: pl.DataFrame | None = None) -> Figure:
    """Every deployment per service; failures ringed red; rollbacks, fixes and hotfixes marked;
    incidents as stars with a bar to their resolution. `drawn` and `inc`: the rows'
    `marker_sets` and `incident_marks` when already worked out (for all teams at once)."""
    inc = incident_marks(incidents) if inc is None else inc
    services = sorted(set(deployments["service"].to_list()) | set(incidents["service"].to_list()),
                      key=lambda s: (s.casefold(), s))
    styles = {
        "deployment": ("deployment", {"symbol": "circle", "size": 7, "color": BLUE,
                                      "opacity": 0.75}),
        "rollback": ("rollback", {"symbol": "triangle-down", "size": 11, "color": ORANGE}),
        "fix": ("fix or hotfix", {"symbol": "diamond", "size": 10, "color": GREEN}),
        "failed": ("failed", {"symbol": "circle-open", "size": 16, "color": RED,
                              "line": {"width": 2}}),
    }
    drawn = marker_sets(deployment_marks(deployments)) if drawn is None else drawn
    traces = []
    for role, (name, marker) in styles.items():
        # a click opens the records of `metric` for the marker's week
        metric = {"deployment": "deployments",
                  "failed": "change_failure_rate"}.get(role, "rework_rate")
        chosen = drawn[role]
        traces.append({
            "type": "scatter", "x": chosen["x"].to_list(), "y": chosen["y"].to_list(),
            "mode": "markers", "name": name, "marker": marker,
            "hovertext": chosen["hover"].to_list(), "hoverinfo": "text",
            "customdata": _week_captions(chosen["week"].to_list(), BY_COLUMN[metric].title),
            "meta": {"role": role, "grain": "week", "metric": metric}})
    bars_x: list[str | None] = []
    bars_y: list[str | None] = []
    for start, end, service in inc.filter(pl.col("end").is_not_null()).select(
            "x", "end", "y").rows():
        bars_x += [start, end, None]
        bars_y += [service, service, None]
    traces.append({"type": "scatter", "x": bars_x, "y": bars_y, "mode": "lines",
                   "name": "incident open → resolved", "line": {"color": PURPLE, "width": 4},
                   "opacity": 0.45, "hoverinfo": "skip", "meta": {"role": "incident_span"}})
    traces.append({"type": "scatter", "x": inc["x"].to_list(), "y": inc["y"].to_list(),
                   "mode": "markers",
                   "name": "incident", "marker": {"symbol": "star", "size": 12,
                                                  "color": PURPLE},
                   "hovertext": inc["hover"].to_list(), "hoverinfo": "text",
                   "customdata": _week_captions(inc["week"].to_list(), "Incidents opened"),
                   "meta": {"role": "incident", "grain": "week", "metric": "incidents_opened"}})
    layout = _layout(160 + 46 * max(len(services), 1))
    categories = [esc(s) for s in reversed(services)]
    # ticks show names cut short: a long service name must not squeeze the plot area
    layout["yaxis"] = {**AXIS, "type": "category", "categoryorder": "array",
                       "categoryarray": categories, "tickmode": "array",
                       "tickvals": categories,
                       "ticktext": [short(s, 32) for s in reversed(services)],
                       "automargin": True}
    layout["xaxis"] = {**AXIS, "type": "date"}
    layout["legend"]["y"] = -0.25 if len(services) < 3 else -0.12
    return {"data": traces, "layout": layout}


# What the timeline's caption counts, per team: deployments counted where true (a null, from a
# null list, counts as not), and incidents
_DEPLOYMENT_COUNTS = [
    pl.len().alias("deployments"),
    pl.col("failed").sum().alias("failed"),
    (pl.col("rolls_back").is_not_null() | pl.col("rework_reasons").list.contains("rollback")
     | pl.col("rework_reasons").list.contains("implicit_rollback")).sum().alias("rollbacks"),
    (pl.col("fixes").is_not_null() | pl.col("hotfix")).sum().alias("fixes")]
_INCIDENT_COUNTS = [pl.len().alias("incidents"),
                    pl.col("resolved_at_utc").null_count().alias("unresolved")]


def timeline_summaries(deployments: pl.DataFrame, incidents: pl.DataFrame) -> dict[str, str]:
    """The timeline's caption of each team of `deployments` and `incidents` (rows of several
    teams, with their `team`), counted for all of them in one pass; a team without
    deployments is not in it (see `timeline_summary`)."""
    counts = deployments.group_by("team").agg(_DEPLOYMENT_COUNTS).join(
        incidents.group_by("team").agg(_INCIDENT_COUNTS), on="team", how="left")
    return {row[0]: _summary(*row[1:]) for row in counts.rows()}


def timeline_summary(deployments: pl.DataFrame, incidents: pl.DataFrame) -> str:
    """The timeline's caption: how many deployments failed, rolled back or fixed, and how many
    incidents are not resolved (one team's rows)."""
    if deployments.height == 0:
        return "No production deployments recorded."
    (_, failed, rollbacks, fixes), (_, unresolved) = (
        deployments.select(_DEPLOYMENT_COUNTS).row(0), incidents.select(_INCIDENT_COUNTS).row(0))
    return _summary(deployments.height, failed, rollbacks, fixes, incidents.height, unresolved)


def _summary(deployments: int, failed: int, rollbacks: int, fixes: int,
             incidents: int | None, unresolved: int | None) -> str:
    return (f"{deployments} deployments, {failed} failed; {rollbacks} rollbacks, {fixes} fixes "
            f"or hotfixes; {incidents or 0} incidents ({unresolved or 0} not resolved).")


def _pct(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


SLO_COLUMNS = ["period_start", "service", "attainment", "objective", "met", "good", "total",
               "error_budget_remaining"]


def slo_columns(slos: pl.DataFrame) -> dict[tuple, dict[str, list]]:
    """The SLO rows of a page as lists per (SLO, grain), read once for its figure and table."""
    return column_groups(slos, ["slo", "grain"], SLO_COLUMNS)


@lru_cache(maxsize=8192)
def _slo_caption(day: str, label: str) -> list[str]:
    """A point's [period, records caption] in the SLO chart (shared: never changed)."""
    return [day, f"SLOs met, {label}"]


def slo_figure(slos: pl.DataFrame, parts: dict[tuple, dict[str, list]] | None = None) -> Figure:
    """Attainment per SLO against its objective (dashed), and the error budget remaining.
    `parts`: the rows' `slo_columns` when already read."""
    palette = [BLUE, ORANGE, GREEN, PURPLE, "#8c564b", "#17becf", "#7f7f7f"]
    names = sorted(set(slos["slo"].to_list()), key=lambda s: (s.casefold(), s))
    traces = []
    parts = slo_columns(slos) if parts is None else parts
    empty: dict[str, list] = {c: [] for c in SLO_COLUMNS}
    shown = {slo: (short(slo, 120), short(slo), esc(slo)) for slo in names}  # for both grains
    for grain in ("week", "month"):
        for i, slo in enumerate(names):
            long_name, name, group = shown[slo]
            color = palette[i % len(palette)]
            rows = parts.get((slo, grain), empty)  # sorted by period in SQL
            head = f"<b>{long_name}</b> · "
            objectives = {v: _pct(v) for v in set(rows["objective"])}
            # each point's text in one pass (`_pct` inline: an SLO has a point a week for years)
            starts = rows["period_start"]
            periods = [_day(start) for start in starts]
            labels = [_period_label(start, grain) for start in starts]
            hover = [
                f"{head}{label}<br>"
                f"attainment {'–' if att is None else f'{att:.2%}'} "
                f"(objective {objectives[obj]}): {'met' if met else 'missed'}<br>"
                f"{good:,} good of {total:,}<br>error budget remaining "
                f"{'–' if budget is None else f'{budget:.0%}'}"
                for label, att, obj, met, good, total, budget in zip(
                    labels, rows["attainment"], rows["objective"], rows["met"], rows["good"],
                    rows["total"], rows["error_budget_remaining"], strict=True)]
            # the same period's caption for every SLO: one list, written as often as it is used
            captions = [_slo_caption(day, label) for day, label in zip(periods, labels,
                                                                         strict=True)]
            common = {"legendgroup": group, "visible": grain == "week",
                      "hoverinfo": "text", "hovertext": hover, "customdata": captions,
                      "meta": {"grain": grain, "metric": "slo_met_ratio"}}
            traces.append({
                "type": "scatter", "x": periods, "y": rows["attainment"],
                "mode": "lines+markers", "name": name, "showlegend": grain == "week",
                "line": {"color": color}, "xaxis": "x", "yaxis": "y", **common,
                "meta": {**common["meta"], "role": "attainment"}})
            if periods:
                objective = rows["objective"][0]
                traces.append({
                    "type": "scatter", "x": [periods[0], periods[-1]],
                    "y": [objective, objective], "mode": "lines",
                    "name": f"{name} objective", "showlegend": False,
                    "line": {"color": color, "dash": "dash", "width": 1},
                    "hoverinfo": "skip", "legendgroup": group, "visible": grain == "week",
                    "xaxis": "x", "yaxis": "y", "meta": {"grain": grain, "role": "objective"}})
            traces.append({
                "type": "bar", "x": periods, "y": rows["error_budget_remaining"],
                "name": name, "showlegend": False, "marker": {"color": color},
                "xaxis": "x2", "yaxis": "y2", **common,
                "meta": {**common["meta"], "role": "budget"}})
    layout = _layout(540, updatemenus=_grain_buttons(traces), barmode="group")
    layout["yaxis"] = {**AXIS, "domain": [0.56, 1], "tickformat": ".2%",
                       "title": {"text": "attainment"}}
    layout["yaxis2"] = {**AXIS, "domain": [0, 0.42], "tickformat": ".0%", "anchor": "x2",
                        "title": {"text": "error budget left"}}
    layout["xaxis"] = {**AXIS, "anchor": "y", "matches": "x2", "showticklabels": False}
    layout["xaxis2"] = {**AXIS, "anchor": "y2"}
    layout["shapes"] = [{"type": "line", "xref": "x2 domain", "x0": 0, "x1": 1, "yref": "y2",
                         "y0": 0, "y1": 0, "line": {"color": "#555", "width": 1}}]
    layout["annotations"] = [
        {"text": "attainment per SLO (objective dashed)", "xref": "paper", "yref": "paper",
         "x": 0, "y": 1.0, "xanchor": "left", "yanchor": "bottom", "showarrow": False},
        {"text": "error budget remaining", "xref": "paper", "yref": "paper", "x": 0, "y": 0.43,
         "xanchor": "left", "yanchor": "bottom", "showarrow": False}]
    return {"data": traces, "layout": layout}


def coverage_items(coverage: dict, quarantined: int, loaded: int) -> list[dict]:
    """The coverage shares (numerator, denominator, share) a team page shows."""
    def item(label: str, num: int, den: int, note: str) -> dict:
        return {"label": label, "num": num, "den": den,
                "share": (num / den) if den else None, "note": note}

    c = coverage or {}
    return [
        item("deployments with a known revision", c.get("deployments_with_revision", 0),
             c.get("deployments", 0), "needed to link changes to the deployment that "
             "delivered them"),
        item("changes linked to a pull request", c.get("changes_from_prs", 0),
             c.get("changes", 0), "the lead-time breakdown needs pull-request data"),
        item("incidents attributed to a deployment", c.get("attributed_incidents", 0),
             c.get("attributable_incidents", 0), "of incidents caused by a change or of "
             "unknown cause; the rest cannot count towards change failure rate"),
        item("records quarantined (whole organisation)", quarantined, quarantined + loaded,
             f"{c.get('quarantined', 0)} of them name this team's services, repos or SLOs; "
             "bad input is left out of every metric"),
    ]


def coverage_figure(items: list[dict]) -> Figure:
    """Horizontal bars of the coverage shares, with counts."""
    trace = {
        "type": "bar", "orientation": "h",
        "x": [i["share"] if i["share"] is not None else 0 for i in items],
        "y": [i["label"] for i in items],
        "marker": {"color": [BLUE, BLUE, BLUE, RED]},
        "text": [f"{i['num']:,} of {i['den']:,}" if i["den"] else "no records" for i in items],
        "textposition": "auto",
        "hovertext": [f"{i['label']}: {_pct(i['share'], 1)} ({i['num']:,} of {i['den']:,})"
                      for i in items],
        "hoverinfo": "text", "meta": {"role": "coverage"}}
    layout = _layout(240)
    layout["margin"]["l"] = 260
    layout["xaxis"] = {**AXIS, "range": [0, 1], "tickformat": ".0%"}
    layout["yaxis"] = {**AXIS, "autorange": "reversed", "type": "category"}
    return {"data": [trace], "layout": layout}


def distribution_figure(spec: MetricSpec, team_monthly: pl.DataFrame,
                        org_monthly: pl.DataFrame) -> Figure:
    """How teams' monthly values are spread (teams are not named), with the organisation's
    own value computed from all records. Nothing identifies which team is where."""
    rows = team_monthly.filter(pl.col(spec.key).is_not_null()).sort("period_start")
    value = pl.col(spec.key).cast(pl.Float64)
    if spec.kind == "count":  # per week: a month's count over its days / 7
        value = value / (pl.col("period_start").dt.month_end().dt.day() / 7.0)
    rows = rows.select(pl.col("period_start").dt.to_string("%Y-%m-%d").alias("x"),
                       value.alias("y"))
    xs: list[str] = rows["x"].to_list()
    ys: list[float] = rows["y"].to_list()
    traces = [{
        "type": "box", "x": xs, "y": ys, "name": "spread over teams (not named)",
        "boxpoints": "all", "jitter": 0.4, "pointpos": 0,
        "marker": {"color": MUTED, "size": 5}, "line": {"color": "#6b7480"},
        "fillcolor": "rgba(167, 175, 185, 0.25)", "hoverinfo": "y",
        "meta": {"role": "spread"}}]
    if spec.kind != "count":
        org = points(org_monthly, spec, "month")
        traces.append({
            "type": "scatter", "x": [_day(p.period) for p in org], "y": [p.value for p in org],
            "mode": "lines+markers", "name": "whole organisation (all records)",
            "line": {"color": BLUE, "width": 2},
            "marker": {"color": [MUTED if p.low_sample else BLUE for p in org], "size": 7},
            "hovertext": [f"<b>{_period_label(p.period, 'month')}</b><br>organisation: "
                          f"{format_value(p.value, spec)}"
                          + (f"<br>n = {p.samples} {spec.sample_noun}"
                             if p.samples is not None else "") for p in org],
            "hoverinfo": "text", "meta": {"role": "organisation"}})
    layout = _layout(320, spec.axis_title, rate=spec.kind == "rate")
    layout["xaxis"]["type"] = "date"
    return {"data": traces, "layout": layout}
