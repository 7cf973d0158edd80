"""Reading what the reports show from the warehouse, read-only, through `sql/report_*.sql`.

Every table is read once for all the teams being reported (one query per table), then split by
team in polars, so the cost of a page does not grow with the number of teams.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from pipelines.config import DoraConfig
from pipelines.reports.figures import (
    MARKER_SETS,
    deployment_marks,
    incident_marks,
    marker_sets,
    timeline_summaries,
    timeline_summary,
)
from pipelines.reports.queries import OwnCursor, has_relation, query
from pipelines.reports.records import RecordsFeed, TeamRecords
from pipelines.reports.reorganisations import load_reorganisations
from pipelines.reports.specs import CHARTED, ROLLING_MIN_POINTS, ROLLING_WEEKS
from pipelines.warehouse import connect

UNASSIGNED = "unassigned"


@contextmanager
def warehouse(config: DoraConfig, closed_behind: list[threading.Thread] | None = None
              ) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the config's warehouse, in UTC, closed afterwards: with
    `closed_behind`, by a thread put there for the caller to join later (closing drops the
    database's buffers, tens of milliseconds after a long history's tables are read)."""
    conn = connect(config.warehouse_path, read_only=True)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        yield conn
    finally:
        if closed_behind is None:
            conn.close()
        else:
            closed_behind.append(threading.Thread(target=conn.close, name="report-close"))
            closed_behind[-1].start()


def sort_teams(teams: list[str]) -> list[str]:
    """Teams in alphabetical order (case-insensitive, then exact), `unassigned` excluded.

    This is the only order the reports ever put teams in.
    """
    return sorted({t for t in teams if t != UNASSIGNED}, key=lambda t: (t.casefold(), t))


def split(frame: pl.DataFrame, by: str | list[str]) -> dict:
    """`frame` split into one frame per value of `by` (a tuple key for several columns)."""
    keys = [by] if isinstance(by, str) else by
    parts = frame.partition_by(keys, as_dict=True, maintain_order=True)
    return {(k[0] if isinstance(by, str) else k): v for k, v in parts.items()}


def spans(frame: pl.DataFrame, by: str) -> dict:
    """Where each value of `by` sits in `frame` (sorted by `by`): value → (first row, rows)."""
    found = (frame.select(by).with_row_index("row")
             .group_by(by, maintain_order=True).agg(pl.col("row").first(), pl.len()))
    return {key: (row, n) for key, row, n in found.rows()}


class Slices:
    """`frame`, sorted by `by` (the report queries sort by team first), as one slice per value,
    each taken when asked for (`of`): slices share the frame's memory, where `split` would copy
    every row, and only one polars call finds them all. Every slice taken at once, in the
    thread that reads the tables, cost a wait for Python's lock per slice while the pages'
    thread worked (tenths of a second for a table)."""

    def __init__(self, frame: pl.DataFrame, by: str) -> None:
        self.frame = frame
        self._at = spans(frame, by)
        self._empty = frame.clear()

    def of(self, key: object) -> pl.DataFrame:
        """The rows of `key` (none: an empty frame of the same columns)."""
        found = self._at.get(key)
        return self._empty if found is None else self.frame.slice(*found)


@dataclass
class Overview:
    """What every page needs: the team list, all team metrics, org metrics, coverage."""

    teams: list[str]  # alphabetical, without `unassigned`
    has_unassigned: bool
    team_metrics: pl.DataFrame
    org_metrics: pl.DataFrame
    coverage: pl.DataFrame
    conflicts: pl.DataFrame  # keys two sources both give (`source_conflicts`)
    quarantined: int
    loaded: int
    first_period: dt.date | None
    last_period: dt.date | None
    _by_team: dict = field(default_factory=dict, repr=False)
    _coverage: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        # rows come sorted by team, grain, period: each (team, grain) is one slice of them
        spans = (self.team_metrics.select("team", "grain").with_row_index("row")
                 .group_by("team", "grain", maintain_order=True)
                 .agg(pl.col("row").first(), pl.len()))
        self._by_team = {(t, g): (row, n) for t, g, row, n in spans.rows()}
        self._coverage = {r["team"]: r for r in self.coverage.to_dicts()}

    def metrics_of(self, team: str, grain: str) -> pl.DataFrame:
        """One team's rows of `team_metrics` for one grain (oldest first)."""
        row, n = self._by_team.get((team, grain), (0, 0))
        return self.team_metrics.slice(row, n)

    def coverage_of(self, team: str) -> dict:
        return self._coverage.get(team, {})


def load_overview(conn: duckdb.DuckDBPyConnection, teams: list[str] | None = None) -> Overview:
    """Every team's metrics (or only those of `teams`) and the organisation's, for the index
    and the team pages."""
    names = query(conn, "report_teams")["team"].to_list()
    metrics = with_rolling(query(conn, "report_team_metrics", teams=teams))
    org = query(conn, "report_org_metrics")
    coverage = query(conn, "report_coverage")
    conflicts = query(conn, "report_source_conflicts")
    totals = query(conn, "report_quarantine").row(0, named=True)
    weekly = metrics.filter(pl.col("grain") == "week")["period_start"]
    return Overview(
        teams=sort_teams(names),
        has_unassigned=UNASSIGNED in names,
        team_metrics=metrics,
        org_metrics=org,
        coverage=coverage,
        conflicts=conflicts,
        quarantined=int(totals["quarantined"] or 0),
        loaded=int(totals["loaded"] or 0),
        first_period=weekly.min() if weekly.len() else None,
        last_period=weekly.max() if weekly.len() else None,
    )


def with_rolling(metrics: pl.DataFrame) -> pl.DataFrame:
    """`team_metrics` rows (sorted by team, grain, period) with each charted metric's trailing
    rolling median as `<column>__rolling`, for every team in one vectorised pass."""
    if metrics.height == 0:
        return metrics.with_columns(pl.lit(None, pl.Float64).alias(f"{c}__rolling")
                                    for c in CHARTED)
    return metrics.with_columns(
        pl.col(c).cast(pl.Float64)
        .rolling_median(window_size=ROLLING_WEEKS, min_samples=ROLLING_MIN_POINTS)
        .over(["team", "grain"]).alias(f"{c}__rolling")
        for c in CHARTED)


@dataclass
class TeamData:
    """One team's records for its page."""

    team: str
    weekly: pl.DataFrame
    monthly: pl.DataFrame
    breakdown: pl.DataFrame
    deployments: pl.DataFrame
    incidents: pl.DataFrame
    slos: pl.DataFrame
    coverage: dict
    reorganisations: pl.DataFrame
    feed: RecordsFeed | None  # the records behind the points; None when the warehouse has none
    deployment_marks: dict[str, pl.DataFrame] | None = None  # figures.marker_sets of them
    incident_marks: pl.DataFrame | None = None  # figures.incident_marks of `incidents`
    timeline_summary: str | None = None  # figures.timeline_summary of them

    @property
    def records(self) -> TeamRecords | None:
        """The records behind the points (waits for them to be worked out)."""
        return None if self.feed is None else self.feed.get(self.team)


def _timeline_marks(deployments: pl.DataFrame, incidents: pl.DataFrame
                    ) -> tuple[dict[str, pl.DataFrame], dict[str, str]]:
    """The rows each marker trace of the timeline draws, with their `team`, and the timeline's
    caption of each team, for all teams."""
    marks = {f"deployment:{role}": frame for role, frame in marker_sets(
        deployments.select("team").hstack(deployment_marks(deployments))).items()}
    marks["incidents"] = incidents.select("team").hstack(incident_marks(incidents))
    return marks, timeline_summaries(deployments, incidents)


# What `load_teams` tells as each table comes in (a stage name and a team's share of it), so
# the caller can work out the parts of the first pages that need only what is in already.
Ready = Callable[[str, Callable[[str], Any]], None]


def load_teams(conn: duckdb.DuckDBPyConnection, overview: Overview, teams: list[str] | None,
               record_sets: dict[str, str], ready: Ready | None = None) -> TeamsData:
    """Everything the pages of `teams` (None: every team) show: one query per table, split;
    the records of the record sets of `record_sets` (metric → the registry's `record_set`,
    for each metric a page opens). The timeline's markers and the records, drawn from many
    rows on every page, are worked out for all the teams at once, each by a thread: the
    markers while the other tables are read, the records (`RecordsFeed`, which reads them too,
    on a cursor of its own, while the other tables are read) while the pages are built.

    `ready(stage, of)` is called (in this thread) as each stage is in, `of(team)` giving the
    team's share: "reorganisations" (its frame), "slos" and "breakdown" (frames, read while a
    thread works out the timeline's markers), then "timeline" (its deployments, incidents,
    their `marker_sets`, `incident_marks` and `timeline_summary`)."""
    wanted = None if teams is None else list(teams)
    every = wanted if wanted is not None else overview.teams + [UNASSIGNED]
    tell: Ready = ready or (lambda _stage, _of: None)
    feed = None
    if has_relation(conn, "team_metric_records"):
        # the records (the most rows) on a cursor of their own, read and worked out by a
        # thread while this one reads the other tables
        cursor = OwnCursor(conn)
        sets = sorted(set(record_sets.values()))

        def records() -> pl.DataFrame:
            return cursor.run(lambda c: query(c, "report_records", teams=wanted, sets=sets))

        feed = RecordsFeed(records, every, interrupt=cursor.interrupt)
    try:
        # the reorganisations first (a few rows): every dated figure of a page marks them
        reorganisations = Slices(load_reorganisations(conn, wanted), "team")
        tell("reorganisations", reorganisations.of)
        tables = {name: query(conn, f"report_{name}", teams=wanted)
                  for name in ("deployments", "incidents")}
        # the timeline's markers (each trace's rows, for every team in one pass) worked out by
        # a thread while the other tables are read: polars and DuckDB work without Python's lock
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="report-marks") as pool:
            marking = pool.submit(_timeline_marks, tables["deployments"], tables["incidents"])
            slos = Slices(query(conn, "report_slos", teams=wanted), "team")
            tell("slos", slos.of)
            breakdown = Slices(query(conn, "report_breakdown", teams=wanted), "team")
            tell("breakdown", breakdown.of)
            marks, summaries = marking.result()
        deployments, incidents = (Slices(tables[name], "team")
                                  for name in ("deployments", "incidents"))
        marked = {name: Slices(frame, "team") for name, frame in marks.items()}
        no_deployments = timeline_summary(deployments.of(None), incidents.of(None))

        def timeline_of(team: str) -> tuple[pl.DataFrame, pl.DataFrame,
                                             dict[str, pl.DataFrame], pl.DataFrame, str]:
            # the marks keep their `team` column, unread
            return (deployments.of(team), incidents.of(team),
                    {role: marked[f"deployment:{role}"].of(team) for role in MARKER_SETS},
                    marked["incidents"].of(team), summaries.get(team, no_deployments))

        tell("timeline", timeline_of)
    except BaseException:
        if feed is not None:  # no page will ask for the records: their reading is stopped
            feed.stop()
        raise
    finally:
        if feed is not None:  # the cursor closed before the connection it came from
            feed.read()

    def team_data(team: str) -> TeamData:
        deployments, incidents, drawn, inc, summary = timeline_of(team)
        return TeamData(
            team=team,
            weekly=overview.metrics_of(team, "week"),
            monthly=overview.metrics_of(team, "month"),
            breakdown=breakdown.of(team),
            deployments=deployments,
            incidents=incidents,
            slos=slos.of(team),
            coverage=overview.coverage_of(team),
            reorganisations=reorganisations.of(team),
            feed=feed,
            deployment_marks=drawn,
            incident_marks=inc,
            timeline_summary=summary,
        )

    return TeamsData(every, team_data, feed)


class TeamsData(Mapping[str, TeamData]):
    """The data of each team's page, each team's taken out of the tables when asked for (in
    the pages' thread, see `Slices`)."""

    def __init__(self, teams: list[str], make: Callable[[str], TeamData],
                 feed: RecordsFeed | None = None) -> None:
        self._teams = dict.fromkeys(teams)
        self._make = make
        self._feed = feed

    def stop(self) -> None:
        """The pages are given up: the records of the teams not yet worked out never will be."""
        if self._feed is not None:
            self._feed.stop()

    def __getitem__(self, team: str) -> TeamData:
        if team not in self._teams:
            raise KeyError(team)
        return self._make(team)

    def __iter__(self) -> Iterator[str]:
        return iter(self._teams)

    def __len__(self) -> int:
        return len(self._teams)
