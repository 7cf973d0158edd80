"""Writing the reports: one page per team and the index, from the warehouse (read-only).

`build_team_report` and `build_index` are what the Dagster assets `team_report` (partitioned by
team) and `report_index` call; `write_reports` calls both for every team (the CLI's `report`);
`report_stage` is the `reports` stage of `dora-pipeline run/demo`, which materialises the assets
in-process so the runs and their metadata show in Dagster.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from metrics.bands import SOURCES
from pipelines.config import DoraConfig
from pipelines.markdown import markdown_table
from pipelines.reports import figures as figs
from pipelines.reports.data import (
    UNASSIGNED,
    Overview,
    TeamData,
    load_overview,
    load_team,
    warehouse,
)
from pipelines.reports.page import (
    INDEX,
    ensure_plotly_js,
    figure_json,
    page_name,
    render,
    write_text,
)
from pipelines.reports.reorganisations import (
    describe,
    load_reorganisations,
    reorganisation_shapes,
)
from pipelines.reports.specs import (
    METRIC_SPECS,
    ROLLING_WEEKS,
    MetricSpec,
    format_value,
    points,
    trend_of,
    trend_sentence,
)

Progress = Callable[[str], None]
PARTITIONS = "teams"
_INVALID_KEY_PARTS = ("...", "\a", "\b", "\f", "\n", "\r", "\t", "\v", "\0")


# ---- teams and partition keys -----------------------------------------------------------------


def report_teams(config: DoraConfig) -> list[str]:
    """Every team with a page: alphabetical, then `unassigned` when it has records."""
    with warehouse(config) as conn:
        overview = load_overview(conn)
    return overview.teams + ([UNASSIGNED] if overview.has_unassigned else [])


def partition_key(team: str) -> str:
    """The `teams` partition key of a team: its name, unless Dagster cannot take that name."""
    if any(part in team for part in _INVALID_KEY_PARTS):
        return page_name(team).removeprefix("team-").removesuffix(".html")
    return team


def team_of_key(key: str, teams: list[str]) -> str:
    """The team a partition key stands for (the key itself when no team matches any more)."""
    return next((t for t in teams if partition_key(t) == key), key)


# ---- one team ----------------------------------------------------------------------------------


@dataclass
class TeamReport:
    """A written team page and what it says (for Dagster metadata and the CLI)."""

    team: str
    path: Path
    glance: list[dict] = field(default_factory=list)
    trends: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        rows = [(r["title"], r["value"], r["sample"], r["interval"], r["trend"])
                for r in self.glance]
        return markdown_table(rows, ["metric", "latest month", "sample", "95% interval",
                                     "trend"])


def _glance(spec: MetricSpec, data: TeamData, periods: int) -> dict:
    month = points(data.monthly, spec, "month")
    last = month[-1] if month else None
    if last is None:
        value = sample = interval = "–"
    else:
        value = format_value(last.value, spec)
        if spec.kind == "count":
            sample = f"{last.count} deployments"
        else:
            sample = "–" if last.samples is None else f"{last.samples} {spec.sample_noun}"
            if last.low_sample:
                sample += " (low)"
        interval = (f"{format_value(last.low, spec)} – {format_value(last.high, spec)}"
                    if last.low is not None and last.high is not None else "–")
    weekly = points(data.weekly, spec, "week")
    return {"title": spec.title, "value": value, "sample": sample, "interval": interval,
            "trend": trend_sentence(weekly, spec, periods)}


def _caption(spec: MetricSpec, config: DoraConfig) -> str:
    parts = ["Dots: weekly values"]
    if spec.low_sample:
        parts.append(f"faded open circles: fewer than {config.min_sample} {spec.sample_noun} "
                     "(low sample)")
    parts.append(f"orange line: {ROLLING_WEEKS}-week rolling median")
    if spec.ci:
        parts.append("shaded: 95% interval")
    parts.append("the Monthly button switches to the monthly view")
    text = "; ".join(parts) + "."
    if spec.band:
        text += (f" Grey bands: the DORA {config.report_year} clusters, context only "
                 "(the checkbox at the top hides them).")
    return text


def _anchor(spec: MetricSpec) -> str:
    return spec.key.replace("_", "-")


def _team_context(config: DoraConfig, overview: Overview, data: TeamData,
                  reorganisations: pl.DataFrame) -> tuple[dict[str, Any], list[dict]]:
    periods = config.trend_periods
    figures: list[dict] = []
    markers = reorganisation_shapes(reorganisations)

    def add(fig: Any, name: str, dated: bool = True) -> str:
        """Add a figure; time-series figures also mark the days the team's services changed
        hands (from then on its line measures a different set of services)."""
        if dated and markers:
            fig["layout"]["shapes"] = [*fig["layout"].get("shapes", []), *markers]
        fid = f"fig-{name}"
        figures.append({"id": fid, "json": figure_json(fig)})
        return fid

    metrics = []
    for spec in METRIC_SPECS:
        fig = figs.metric_figure(spec, data.weekly, data.monthly, config.report_year,
                                 config.min_sample)
        metrics.append({
            "anchor": _anchor(spec), "title": spec.title, "explain": spec.explain,
            "trend": trend_sentence(points(data.weekly, spec, "week"), spec, periods),
            "caption": _caption(spec, config), "figure_id": add(fig, _anchor(spec)),
        })
    has_breakdown = data.breakdown.height > 0 and any(
        data.breakdown[f"{s}_samples"].sum() > 0 for s in figs.SEGMENT_COLORS)
    breakdown = add(figs.breakdown_figure(data.breakdown), "breakdown") if has_breakdown else ""
    timeline = add(figs.timeline_figure(data.deployments, data.incidents), "timeline")
    slo_fig = add(figs.slo_figure(data.slos), "slos") if data.slos.height else ""
    items = figs.coverage_items(data.coverage, overview.quarantined, overview.loaded)
    coverage = add(figs.coverage_figure(items), "coverage", dated=False)
    latest = data.monthly["period_start"].max() if data.monthly.height else None
    context = {
        "title": f"{data.team} · DORA metrics",
        "team": data.team,
        "has_data": data.weekly.height > 0,
        "first": data.weekly["period_start"].min() if data.weekly.height else None,
        "last": data.weekly["period_start"].max() if data.weekly.height else None,
        "latest_month": latest.strftime("%B %Y") if latest else "–",
        "glance": [_glance(s, data, periods) for s in METRIC_SPECS],
        "metrics": metrics,
        "sections": [{"anchor": "glance", "title": "At a glance"}]
        + [{"anchor": m["anchor"], "title": m["title"]} for m in metrics]
        + [{"anchor": a, "title": t} for a, t in (
            ("breakdown", "Lead-time breakdown"), ("timeline", "Deployments"),
            ("slos", "SLOs"), ("coverage", "Data coverage"))],
        "breakdown_figure": breakdown,
        "timeline_figure": timeline,
        "timeline_summary": _timeline_summary(data),
        "slo_figure": slo_fig,
        "slo_rows": _slo_rows(data.slos, latest),
        "coverage_figure": coverage,
        "reorganisations": [f"{row['date'].isoformat()}: {describe(row)}"
                            for row in reorganisations.sort("date", "service").to_dicts()],
        "coverage": [{**i, "share_text": "–" if i["share"] is None else f"{i['share']:.1%}"}
                     for i in items],
        "incident_sources": data.coverage.get("incident_sources") or [],
    }
    return context, figures


def _timeline_summary(data: TeamData) -> str:
    d = data.deployments
    if d.height == 0:
        return "No production deployments recorded."
    failed = d["failed"].sum()
    rollbacks = d.filter(pl.col("rolls_back").is_not_null()
                         | pl.col("rework_reasons").list.contains("rollback")
                         | pl.col("rework_reasons").list.contains("implicit_rollback")).height
    fixes = d.filter(pl.col("fixes").is_not_null() | pl.col("hotfix")).height
    unresolved = data.incidents.filter(pl.col("resolved_at_utc").is_null()).height
    return (f"{d.height} deployments, {failed} failed; {rollbacks} rollbacks, {fixes} fixes or "
            f"hotfixes; {data.incidents.height} incidents ({unresolved} not resolved).")


def _slo_rows(slos: pl.DataFrame, latest: Any) -> list[dict]:
    rows = []
    month = slos.filter(pl.col("grain") == "month")
    for slo in sorted(set(slos["slo"].to_list()), key=lambda s: (s.casefold(), s)):
        own = month.filter(pl.col("slo") == slo).sort("period_start")
        current = own.filter(pl.col("period_start") == latest).to_dicts() if latest else []
        base = own.to_dicts()[-1] if own.height else {}
        row = current[0] if current else {}
        rows.append({
            "slo": slo, "service": base.get("service", ""),
            "objective": f"{base['objective']:.2%}" if base else "–",
            "attainment": f"{row['attainment']:.3%}" if row.get("attainment") is not None
            else "no data",
            "met": ("yes" if row["met"] else "no") if row else "–",
            "budget": f"{row['error_budget_remaining']:.0%}"
            if row.get("error_budget_remaining") is not None else "–",
        })
    return rows


def _band_source(config: DoraConfig) -> str:
    return SOURCES[config.report_year]


def build_team_report(config: DoraConfig, team: str,
                      overview: Overview | None = None) -> TeamReport:
    """Write one team's page (and plotly.min.js beside it); what the `team_report` asset does."""
    folder = config.reports_path
    with warehouse(config) as conn:
        overview = overview or load_overview(conn)
        data = load_team(conn, overview, team)
        reorganisations = load_reorganisations(conn, team)
    if data.weekly.height:
        context, figures = _team_context(config, overview, data, reorganisations)
    else:  # a team in the config with no records yet: a page that says so, no charts
        context, figures = {"title": f"{team} · DORA metrics", "team": team,
                            "has_data": False, "first": None, "last": None,
                            "reorganisations": [], "glance": [], "metrics": []}, []
    text = render("team.html", figures=figures, year=config.report_year, band_toggle=True,
                  band_source=_band_source(config), trend_periods=config.trend_periods,
                  min_sample=config.min_sample, **context)
    ensure_plotly_js(folder)
    path = folder / page_name(team)
    write_text(path, text)
    return TeamReport(team=team, path=path, glance=context["glance"],
                      trends=[m["trend"] for m in context["metrics"]])


# ---- the index ---------------------------------------------------------------------------------


@dataclass
class IndexReport:
    """The written index and the team list it shows (alphabetical)."""

    path: Path
    teams: list[dict] = field(default_factory=list)
    org_trends: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """Teams in alphabetical order, one column per metric with the team's own direction."""
        rows = [(html.escape(t["name"]), t["href"], *t["directions"]) for t in self.teams]
        return markdown_table(rows, ["team (alphabetical)", "page",
                                     *(s.label for s in METRIC_SPECS)])


def _directions(frame: pl.DataFrame, periods: int) -> tuple[list[str], list[str]]:
    """Each metric's trend sentence and its direction alone ("improving", "too few data")."""
    sentences, words = [], []
    for spec in METRIC_SPECS:
        found = trend_of(points(frame, spec, "week"), spec, periods)
        sentences.append(found.sentence(spec.label, spec.unit, "week"))
        words.append(found.direction if found.enough_data else "too few data")
    return sentences, words


def build_index(config: DoraConfig, overview: Overview | None = None) -> IndexReport:
    """Write the index: teams alphabetically with their own direction of change, and the
    organisation's spread over teams without naming them. What `report_index` does."""
    folder = config.reports_path
    if overview is None:
        with warehouse(config) as conn:
            overview = load_overview(conn)
    teams = []
    for team in overview.teams:
        sentences, words = _directions(overview.metrics_of(team, "week"), config.trend_periods)
        teams.append({"name": team, "href": page_name(team), "trends": sentences,
                      "directions": words})
    org_weekly = overview.org_metrics.filter(pl.col("grain") == "week")
    org_monthly = overview.org_metrics.filter(pl.col("grain") == "month")
    org_trends, _ = _directions(org_weekly, config.trend_periods)
    team_monthly = overview.team_metrics.filter(
        (pl.col("grain") == "month") & (pl.col("team") != UNASSIGNED))
    figures, metrics = [], []
    for spec in METRIC_SPECS:
        fid = f"fig-org-{_anchor(spec)}"
        fig = figs.distribution_figure(spec, team_monthly, org_monthly)
        figures.append({"id": fid, "json": figure_json(fig)})
        metrics.append({"anchor": _anchor(spec), "title": spec.title,
                        "explain": spec.explain, "figure_id": fid})
    text = render(
        "index.html", title="DORA metrics · all teams", teams=teams, org_trends=org_trends,
        metrics=metrics, figures=figures, year=config.report_year, band_toggle=False,
        band_source=_band_source(config), trend_periods=config.trend_periods,
        min_sample=config.min_sample, first=overview.first_period, last=overview.last_period,
        unassigned=page_name(UNASSIGNED) if overview.has_unassigned else "")
    ensure_plotly_js(folder)
    path = folder / INDEX
    write_text(path, text)
    return IndexReport(path=path, teams=teams, org_trends=org_trends)


# ---- everything --------------------------------------------------------------------------------


def write_reports(config: DoraConfig, progress: Progress = print,
                  teams: list[str] | None = None) -> Path:
    """Rewrite the team pages (all, or only `teams`) and the index; returns index.html."""
    with warehouse(config) as conn:
        overview = load_overview(conn)
    every = overview.teams + ([UNASSIGNED] if overview.has_unassigned else [])
    chosen = every if teams is None else list(teams)
    for i, team in enumerate(chosen, start=1):
        report = build_team_report(config, team, overview)
        progress(f"reports: {team} ({i}/{len(chosen)}) → {report.path.name}")
    if teams is None:
        _remove_stale_pages(config.reports_path, {page_name(t) for t in every})
    index = build_index(config, overview)
    progress(f"reports: index → {index.path}")
    return index.path


def _remove_stale_pages(folder: Path, keep: set[str]) -> None:
    for path in folder.glob("team-*.html"):
        if path.name not in keep:
            path.unlink()


def _asset_keys(defs: Any, name: str) -> list:
    import dagster as dg

    return [key for asset in defs.assets
            if isinstance(asset, dg.AssetsDefinition) and asset.node_def.name == name
            for key in asset.keys]


def report_stage(defs: Any, assets: list, resources: dict, instance: Any,
                 config: DoraConfig, progress: Progress, summary: Any) -> None:
    """The `reports` stage of a pipeline run: register each team as a `teams` partition, then
    materialise `team_report` per team and `report_index`, in-process through Dagster."""
    import dagster as dg

    team_keys, index_keys = _asset_keys(defs, "team_report"), _asset_keys(defs, "report_index")
    if not team_keys or not index_keys:  # definitions without the report assets
        write_reports(config, progress=progress)
        return
    teams = report_teams(config)
    keys = [partition_key(t) for t in teams]
    known = set(instance.get_dynamic_partitions(PARTITIONS))
    missing = [k for k in keys if k not in known]
    if missing:
        instance.add_dynamic_partitions(PARTITIONS, missing)
    for i, (team, key) in enumerate(zip(teams, keys, strict=True), start=1):
        progress(f"reports: {team} ({i}/{len(teams)}) …")
        result = dg.materialize(assets, selection=team_keys, partition_key=key,
                                resources=resources, instance=instance,
                                tags={"dora/stage": "reports"}, run_config=summary.run_config)
        summary.run_ids.append(result.run_id)
    result = dg.materialize(assets, selection=index_keys, resources=resources,
                            instance=instance, tags={"dora/stage": "reports"},
                            run_config=summary.run_config)
    summary.run_ids.append(result.run_id)
    progress(f"reports: {config.reports_path / INDEX}")
