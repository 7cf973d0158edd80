"""Writing the reports: one page per team and the index, from the warehouse (read-only).

`build_team_report` and `build_index` are what the Dagster assets `team_report` (partitioned by
team) and `report_index` call; `write_reports` calls both for every team (the CLI's `report`);
`report_stage` is the `reports` stage of `dora-pipeline run/demo`, which materialises the assets
in-process so the runs and their metadata show in Dagster.
"""

from __future__ import annotations

import html
import json
import os
import pickle
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from metrics.bands import SOURCES, URLS
from metrics.registry import BY_COLUMN
from pipelines import collector
from pipelines.config import DoraConfig
from pipelines.markdown import markdown_table
from pipelines.reports import figures as figs
from pipelines.reports.data import (
    UNASSIGNED,
    Overview,
    TeamData,
    load_overview,
    load_teams,
    warehouse,
)
from pipelines.reports.folder import check as check_folder
from pipelines.reports.folder import claim, release
from pipelines.reports.page import (
    INDEX,
    PLOTLY_JS,
    ensure_plotly_js,
    figure_json,
    page_name,
    render,
    write_text,
    written_behind,
)
from pipelines.reports.records import records_json
from pipelines.reports.reorganisations import describe, reorganisation_shapes
from pipelines.reports.specs import (
    CHART_COLUMNS,
    GROUPS,
    METRIC_SPECS,
    ROLLING_WEEKS,
    MetricSpec,
    Point,
    columns,
    format_value,
    points,
    trend_of,
)

Progress = Callable[[str], None]
# The records a page can open on a click: every charted metric, plus the breakdown's changes
# and the timeline's incidents; read by record set (metrics that share records share a set).
RECORD_METRICS = [*(s.key for s in METRIC_SPECS), "changes", "incidents_opened"]
RECORD_SETS = {m: BY_COLUMN[m].record_set for m in RECORD_METRICS}
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
    directions: list[str] = field(default_factory=list)  # per metric, for the index

    def to_json(self) -> str:
        """One line of JSON: how a report worker hands the page to its parent (`from_json`)."""
        return json.dumps({**asdict(self), "path": str(self.path)})

    @classmethod
    def from_json(cls, line: str | bytes) -> TeamReport:
        """The report `to_json` wrote."""
        fields = json.loads(line)
        return cls(**{**fields, "path": Path(fields["path"])})

    def markdown(self) -> str:
        rows = [(r["title"], r["value"], r["sample"], r["interval"], r["trend"])
                for r in self.glance]
        return markdown_table(rows, ["metric", "latest month", "sample", "95% interval",
                                     "trend"])


def _glance(spec: MetricSpec, month: list[Point], trend: str) -> dict:
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
    return {"title": spec.title, "value": value, "sample": sample, "interval": interval,
            "trend": trend}


def _caption(spec: MetricSpec, config: DoraConfig) -> str:
    parts = ["Dots: weekly values (click one for its records)"]
    if spec.low_sample:
        parts.append(f"faded open circles: fewer than {config.min_sample} {spec.sample_noun} "
                     "(low sample)")
    parts.append(f"orange line: {ROLLING_WEEKS}-week rolling median")
    if spec.ci:
        parts.append("shaded: 95% interval")
    parts.append("the Monthly button switches to the monthly view")
    text = "; ".join(parts) + "."
    if spec.band:
        text += (f" Grey bands: the DORA {config.report_year} performance clusters, from the "
                 f"{SOURCES[config.report_year]}; context behind this team's own line, not a "
                 "target (the checkbox at the top hides them).")
    return text


def _anchor(spec: MetricSpec) -> str:
    return spec.key.replace("_", "-")


# A team's charted metrics, worked out from the overview alone: (spec, monthly points, figure,
# trend) per metric.
MetricParts = list[tuple[MetricSpec, list[Point], dict, Any]]
# A page is written section by section, each a part of the template's context and its figures
# (`{"id", "json"}`, in page order). `build_chunk` works out the sections of the first pages
# (at most AHEAD_PAGES, held as JSON: about 1 MB each for a long history) while the tables are
# read, each section as soon as its table is in.
Section = tuple[dict[str, Any], list[dict]]
SECTIONS = ("metrics", "breakdown", "timeline", "slos", "coverage")  # in page order
AHEAD_PAGES = 64


def _metric_parts(config: DoraConfig, weekly: pl.DataFrame,
                  monthly: pl.DataFrame) -> MetricParts:
    """Each charted metric's points, figure and trend, from a team's rows of each grain."""
    parts = []
    # read once, used by every metric: only the columns the charts read
    wk_cols, mo_cols = columns(weekly, CHART_COLUMNS), columns(monthly, CHART_COLUMNS)
    for spec in METRIC_SPECS:
        wk, mo = points(wk_cols, spec, "week"), points(mo_cols, spec, "month")
        fig = figs.metric_figure(spec, wk, mo, config.report_year, config.min_sample)
        parts.append((spec, mo, fig, trend_of(wk, spec, config.trend_periods)))
    return parts


def _figure(fig: dict, name: str, markers: list[dict] | None = None) -> dict:
    """A figure of a page as `{"id", "json"}`; a time-series figure (`markers` given) also marks
    the days the team's services changed hands (from then on its line measures a different
    set of services)."""
    if markers:
        fig["layout"]["shapes"] = [*fig["layout"].get("shapes", []), *markers]
    return {"id": f"fig-{name}", "json": figure_json(fig)}


def _metrics_section(config: DoraConfig, parts: MetricParts, markers: list[dict]) -> Section:
    """The at-a-glance rows and one chart per metric."""
    metrics, glance, figures = [], [], []
    for spec, mo, fig, found in parts:
        trend = found.sentence(spec.label, spec.unit, "week")
        glance.append(_glance(spec, mo, trend))
        figures.append(_figure(fig, _anchor(spec), markers))
        metrics.append({
            "anchor": _anchor(spec), "title": spec.title, "explain": spec.explain,
            "group": spec.group, "trend": trend, "direction": _direction(found),
            "caption": _caption(spec, config), "figure_id": figures[-1]["id"],
        })
    return {"metrics": metrics, "glance": glance}, figures


def _breakdown_section(breakdown: pl.DataFrame, markers: list[dict]) -> Section:
    """The lead-time breakdown's chart, when some change has a segment."""
    if breakdown.height == 0 or not any(
            breakdown[f"{s}_samples"].sum() > 0 for s in figs.SEGMENT_COLORS):
        return {"breakdown_figure": ""}, []
    figure = _figure(figs.breakdown_figure(breakdown), "breakdown", markers)
    return {"breakdown_figure": figure["id"]}, [figure]


def _timeline_section(deployments: pl.DataFrame, incidents: pl.DataFrame,
                      drawn: dict[str, pl.DataFrame] | None, inc: pl.DataFrame | None,
                      summary: str | None, markers: list[dict]) -> Section:
    """Every deployment and incident on a timeline (`drawn`, `inc`: their markers, `summary`:
    the sentence that counts them, when worked out already)."""
    figure = _figure(figs.timeline_figure(deployments, incidents, drawn, inc), "timeline",
                     markers)
    if summary is None:
        summary = figs.timeline_summary(deployments, incidents)
    return {"timeline_figure": figure["id"], "timeline_summary": summary}, [figure]


def _slo_section(slos: pl.DataFrame, latest: Any, markers: list[dict]) -> Section:
    """The SLOs' chart and table (`latest`: the latest month of the team's metrics)."""
    slo_parts = figs.slo_columns(slos)  # read once for the figure and the table
    figures = [_figure(figs.slo_figure(slos, slo_parts), "slos", markers)] if slos.height else []
    return {"slo_figure": figures[0]["id"] if figures else "",
            "slo_rows": _slo_rows(slo_parts, latest)}, figures


def _coverage_section(overview: Overview, coverage: dict) -> Section:
    """The coverage shares, as a chart (not dated) and a table."""
    items = figs.coverage_items(coverage, overview.quarantined, overview.loaded)
    figure = _figure(figs.coverage_figure(items), "coverage")
    return {"coverage_figure": figure["id"],
            "coverage": [{**i, "share_text": "–" if i["share"] is None else f"{i['share']:.1%}"}
                         for i in items]}, [figure]


def _latest(monthly: pl.DataFrame) -> Any:
    return monthly["period_start"].max() if monthly.height else None


@dataclass
class Ahead:
    """What is worked out of a page before it is written (see `build_chunk`)."""

    parts: MetricParts | None = None  # until the metrics section is written as JSON
    markers: list[dict] | None = None  # the reorganisations' shapes, once they are read
    sections: dict[str, Section] = field(default_factory=dict)


def _team_context(config: DoraConfig, overview: Overview, data: TeamData,
                  ahead: Ahead | None = None) -> tuple[dict[str, Any], list[dict]]:
    """The template's context and the figures of a team's page with records: the sections
    worked out `ahead`, the others here."""
    ahead = ahead or Ahead()
    markers = (ahead.markers if ahead.markers is not None
               else reorganisation_shapes(data.reorganisations))
    latest = _latest(data.monthly)
    done = ahead.sections
    work = {
        "metrics": lambda: _metrics_section(
            config, ahead.parts or _metric_parts(config, data.weekly, data.monthly), markers),
        "breakdown": lambda: _breakdown_section(data.breakdown, markers),
        "timeline": lambda: _timeline_section(data.deployments, data.incidents,
                                              data.deployment_marks, data.incident_marks,
                                              data.timeline_summary, markers),
        "slos": lambda: _slo_section(data.slos, latest, markers),
        "coverage": lambda: _coverage_section(overview, data.coverage),
    }
    context: dict[str, Any] = {}
    figures: list[dict] = []
    for name in SECTIONS:
        part, shown = done[name] if name in done else work[name]()
        context.update(part)
        figures += shown
    metrics = context["metrics"]
    groups = [{"key": key, "title": title, "explain": explain,
               "metrics": [m for m in metrics if m["group"] == key]}
              for key, (title, explain) in GROUPS.items()]
    context.update({
        "title": f"{data.team} · DORA metrics",
        "team": data.team,
        "has_data": data.weekly.height > 0,
        "first": data.weekly["period_start"].min() if data.weekly.height else None,
        "last": data.weekly["period_start"].max() if data.weekly.height else None,
        "latest_month": latest.strftime("%B %Y") if latest else "–",
        "groups": [g for g in groups if g["metrics"]],
        "sections": [{"anchor": "glance", "title": "At a glance"}]
        + [{"anchor": m["anchor"], "title": m["title"]} for g in groups for m in g["metrics"]]
        + [{"anchor": a, "title": t} for a, t in (
            ("breakdown", "Lead-time breakdown"), ("timeline", "Deployments"),
            ("slos", "SLOs"), ("coverage", "Data coverage"))],
        "reorganisations": [f"{row['date'].isoformat()}: {describe(row)}"
                            for row in data.reorganisations.sort("date", "service").to_dicts()],
        "conflicts": overview.conflicts.to_dicts(),
        "incident_sources": data.coverage.get("incident_sources") or [],
    })
    # encoded page by page (megabytes for a long history: never all pages' at once), last: a
    # thread may still be working them out (data.RecordsFeed)
    records = data.records
    context["records_json"] = b"" if records is None else records_json(records, RECORD_SETS)
    return context, figures


def _slo_rows(parts: dict[tuple, dict[str, list]], latest: Any) -> list[dict]:
    """Each SLO's objective and its latest month, from the page's `figures.slo_columns`."""
    rows = []
    for slo in sorted({slo for slo, _grain in parts}, key=lambda s: (s.casefold(), s)):
        own = parts.get((slo, "month"))  # oldest month first
        months = own["period_start"] if own else []
        at = next((i for i, p in enumerate(months) if p == latest), None) if latest else None
        attainment = None if at is None else own["attainment"][at]
        budget = None if at is None else own["error_budget_remaining"][at]
        rows.append({
            "slo": slo, "service": own["service"][-1] if months else "",
            "objective": f"{own['objective'][-1]:.2%}" if months else "–",
            "attainment": "no data" if attainment is None else f"{attainment:.3%}",
            "met": "–" if at is None else ("yes" if own["met"][at] else "no"),
            "budget": "–" if budget is None else f"{budget:.0%}",
        })
    return rows


def _band_source(config: DoraConfig) -> str:
    year = config.report_year
    return f"DORA {year} performance clusters, from the {SOURCES[year]} ({URLS[year]})"


def _write_team(config: DoraConfig, overview: Overview, data: TeamData,
                write: Callable[[Path, bytes], None] = write_text,
                ahead: Ahead | None = None) -> TeamReport:
    """Render one team's page from its prepared data (and what of it was worked out `ahead`)
    and write it (atomically, by `write`)."""
    if data.weekly.height:
        context, figures = _team_context(config, overview, data, ahead)
    else:  # a team in the config with no records yet: a page that says so, no charts
        context, figures = {"title": f"{data.team} · DORA metrics", "team": data.team,
                            "has_data": False, "first": None, "last": None,
                            "reorganisations": [], "glance": [], "metrics": [],
                            "records_json": ""}, []
    text = render("team.html.j2", figures=figures, year=config.report_year, band_toggle=True,
                  band_source=_band_source(config), trend_periods=config.trend_periods,
                  min_sample=config.min_sample, **context)
    path = config.reports_path / page_name(data.team)
    write(path, text)
    return TeamReport(team=data.team, path=path, glance=context["glance"],
                      trends=[m["trend"] for m in context["metrics"]],
                      directions=[m["direction"] for m in context["metrics"]])


def build_team_report(config: DoraConfig, team: str,
                      overview: Overview | None = None) -> TeamReport:
    """Write one team's page (and plotly.min.js beside it); what the `team_report` asset does."""
    return build_team_reports(config, [team], overview)[0]


def build_team_reports(config: DoraConfig, teams: list[str] | None = None,
                       overview: Overview | None = None, progress: Progress | None = None,
                       workers: int | None = None) -> list[TeamReport]:
    """Write the pages of `teams` (None: every team with a page): every table read once for
    all of them, pages built in parallel processes when there are enough to pay for it
    (`workers`: how many processes; default one per core from MIN_PARALLEL_PAGES pages)."""
    folder = config.reports_path
    check_folder(folder)  # a foreign folder is refused before any work
    if teams is None:
        with warehouse(config) as conn:
            overview = overview or load_overview(conn)
        teams = overview.teams + ([UNASSIGNED] if overview.has_unassigned else [])
    claim(folder, [PLOTLY_JS, *(page_name(t) for t in teams)])
    ensure_plotly_js(folder)
    workers = min(workers or _workers(len(teams)), len(teams))
    if workers <= 1:
        told = PageProgress(progress, len(teams))
        return build_chunk(config, teams, overview, told.landed)
    return _in_workers(config, _shares(teams, workers, overview), progress, overview)


def _in_workers(config: DoraConfig, shares: list[list[str]], progress: Progress | None,
                overview: Overview | None = None) -> list[TeamReport]:
    """Write the first share of pages here and each other share in its own worker process
    (started first, so they import while this one works), reporting pages as they land."""
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}  # one worker per core is parallel enough
    procs, logs = [], []
    for share in shares[1:]:
        logs.append(tempfile.TemporaryFile())  # a file, not a pipe: never fills up and blocks
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.reports.worker"],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=logs[-1], env=env)
        proc.stdin.write(pickle.dumps((config, share)))
        proc.stdin.close()
        procs.append(proc)
    done: queue.Queue = queue.Queue()

    def read(proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            done.put(TeamReport.from_json(line))
        done.put(None)

    readers = [threading.Thread(target=read, args=(p,), daemon=True) for p in procs]
    for reader in readers:
        reader.start()
    told = PageProgress(progress, sum(len(s) for s in shares))
    running = len(procs)

    def from_workers(wait: bool) -> None:
        """The workers' pages that have landed (all of them, to the end, with `wait`)."""
        nonlocal running
        while running:
            try:
                report = done.get(block=wait)
            except queue.Empty:
                return
            if report is None:
                running -= 1
                continue
            told.landed(report)

    def own(report: TeamReport) -> None:  # each page of this process, then the workers' so far
        told.landed(report)
        from_workers(wait=False)

    build_chunk(config, shares[0], overview, own)  # the overview read already
    from_workers(wait=True)
    for proc, log in zip(procs, logs, strict=True):
        code = proc.wait()
        log.seek(0)
        lines = [line for line in log.read().decode("utf-8", "replace").splitlines()
                 if line.strip()]
        log.close()
        if code != 0:
            raise RuntimeError(f"a report worker failed: {lines[-1] if lines else code}")
    return [told.reports[t] for share in shares for t in share]


# Up to this many pages, each is said as it lands; beyond, how many are written, every
# PROGRESS_SECONDS and at the end (10,000 lines would bury the rest, and cost half a second).
PAGES_SAID = 100
PROGRESS_SECONDS = 2.0


class PageProgress:
    """The pages written so far, said to `progress` as they land, whichever process wrote
    them: each page ("reports: team (3/50) → team-x.html") up to PAGES_SAID pages, else a
    count ("reports: 1,200 of 10,000 team pages written") every PROGRESS_SECONDS of `clock`
    and once all are in."""

    def __init__(self, progress: Progress | None, total: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reports: dict[str, TeamReport] = {}
        self._progress = progress
        self._total = total
        self._clock = clock
        self._said = clock()

    def landed(self, report: TeamReport) -> None:
        self.reports[report.team] = report
        if not self._progress:
            return
        done = len(self.reports)
        if self._total <= PAGES_SAID:
            self._progress(f"reports: {report.team} ({done}/{self._total}) → "
                           f"{report.path.name}")
            return
        now = self._clock()
        if done == self._total or now - self._said >= PROGRESS_SECONDS:
            self._said = now
            self._progress(f"reports: {done:,} of {self._total:,} team pages written")


MIN_PARALLEL_PAGES = 200  # under this, starting workers (~2 s of imports) costs more than it saves
# What a page costs, roughly, on a 2-core machine (benchmarks/reports_scale.py): a fixed part and
# a part that grows with the team's history (records, deployments, incidents, SLIs), estimated
# from every record loaded. Only used to size the share written while the workers start: on a
# busy machine, workers for 50 long pages cost more than they saved (measured), so the number
# of workers still follows the number of pages.
PAGE_SECONDS = 0.02
LOADED_RECORD_SECONDS = 4e-6
WORKER_START_SECONDS = 2.5  # a worker's imports, before its first page


def _estimate(pages: int, overview: Overview | None) -> float:
    """Seconds the pages would take in one process (a rough guide to share them out)."""
    loaded = overview.loaded if overview is not None else 0
    return pages * PAGE_SECONDS + loaded * LOADED_RECORD_SECONDS


def _workers(pages: int) -> int:
    if pages < MIN_PARALLEL_PAGES:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, pages // (MIN_PARALLEL_PAGES // 2)))


def _shares(teams: list[str], workers: int, overview: Overview | None) -> list[list[str]]:
    """`teams` cut into one share per process; the first, written here while the workers
    start, is larger by about the pages this process writes in a worker's start-up time."""
    per_page = _estimate(len(teams), overview) / len(teams)
    head = min(len(teams) - (workers - 1), round(WORKER_START_SECONDS / per_page))
    first = min(len(teams) - (workers - 1),
                max(1, -(-len(teams) // workers) + max(0, head) // workers))
    rest = teams[first:]
    size = -(-len(rest) // (workers - 1)) if rest else 1
    return [teams[:first], *(rest[i:i + size] for i in range(0, len(rest), size))]


def build_chunk(config: DoraConfig, teams: list[str], overview: Overview | None = None,
                built: Callable[[TeamReport], None] | None = None) -> list[TeamReport]:
    """Read the data of `teams` in one pass per table and write their pages; `built(report)`
    is called as each page is handed to the writer (it is on disk, at most two pages behind,
    when this returns).

    The tables are read by a thread (DuckDB and polars work without Python's lock) while this
    one works out the sections of the first pages (at most AHEAD_PAGES) from what is in: the
    charted metrics from the overview, then each other section as soon as its table is in
    (`_work_ahead`). Python's cycle collector is off meanwhile (`pipelines.collector.paused`):
    a page is megabytes of plain lists and dicts freed by their counts, and the collector's
    passes over them cost 3-4 ms a page."""
    closing: list[threading.Thread] = []  # the connection, closed while the pages are built
    try:
        with collector.paused(), warehouse(config, closing) as conn:
            overview = overview or load_overview(conn, teams)
            ahead = {team: Ahead() for team in teams[:AHEAD_PAGES]
                     if overview.metrics_of(team, "week").height}  # a page with charts
            stages: queue.SimpleQueue = queue.SimpleQueue()
            given_up = threading.Event()

            def ready(stage: str, of: Any) -> None:
                if given_up.is_set():  # ends the reading thread at its next table
                    raise RuntimeError("the report pages were given up; no more is read")
                stages.put((stage, of))

            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-data") as pool:
                loading = pool.submit(load_teams, conn, overview, teams, RECORD_SETS, ready)
                loading.add_done_callback(lambda _done: stages.put(None))
                try:
                    _work_ahead(config, overview, ahead, stages)
                except BaseException:
                    given_up.set()
                    raise
                data = loading.result()
        # each page written while the next one is built
        with collector.paused(), written_behind() as write:
            try:
                reports = []
                for team in teams:
                    reports.append(_write_team(config, overview, data[team], write,
                                               ahead.pop(team, None)))
                    if built:
                        built(reports[-1])
                return reports
            except BaseException:
                data.stop()  # the records of the pages after this one are not worked out
                raise
    finally:
        for closer in closing:
            closer.join()


def _work_ahead(config: DoraConfig, overview: Overview, ahead: dict[str, Ahead],
                stages: queue.SimpleQueue) -> None:
    """Work out sections of the pages of `ahead` until the tables are all read (`stages`
    gives `load_teams`' stages as they come in, then None): first each page's charted metrics
    (they need only the overview), then, stage by stage, the sections of what came in. What
    is not done by then is done as the page is written (the same bytes either way)."""
    todo: deque[tuple[str, str, Callable[[str], Any] | None]] = deque(
        ("parts", team, None) for team in ahead)
    while True:
        try:
            got = stages.get(block=not todo)
        except queue.Empty:
            got = ()
        if got is None:  # every table read: the pages are written now
            return
        if got:
            stage, of = got
            if stage == "reorganisations":  # every dated figure needs them: done at once
                for team, found in ahead.items():
                    found.markers = reorganisation_shapes(of(team))
                todo.extend(("metrics", team, None) for team in ahead)
            else:
                todo.extend((stage, team, of) for team in ahead)
            continue
        task, team, of = todo.popleft()
        found = ahead[team]
        if task == "parts":
            if "metrics" not in found.sections:
                found.parts = _metric_parts(config, overview.metrics_of(team, "week"),
                                            overview.metrics_of(team, "month"))
            continue
        markers = found.markers
        if markers is None:  # not read yet (never, in `load_teams`' order): left to the page
            continue
        if task == "metrics":
            parts = found.parts or _metric_parts(config, overview.metrics_of(team, "week"),
                                                 overview.metrics_of(team, "month"))
            found.sections["metrics"], found.parts = _metrics_section(config, parts,
                                                                      markers), None
        elif task == "slos":
            found.sections["slos"] = _slo_section(
                of(team), _latest(overview.metrics_of(team, "month")), markers)
        elif task == "breakdown":
            found.sections["breakdown"] = _breakdown_section(of(team), markers)
        elif task == "timeline":
            found.sections["timeline"] = _timeline_section(*of(team), markers)
            found.sections["coverage"] = _coverage_section(overview, overview.coverage_of(team))


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
        words.append(_direction(found))
    return sentences, words


def _direction(found: Any) -> str:
    """A trend's direction alone: "improving", "worsening", "no clear trend", "too few data"."""
    return found.direction if found.enough_data else "too few data"


def build_index(config: DoraConfig, overview: Overview | None = None,
                pages: list[TeamReport] | None = None) -> IndexReport:
    """Write the index: teams alphabetically with their own direction of change, and the
    organisation's spread over teams without naming them. What `report_index` does.
    `pages` just written carry each team's trends, which are then not tested again."""
    folder = config.reports_path
    check_folder(folder)
    if overview is None:
        with warehouse(config) as conn:
            overview = load_overview(conn)
    teams = []
    known = {p.team: p for p in pages or [] if p.directions}
    for team in overview.teams:
        if team in known:
            sentences, words = known[team].trends, known[team].directions
        else:
            sentences, words = _directions(overview.metrics_of(team, "week"),
                                           config.trend_periods)
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
        "index.html.j2", title="DORA metrics · all teams", teams=teams, org_trends=org_trends,
        metrics=metrics, figures=figures, year=config.report_year, band_toggle=False,
        band_source=_band_source(config), trend_periods=config.trend_periods,
        min_sample=config.min_sample, first=overview.first_period, last=overview.last_period,
        unassigned=page_name(UNASSIGNED) if overview.has_unassigned else "")
    claim(folder, [INDEX, PLOTLY_JS])
    ensure_plotly_js(folder)
    path = folder / INDEX
    write_text(path, text)
    return IndexReport(path=path, teams=teams, org_trends=org_trends)


# ---- everything --------------------------------------------------------------------------------


def write_reports(config: DoraConfig, progress: Progress = print,
                  teams: list[str] | None = None, workers: int | None = None) -> Path:
    """Rewrite the team pages (all, or only `teams`) and the index; returns index.html.

    A full rewrite also deletes the pages it wrote before for teams that are gone (only files
    the folder's manifest lists; nothing else in the folder is touched)."""
    check_folder(config.reports_path)  # refuse a foreign folder before reading anything
    with warehouse(config) as conn:
        overview = load_overview(conn)
    every = overview.teams + ([UNASSIGNED] if overview.has_unassigned else [])
    chosen = every if teams is None else list(teams)
    claim(config.reports_path, [INDEX, PLOTLY_JS, *(page_name(t) for t in chosen)])
    pages = build_team_reports(config, chosen, overview, progress=progress, workers=workers)
    if teams is None:
        release(config.reports_path, {INDEX, PLOTLY_JS, *(page_name(t) for t in every)})
    index = build_index(config, overview, pages)
    progress(f"reports: index → {index.path}")
    return index.path


def _asset_keys(defs: Any, name: str) -> list:
    import dagster as dg

    return [key for asset in defs.assets
            if isinstance(asset, dg.AssetsDefinition) and asset.node_def.name == name
            for key in asset.keys]


def report_stage(defs: Any, assets: list, resources: dict, instance: Any,
                 config: DoraConfig, progress: Progress, summary: Any) -> None:
    """The `reports` stage of a pipeline run: every team page in one pass (one query per
    table, pages in parallel), then each team's `team_report` partition and the `report_index`
    recorded in Dagster with the same metadata the assets give, so they show in the UI.

    A Dagster run per team would cost about a second each (a thousand teams, a quarter of an
    hour); materialising one partition from the UI still runs the `team_report` asset."""
    import dagster as dg

    team_keys, index_keys = _asset_keys(defs, "team_report"), _asset_keys(defs, "report_index")
    check_folder(config.reports_path)
    with warehouse(config) as conn:
        overview = load_overview(conn)
    teams = overview.teams + ([UNASSIGNED] if overview.has_unassigned else [])
    claim(config.reports_path, [INDEX, PLOTLY_JS, *(page_name(t) for t in teams)])
    pages = build_team_reports(config, teams, overview, progress=progress)
    release(config.reports_path, {INDEX, PLOTLY_JS, *(page_name(t) for t in teams)})
    index = build_index(config, overview, pages)
    if not team_keys or not index_keys:  # definitions without the report assets
        progress(f"reports: {index.path}")
        return
    keys = [partition_key(t) for t in teams]
    known = set(instance.get_dynamic_partitions(PARTITIONS))
    missing = [k for k in keys if k not in known]
    if missing:
        instance.add_dynamic_partitions(PARTITIONS, missing)
    tags = {"dora/stage": "reports"}
    for page, key in zip(pages, keys, strict=True):
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=team_keys[0], partition=key, metadata=team_metadata(page), tags=tags))
    instance.report_runless_asset_event(dg.AssetMaterialization(
        asset_key=index_keys[0], metadata=index_metadata(index), tags=tags))
    progress(f"reports: {index.path}")


def team_metadata(report: TeamReport) -> dict:
    """The Dagster metadata of a written team page: its path, team, latest month and trends."""
    import dagster as dg

    return {"path": dg.MetadataValue.path(str(report.path)),
            "team": dg.MetadataValue.text(report.team),
            "latest": dg.MetadataValue.md(report.markdown()),
            "trends": dg.MetadataValue.md("\n".join(f"- {s}" for s in report.trends))}


def index_metadata(index: IndexReport) -> dict:
    """The Dagster metadata of the written index: its path, the teams and the organisation."""
    import dagster as dg

    return {"path": dg.MetadataValue.path(str(index.path)),
            "teams": dg.MetadataValue.md(index.markdown()),
            "organisation": dg.MetadataValue.md("\n".join(f"- {s}" for s in index.org_trends)),
            "team_count": len(index.teams)}
