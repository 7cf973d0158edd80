"""How the report pages are said as they land (pipelines.reports.run.PageProgress): each page
for a small organisation, a count every two seconds for a large one."""

from __future__ import annotations

from pathlib import Path

from pipelines.reports.run import PAGES_SAID, PROGRESS_SECONDS, PageProgress, TeamReport


def _page(i: int) -> TeamReport:
    return TeamReport(team=f"t{i}", path=Path(f"team-t{i}.html"), glance=[], trends=[],
                      directions=[])


def test_each_page_is_said_up_to_the_limit() -> None:
    said: list[str] = []
    told = PageProgress(said.append, 3)
    for i in (1, 2, 3):
        told.landed(_page(i))
    assert said == ["reports: t1 (1/3) → team-t1.html", "reports: t2 (2/3) → team-t2.html",
                    "reports: t3 (3/3) → team-t3.html"]
    assert list(told.reports) == ["t1", "t2", "t3"]


def test_many_pages_are_counted_every_two_seconds_and_at_the_end() -> None:
    """250 pages landing half a second apart: a count when two seconds have passed since the
    last one (pages 4, 8, ..., 248: 62 lines) and one when the last page is in (250)."""
    assert PAGES_SAID < 250 and PROGRESS_SECONDS == 2.0
    now = [0.0]
    said: list[str] = []
    told = PageProgress(said.append, 250, clock=lambda: now[0])
    for i in range(1, 251):
        now[0] = 0.5 * i
        told.landed(_page(i))
    assert len(said) == 63
    assert said[:2] == ["reports: 4 of 250 team pages written",
                        "reports: 8 of 250 team pages written"]
    assert said[-2:] == ["reports: 248 of 250 team pages written",
                         "reports: 250 of 250 team pages written"]
    assert len(told.reports) == 250


def test_without_progress_the_pages_are_still_kept() -> None:
    told = PageProgress(None, 2)
    told.landed(_page(1))
    told.landed(_page(2))
    assert [r.path.name for r in told.reports.values()] == ["team-t1.html", "team-t2.html"]


def test_a_workers_page_reaches_the_parent_whole() -> None:
    """The JSON line a report worker prints gives back the same report: every field, the path
    a `Path`, and text a user typed (a team name with quotes, markup and non-ASCII) unchanged."""
    report = TeamReport(team='Zoë "<b>core</b>"', path=Path("/r/team-zoe-core.html"),
                        glance=[{"title": "Lead time", "value": "2.5 h", "sample": 12}],
                        trends=["improving"], directions=["down"])
    line = report.to_json()
    assert "\n" not in line
    back = TeamReport.from_json(line.encode())
    assert back == report and isinstance(back.path, Path)
