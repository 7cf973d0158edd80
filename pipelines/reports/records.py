"""The records behind every clickable point of a team page, as compact, columnar JSON.

The numbering, the cells and the long arrays of numbers are worked out for every team being
written in a few polars passes (`prepare_records`), so a page only slices its share and encodes
it (`records_json`): a page of few records costs next to nothing, whatever the number of teams.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import polars as pl

from pipelines.reports.page import inert_json

_KEYS = ["record_kind", "record_id", "detail"]
# Page order: team, record set, grain, period, then as a records table lists a cell's rows
# (records with a detail first, longest first, then by id), nulls last as in DuckDB.
_ORDER = ["team", "record_set", "grain", "period_start", pl.col("detail").is_null(),
          "value_hours", "record_id"]
_DESCENDING = [False, False, False, False, False, True, False]


def page_order(records: pl.DataFrame) -> pl.DataFrame:
    """Rows of `report_records` sorted into page order (polars sorts them in about half the
    time DuckDB's ORDER BY takes; a long history reads hundreds of thousands of rows)."""
    return records.sort(_ORDER, descending=_DESCENDING, nulls_last=True, maintain_order=True)


@dataclass
class TeamRecords:
    """One team's records, ready to encode (see `records_json`)."""

    rows: str  # each row's record index, comma-joined, cell after cell
    hours: str  # each row's hours (3 decimals; `null` when there are none), likewise
    # the JSON inside the arrays and the object of `records_json`, inert (see `_json_text`):
    kinds: str = ""  # the distinct record kinds
    kind: str = ""  # per distinct record, its kind's index in `kinds`
    ids: str = ""  # per distinct record, its id
    details: str = ""  # per distinct record, its detail (`null` when none)
    cells: str = ""  # "record set|grain|period": [first position in rows, how many], ...


def prepare_records(records: pl.DataFrame, teams: list[str]) -> dict[str, TeamRecords]:
    """The records of each of `teams`, from their rows of `report_records` in `page_order` (or
    at least each team's rows together and in that order), worked out for all of them at
    once."""
    # each team's distinct records once, numbered by their place among its distinct
    # (kind, id, detail); rows keep their place relative to the team's first row. Teams are
    # runs of rows (sorted by team): `t` numbers them, and integers group faster than names.
    hours = pl.col("value_hours").round(3)
    team = pl.col("team")
    numbered = records.with_row_index("row").with_columns(
        (team != team.shift()).fill_null(True).cum_sum().cast(pl.Int64).alias("t"))
    numbered = numbered.with_columns(
        pl.struct(_KEYS).rank("dense").over("t").cast(pl.Int64).sub(1).alias("i"),
        pl.col("row") - pl.col("row").min().over("t"))
    # the two long arrays of numbers, written by polars (Python's float repr is slow)
    numbers = numbered.group_by("t", maintain_order=True).agg(
        team.first(), pl.col("i").cast(pl.String).str.join(",").alias("rows"),
        pl.when(hours.is_finite()).then(hours.cast(pl.String)).otherwise(pl.lit("null"))
        .str.join(",").alias("hours")).drop("t")
    key = pl.col("t") * (1 << 32) + pl.col("i")  # a team's records in order, teams in order
    # each team's table of distinct records, written as JSON here, for all the teams at once
    # (in the records' thread: a page only joins the texts)
    table = (numbered.filter(key.is_first_distinct()).sort(key)
             .group_by("t", maintain_order=True).agg(
                 team.first(),
                 # in (kind, id, detail) order, so the kinds come sorted, as `kind` counts
                 _json_text(pl.col("record_kind")).unique(maintain_order=True).str.join(",")
                 .alias("kinds"),
                 pl.col("record_kind").rank("dense").cast(pl.Int64).sub(1).cast(pl.String)
                 .str.join(",").alias("kind"),
                 _json_text(pl.col("record_id")).str.join(",").alias("ids"),
                 _json_text(pl.col("detail")).str.join(",").alias("details"))
             .drop("t"))
    cells = (numbered.group_by("t", "record_set", "grain", "period_start", maintain_order=True)
             .agg(team.first(), pl.col("row").first().alias("first"), pl.len().alias("n"))
             .group_by("t", maintain_order=True).agg(
                 team.first(),
                 pl.concat_str([_json_text(pl.concat_str(
                     [pl.col("record_set"), pl.col("grain"),
                      pl.col("period_start").dt.to_string("%Y-%m-%d")], separator="|")),
                     pl.lit(":["), pl.col("first").cast(pl.String), pl.lit(","),
                     pl.col("n").cast(pl.String), pl.lit("]")]).str.join(",").alias("cells"))
             .drop("t"))
    text = {team: (rows, hrs) for team, rows, hrs in numbers.rows()}
    tables = {row[0]: row[1:] for row in table.rows()}
    cell_text = dict(cells.rows())
    none = ("", "", "", "")
    return {team: TeamRecords(*text.get(team, ("", "")), *tables.get(team, none),
                              cells=cell_text.get(team, ""))
            for team in teams}


def _json_text(value: pl.Expr) -> pl.Expr:
    """Each string (or null) of `value` as JSON, inert inside a script like `inert_json`'s:
    polars escapes as orjson does, and every `<` is written `\\u003c`."""
    return (pl.struct(value.alias("v")).struct.json_encode()  # {"v":...}
            .str.slice(5).str.head(-1).str.replace_all("<", "\\u003c", literal=True))


# Rows of records worked out together by `RecordsFeed`: enough that a run's fixed cost (a few
# polars passes) is small next to its rows, few enough that the first pages need not wait long.
RUN_ROWS = 150_000


class RecordsFeed:
    """The records of each of `teams` (rows of `report_records`, in any order, or what reads
    them), worked out by a thread while the pages are built: the rows are read, put in
    `page_order`, then `prepare_records` runs over runs of teams (of about `run_rows` rows), in
    the order of `teams` (the order the pages are written in).

    Polars works without Python's lock, so on a machine with a core to spare the records of the
    next pages are ready by the time a page needs them (`get` waits for them otherwise).

    `interrupt`, when given, stops the reading of the rows (see `stop`)."""

    def __init__(self, records: pl.DataFrame | Callable[[], pl.DataFrame], teams: list[str],
                 run_rows: int = RUN_ROWS, interrupt: Callable[[], None] | None = None) -> None:
        self._interrupt = interrupt
        self._ready: dict[str, TeamRecords] = {}
        self._failed: BaseException | None = None
        self._done = False
        self._read = threading.Event()  # set once the rows are read (or could not be)
        self._stop = threading.Event()  # set when the pages are given up
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._work, args=(records, list(teams), run_rows),
                                        name="report-records", daemon=True)
        self._thread.start()

    def get(self, team: str) -> TeamRecords:
        """`team`'s records, once worked out (the thread's error, if it failed)."""
        with self._changed:
            self._changed.wait_for(lambda: team in self._ready or self._done)
            if team in self._ready:
                return self._ready[team]
            raise RuntimeError(f"the records of {team!r} could not be worked out"
                               ) from self._failed

    def read(self) -> None:
        """Wait until the rows are read (done with what read them; not with working them out).
        Once the feed is stopped, the reading is interrupted again every 0.1 s until it ends:
        an interrupt that comes just before the query starts is lost."""
        while not self._read.wait(None if self._interrupt is None else 0.1):
            self._interrupt_read()

    def stop(self) -> None:
        """Work out no more teams: the pages that would show them were given up (a page or a
        table failed, or the run was interrupted). A `get` after this may raise. Rows still
        being read are interrupted (`read` waits for that to end)."""
        self._stop.set()
        self._interrupt_read()

    def _interrupt_read(self) -> None:
        """Interrupt the reading of the rows when the feed is stopped and it is still going."""
        interrupt = self._interrupt
        if interrupt is not None and self._stop.is_set() and not self._read.is_set():
            interrupt()

    def _work(self, records: pl.DataFrame | Callable[[], pl.DataFrame], teams: list[str],
              run_rows: int) -> None:
        try:
            try:
                frame = records() if callable(records) else records
            finally:
                self._read.set()
            ordered = page_order(frame)
            at = _spans(ordered)
            run: list[str] = []
            rows = 0
            for i, team in enumerate(teams):
                if self._stop.is_set():
                    raise RuntimeError("stopped: the report pages were given up")
                run.append(team)
                rows += at.get(team, (0, 0))[1]
                if rows >= run_rows or i == len(teams) - 1:
                    found = prepare_records(_rows_of(ordered, at, run), run)
                    with self._changed:
                        self._ready.update(found)
                        self._changed.notify_all()
                    run, rows = [], 0
        except BaseException as exc:  # noqa: BLE001 - raised in the page's thread by `get`
            self._failed = exc
        finally:
            with self._changed:
                self._done = True
                self._changed.notify_all()


def _rows_of(ordered: pl.DataFrame, at: dict[str, tuple[int, int]],
             teams: list[str]) -> pl.DataFrame:
    """The rows of `teams`, team after team in that order, from `ordered` (sorted by team; `at`
    its `_spans`): one slice when they sit there in that order (no copy), else their slices
    joined (a team's place among the sorted rows need not be its place among the pages)."""
    spans = [at[t] for t in teams if t in at]
    if not spans:
        return ordered.clear()
    if all(a[0] + a[1] == b[0] for a, b in pairwise(spans)):
        return ordered.slice(spans[0][0], sum(n for _, n in spans))
    return pl.concat([ordered.slice(*span) for span in spans])


def _spans(frame: pl.DataFrame) -> dict[str, tuple[int, int]]:
    """Where each team's rows sit in `frame` (sorted by team): team → (first row, rows)."""
    found = (frame.select("team").with_row_index("row")
             .group_by("team", maintain_order=True).agg(pl.col("row").first(), pl.len()))
    return {team: (row, n) for team, row, n in found.rows()}


def records_json(records: TeamRecords, sets: dict[str, str]) -> bytes:
    """The records behind every clickable point of one team's page, compact and columnar
    (flat arrays encode and decode fast, whatever the number of records):

    - `kinds`: the distinct record kinds; `kind`, `id`, `detail`: one entry per distinct
      (kind, id, detail), the kind as its index in `kinds`;
    - `rows`, `hours`: per cell, its record indexes and hours, cell after cell, in the order
      the table lists them;
    - `cells`: "record set|grain|period" → [first position in `rows`, how many];
    - `sets`: the record set of each metric a click can open (`sets`).

    Inert inside a script."""
    return b"".join([
        b'{"rows":[', records.rows.encode(), b'],"hours":[', records.hours.encode(),
        b'],"kinds":[', records.kinds.encode(), b'],"kind":[', records.kind.encode(),
        b'],"id":[', records.ids.encode(), b'],"detail":[', records.details.encode(),
        b'],"sets":', inert_json(sets), b',"cells":{', records.cells.encode(), b"}}"])
