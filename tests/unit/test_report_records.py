"""The records a page opens, worked out in page order, by runs of teams, in a thread; the
timeline's markers; pages written behind."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.reports.figures import deployment_marks, timeline_summaries, timeline_summary
from pipelines.reports.page import written_behind
from pipelines.reports.queries import OwnCursor
from pipelines.reports.records import RecordsFeed, page_order, prepare_records, records_json

SCHEMA = {"team": pl.String, "grain": pl.String, "period_start": pl.Date,
          "record_set": pl.String, "record_kind": pl.String, "record_id": pl.String,
          "value_hours": pl.Float64, "detail": pl.String}
WEEK = dt.date(2025, 3, 3)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def test_a_cell_lists_records_with_a_detail_first_then_longest_then_by_id() -> None:
    # given in no order; one change appears in two cells (week and month), counted once
    rows = _frame([
        ("a", "week", WEEK, "changes", "change", "c2", 1.0, "PR 2"),
        ("a", "week", WEEK, "changes", "change", "c3", None, None),
        ("a", "month", dt.date(2025, 3, 1), "changes", "change", "c1", 5.0, "PR 1"),
        ("a", "week", WEEK, "changes", "change", "c1", 5.0, "PR 1"),
        ("a", "week", WEEK, "changes", "change", "c0", 1.0, "PR 0"),
    ])
    found = prepare_records(page_order(rows), ["a"])["a"]
    page = json.loads(records_json(found, {"lead_time_p50_hours": "changes"}))
    # distinct records in (kind, id, detail) order: c0, c1, c2, c3
    assert page["id"] == ["c0", "c1", "c2", "c3"]
    assert page["kinds"] == ["change"] and page["kind"] == [0, 0, 0, 0]
    # the month cell first (grain order), then the week: c1 (5 h), c0 and c2 (1 h, by id), c3
    assert page["rows"] == [1, 1, 0, 2, 3]
    assert page["hours"] == [5.0, 5.0, 1.0, 1.0, None]
    assert page["cells"] == {"changes|month|2025-03-01": [0, 1], "changes|week|2025-03-03": [1, 4]}


def _records(data: st.DataObject) -> pl.DataFrame:
    team = st.sampled_from(["a", "B", "b", "unassigned", "Zed", "é"])
    row = st.tuples(team, st.sampled_from(["week", "month"]),
                    st.sampled_from([WEEK, dt.date(2025, 3, 10)]),
                    st.sampled_from(["changes", "deployments"]),
                    st.sampled_from(["change", "deployment"]),
                    st.sampled_from(["x1", "x2", "x3", "<y>"]),
                    st.one_of(st.none(), st.sampled_from([0.5, 2.25, 7.0])),
                    st.one_of(st.none(), st.sampled_from(["d", "e"])))
    rows = data.draw(st.lists(row, max_size=40))
    # one row per (team, cell, id), as in the records table: no two rows tie in page order
    unique = {(r[0], r[1], r[2], r[3], r[5]): r for r in rows}
    return _frame(list(unique.values()))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_the_feed_gives_each_team_what_all_teams_at_once_give(data: st.DataObject) -> None:
    """Runs of a few rows, teams asked for in page order (not the rows' sorted order), a team
    without rows: each team's records encode as when worked out for all teams together."""
    frame = _records(data)
    teams = data.draw(st.permutations(["a", "B", "b", "Zed", "é", "unassigned", "none"]))
    whole = prepare_records(page_order(frame), teams)
    feed = RecordsFeed(frame.sample(fraction=1.0, shuffle=True, seed=3), teams,
                       run_rows=data.draw(st.integers(1, 12)))
    sets = {"m": "changes"}
    for team in teams:
        assert records_json(feed.get(team), sets) == records_json(whole[team], sets), team


def test_the_feed_raises_its_error_where_the_records_are_asked_for() -> None:
    feed = RecordsFeed(_frame([("a", "week", WEEK, "changes", "change", "c", 1.0, None)])
                       .drop("detail"), ["a"])
    with pytest.raises(RuntimeError, match="'a'"):
        feed.get("a")


def test_a_feed_reads_its_rows_in_its_thread_and_says_when_they_are_read() -> None:
    """Given what reads the rows (a cursor's query, in the pages' run), the feed reads them in
    its thread: the same records as given the rows; `read` returns once they are read, and a
    reader's error is raised where the records are asked for."""
    frame = _frame([("a", "week", WEEK, "changes", "change", "c", 1.0, None),
                    ("b", "week", WEEK, "changes", "change", "d", None, "PR 1")])
    sets = {"m": "changes"}
    whole = prepare_records(page_order(frame), ["a", "b"])
    feed = RecordsFeed(lambda: frame, ["b", "a"], run_rows=1)
    feed.read()
    for team in ("a", "b"):
        assert records_json(feed.get(team), sets) == records_json(whole[team], sets)

    def broken() -> pl.DataFrame:
        raise OSError("the warehouse went away")

    failed = RecordsFeed(broken, ["a"])
    failed.read()  # returns: the reader is done, if not well
    with pytest.raises(RuntimeError, match="'a'"):
        failed.get("a")


def test_a_stopped_feed_works_out_no_more_teams() -> None:
    """Pages given up stop the feed: it works out no team after the stop (here it is stopped
    while its rows are still being read, so it works out none) and says so when asked."""
    frame = _frame([("a", "week", WEEK, "changes", "change", "c", 1.0, None),
                    ("b", "week", WEEK, "changes", "change", "d", 2.0, None)])
    reading = threading.Event()
    go_on = threading.Event()

    def rows() -> pl.DataFrame:
        reading.set()
        assert go_on.wait(120)
        return frame

    feed = RecordsFeed(rows, ["a", "b"], run_rows=1)
    assert reading.wait(120)
    feed.stop()
    go_on.set()
    for team in ("a", "b"):
        with pytest.raises(RuntimeError, match=f"'{team}'") as raised:
            feed.get(team)
        assert "given up" in str(raised.value.__cause__)


# Far more rows than any machine counts in a test's time: only an interrupt ends this read.
ENDLESS = "SELECT count(*) AS n FROM range(10000000000000) t(i) WHERE i % 7 = 3"


def test_a_stopped_feed_interrupts_the_reading_of_its_rows() -> None:
    """The records are read on a cursor of their own (as `load_teams` does); the pages given up
    while that read is going stop it (DuckDB's interrupt) rather than wait for every row. The
    stop may come just before the query starts, when DuckDB loses an interrupt: `read` sends it
    again until the reading has ended."""
    conn = duckdb.connect()
    own = OwnCursor(conn)
    reading = threading.Event()

    def rows() -> pl.DataFrame:
        reading.set()
        return own.run(lambda c: pl.DataFrame(c.sql(ENDLESS)))

    feed = RecordsFeed(rows, ["a"], interrupt=own.interrupt)
    assert reading.wait(120)
    feed.stop()
    waiting = threading.Thread(target=feed.read, daemon=True)
    waiting.start()
    waiting.join(120)  # a bound on a hang, not a timing: uninterrupted, this read never ends
    assert not waiting.is_alive(), "the reading of the records was not interrupted"
    with pytest.raises(RuntimeError, match="'a'") as raised:
        feed.get("a")
    assert isinstance(raised.value.__cause__, duckdb.InterruptException)
    own.interrupt()  # the cursor is closed now: nothing to stop, and no error
    assert conn.execute("SELECT 42").fetchall() == [(42,)]  # its connection is fine
    conn.close()


def test_a_stop_that_comes_before_the_query_starts_still_interrupts_it() -> None:
    """DuckDB forgets an interrupt sent before its query starts: stopped first, the feed's
    rows are only then read, and `read` interrupts them all the same."""
    conn = duckdb.connect()
    own = OwnCursor(conn)
    go_on = threading.Event()

    def rows() -> pl.DataFrame:
        assert go_on.wait(120)
        return own.run(lambda c: pl.DataFrame(c.sql(ENDLESS)))

    feed = RecordsFeed(rows, ["a"], interrupt=own.interrupt)
    feed.stop()  # the cursor is idle: this interrupt is lost
    go_on.set()
    waiting = threading.Thread(target=feed.read, daemon=True)
    waiting.start()
    waiting.join(120)
    assert not waiting.is_alive(), "an interrupt sent before the query began was not repeated"
    with pytest.raises(RuntimeError, match="'a'") as raised:
        feed.get("a")
    assert isinstance(raised.value.__cause__, duckdb.InterruptException)
    conn.close()


def test_pages_written_behind_are_all_written(tmp_path: Path) -> None:
    with written_behind() as write:
        for i in range(5):
            write(tmp_path / f"page-{i}.html", f"page {i}".encode())
    assert sorted(p.read_text() for p in tmp_path.glob("page-*.html")) == [
        f"page {i}" for i in range(5)]


def test_a_page_that_cannot_be_written_fails_the_block(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(OSError), written_behind() as write:
        write(tmp_path / "file" / "page.html", b"x")


def _deployments(rows: list[dict]) -> pl.DataFrame:
    base = {"team": "t", "id": "d", "service": "api", "revision": None,
            "finished_at_utc": dt.datetime(2025, 3, 5, 14, 7), "baseline": False,
            "failed": False, "failure_reasons": None, "rework": False, "rework_reasons": None,
            "rolls_back": None, "fixes": None, "incident_ids": None, "restored_at_utc": None,
            "fdrt_hours": None, "hotfix": False}
    return pl.DataFrame([{**base, **r} for r in rows], schema_overrides={
        "failure_reasons": pl.List(pl.String), "rework_reasons": pl.List(pl.String),
        "incident_ids": pl.List(pl.String), "revision": pl.String, "rolls_back": pl.String,
        "fixes": pl.String, "fdrt_hours": pl.Float64,
        "restored_at_utc": pl.Datetime("us")})


def test_a_deployments_optional_lines_stay_with_it() -> None:
    """Only some rows have optional lines (written for those rows alone): each lands on its
    own deployment's hover, escaped; the rows without them get the three lines every marker
    has."""
    marks = deployment_marks(_deployments([
        {"id": "plain-1", "revision": "abcdef0123456789"},
        {"id": "<bad>", "failed": True, "failure_reasons": ["health & checks"],
         "fdrt_hours": 2.25, "incident_ids": ["INC-1"]},
        {"id": "plain-2", "rolls_back": "d<0>"},
        {"id": "plain-3", "baseline": True},
    ]))
    assert marks["hover"].to_list() == [
        "<b>plain-1</b><br>api · 2025-03-05 14:07 UTC<br>revision abcdef012345",
        "<b>&lt;bad&gt;</b><br>api · 2025-03-05 14:07 UTC<br>revision unknown<br>"
        "failed: health &amp; checks; restored after 2.2 h<br>incidents: INC-1",
        "<b>plain-2</b><br>api · 2025-03-05 14:07 UTC<br>revision unknown<br>"
        "rolls back d&lt;0&gt;",
        "<b>plain-3</b><br>api · 2025-03-05 14:07 UTC<br>revision unknown<br>"
        "first deployment (baseline)",
    ]
    assert marks["kind"].to_list() == ["deployment", "deployment", "rollback", "deployment"]
    assert marks["x"].to_list() == ["2025-03-05 14:07"] * 4
    assert marks["week"].to_list() == ["2025-03-03"] * 4


def test_the_timeline_caption_counts_the_same_for_all_teams_as_for_one() -> None:
    """Counted for every team at once (with the markers) or for one team's rows, the caption
    reads the same: nulls count as not, a team without incidents has none, and a team without
    deployments is left to the one-team sentence."""
    deployments = _deployments([
        {"team": "a", "id": "a1", "failed": True, "rework_reasons": ["implicit_rollback"]},
        {"team": "a", "id": "a2", "failed": None, "fixes": "a1"},
        {"team": "a", "id": "a3", "hotfix": True, "rolls_back": "a2"},
        {"team": "b", "id": "b1"},
    ])
    incidents = pl.DataFrame({"team": ["a", "a", "c"], "resolved_at_utc": [
        dt.datetime(2025, 3, 6), None, None]}, schema_overrides={
        "resolved_at_utc": pl.Datetime("us")})
    every = timeline_summaries(deployments, incidents)
    assert every == {
        "a": "3 deployments, 1 failed; 2 rollbacks, 2 fixes or hotfixes; 2 incidents "
             "(1 not resolved).",
        "b": "1 deployments, 0 failed; 0 rollbacks, 0 fixes or hotfixes; 0 incidents "
             "(0 not resolved)."}
    for team in ("a", "b", "c"):
        one = timeline_summary(deployments.filter(pl.col("team") == team),
                               incidents.filter(pl.col("team") == team))
        assert every.get(team, "No production deployments recorded.") == one, team


@settings(max_examples=60, deadline=None)
@given(ids=st.lists(st.text(max_size=12), min_size=1, max_size=8, unique=True),
       detail=st.one_of(st.none(), st.text(max_size=20)),
       kind=st.text(min_size=1, max_size=6))
def test_any_record_text_reads_back_as_stored_and_holds_no_lt(ids: list[str],
                                                              detail: str | None,
                                                              kind: str) -> None:
    """The records' JSON is written by polars, not orjson: any id, detail or kind (quotes,
    backslashes, control characters, `</script>`, any language) reads back as stored, and
    no `<` is left to end the script."""
    rows = _frame([("a", "week", WEEK, "s<", kind, i, None, detail) for i in ids])
    text = records_json(prepare_records(page_order(rows), ["a"])["a"], {"m": "s<"})
    page = json.loads(text)
    assert b"<" not in text
    assert page["id"] == sorted(ids)
    assert page["detail"] == [detail] * len(ids)
    assert page["kinds"] == [kind]
    assert page["cells"] == {"s<|week|2025-03-03": [0, len(ids)]}
    assert page["sets"] == {"m": "s<"}
